package sim

import (
	"context"
	"fmt"

	"github.com/dqtest/dqtest/detect"
	"github.com/dqtest/dqtest/harness"
	"github.com/dqtest/dqtest/history"
	"github.com/dqtest/dqtest/mode"
	"github.com/dqtest/dqtest/nemesis"
	"github.com/dqtest/dqtest/scenario"
	"github.com/dqtest/dqtest/verdict"
)

// ConfigFor is the simulated run of a resolved scenario (as LoadScenario
// returns it) with bug injected ("" for none): the same workload and
// parameters, the same nemesis plan from the same seed, applied by the same
// Applier as the docker backend uses.
func ConfigFor(rs *scenario.Resolved, bug string) (Config, error) {
	sc := rs.Scenario
	if err := Supports(sc); err != nil {
		return Config{}, err
	}
	if err := checkBug(bug); err != nil {
		return Config{}, err
	}
	return Config{
		Nodes:             sc.Nodes,
		Workload:          rs.Workload,
		Params:            sc.Workload.Params,
		Concurrency:       sc.Concurrency,
		Rate:              sc.Rate,
		Duration:          sc.TimeLimit,
		Seed:              sc.Seed,
		Plan:              rs.Plan,
		Applier:           nemesis.NewApplier(),
		Bug:               bug,
		OpTimeout:         sc.OpTimeout,
		RecoveryTimeout:   sc.RecoveryTimeout,
		FinalReadsTimeout: sc.FinalReadsTimeout,
	}, nil
}

// Simulator is the harness's Simulator for this simulator, with bug
// injected ("" for none): `dqtest run --backend sim [--sim-bug name]`.
func Simulator(bug string) harness.Simulator { return simulator{bug: bug} }

type simulator struct{ bug string }

func (s simulator) Simulate(ctx context.Context, rs *scenario.Resolved, record func(history.Event) error) (verdict.Observations, error) {
	cfg, err := ConfigFor(rs, s.bug)
	if err != nil {
		return verdict.Observations{}, err
	}
	cfg.Record = recordFunc(record)
	sum, err := Run(ctx, cfg)
	return sum.Observations(), err
}

func (s simulator) Supports(sc scenario.Scenario) error { return Supports(sc) }

// Capabilities are the fault capabilities the simulator models: the core
// ones (node lifecycle with a guarded stop, partitions, leadership and
// membership), not disks, packet loss, held transactions or the real stop
// path of never-started nodes.
func Capabilities() []nemesis.Capability { return nemesis.CoreCapabilities() }

// Supports says whether the simulator can model sc: it refuses, naming the
// field, a fault it has no model of, node_args (flags of the real node),
// a stop mode other than guarded (it models a guarded stop; the
// crash-on-double-stop bug stands in for the unguarded one), direct clients
// (it models no transport) and data_dir_size (it has no disks). A scenario
// it refuses is never run with those parts ignored.
func Supports(sc scenario.Scenario) error {
	refuse := func(field, format string, args ...any) error {
		return &harness.UnsupportedError{Backend: "simulator", Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	if err := nemesis.Missing(sc.Nemesis, "simulator", Capabilities()); err != nil {
		return refuse("nemesis.faults", "%v", err)
	}
	if len(sc.NodeArgs) > 0 {
		return refuse("node_args", "it has no real node to pass flags to")
	}
	if sc.Dqlite.HasSettings() {
		return refuse("dqlite", "%v: it has no C dqlite node to set them on", sc.Dqlite.NodeFlags())
	}
	if sc.StopMode != mode.Guarded {
		return refuse("stop_mode", "%s: it models the guarded stop only (its crash-on-double-stop bug stands in for the unguarded one)", sc.StopMode)
	}
	if sc.Client != mode.ClientNode {
		return refuse("client", "%s: it models no transport between clients and nodes", sc.Client)
	}
	if sc.DataDirSize != "" {
		return refuse("data_dir_size", "it has no disks")
	}
	return nil
}

// recordFunc adapts a function to Recorder.
type recordFunc func(history.Event) error

func (f recordFunc) Write(e history.Event) (history.Event, error) { return e, f(e) }

// NodeReports are the nodes' logs and exits as the harness's crash
// detector reads them.
func (s Summary) NodeReports() []detect.NodeReport {
	reports := make([]detect.NodeReport, len(s.Nodes))
	for i, n := range s.Nodes {
		reports[i] = detect.NodeReport{
			Node: n.Name,
			Exit: detect.NodeExit{Running: n.Running, ExitCode: n.ExitCode, Signal: n.Signal, Restarts: n.Restarts},
			Log:  n.Log,
		}
	}
	return reports
}

// Observations are what the simulated run saw beyond its history, in the
// shape the verdict reads: the nodes' logs and exits, the recovery after
// healing (in virtual time) and every node's own end state. A run that
// ended in an error (no healing reached) has no recovery figure.
func (s Summary) Observations() verdict.Observations {
	obs := verdict.Observations{Nodes: s.NodeReports()}
	if s.End > 0 && s.Steps > 0 {
		obs.Recovery = &verdict.Recovery{Recovered: s.Recovered, Seconds: s.RecoveryTime.Seconds()}
		if !s.Recovered {
			obs.Recovery.Error = "no leader followed by every live node within the recovery timeout (simulated)"
		}
	}
	for _, n := range s.Nodes {
		if n.State == nil {
			obs.States = nil
			break
		}
		obs.States = append(obs.States, *n.State)
	}
	return obs
}
