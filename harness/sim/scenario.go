package sim

import (
	"context"

	"github.com/dqtest/dqtest/detect"
	"github.com/dqtest/dqtest/harness"
	"github.com/dqtest/dqtest/history"
	"github.com/dqtest/dqtest/nemesis"
	"github.com/dqtest/dqtest/scenario"
)

// ConfigFor is the simulated run of a resolved scenario (as LoadScenario
// returns it) with bug injected ("" for none): the same workload and
// parameters, the same nemesis plan from the same seed, applied by the same
// Applier as the docker backend uses.
func ConfigFor(rs *scenario.Resolved, bug string) (Config, error) {
	sc := rs.Scenario
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

// Simulator is the harness's SimulateFunc for this simulator, with bug
// injected ("" for none): `dqtest run --backend sim [--sim-bug name]`.
func Simulator(bug string) harness.SimulateFunc {
	return func(ctx context.Context, rs *scenario.Resolved, record func(history.Event) error) ([]detect.NodeReport, error) {
		cfg, err := ConfigFor(rs, bug)
		if err != nil {
			return nil, err
		}
		cfg.Record = recordFunc(record)
		sum, err := Run(ctx, cfg)
		return sum.NodeReports(), err
	}
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
