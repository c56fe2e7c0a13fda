package sim

import (
	"context"
	"fmt"

	"github.com/dqtest/dqtest/harness"
	"github.com/dqtest/dqtest/history"
	"github.com/dqtest/dqtest/nemesis"
	"github.com/dqtest/dqtest/workloads"
)

// ConfigFor is the simulated run of a resolved scenario (as LoadScenario
// returns it) with bug injected ("" for none): the same workload and
// parameters, the same nemesis plan from the same seed, applied by the same
// Applier as the docker backend uses.
func ConfigFor(sc harness.Scenario, bug string) (Config, error) {
	w, err := workloads.New(sc.Workload.Name, sc.Workload.Params)
	if err != nil {
		return Config{}, fmt.Errorf("scenario %s: %w", sc.Name, err)
	}
	plan, err := nemesis.Plan(sc.Nemesis, harness.NodeNames(sc.Nodes), sc.TimeLimit, sc.Seed)
	if err != nil {
		return Config{}, fmt.Errorf("scenario %s: nemesis: %w", sc.Name, err)
	}
	if err := checkBug(bug); err != nil {
		return Config{}, err
	}
	return Config{
		Nodes:             sc.Nodes,
		Workload:          w,
		Params:            sc.Workload.Params,
		Concurrency:       sc.Concurrency,
		Rate:              sc.Rate,
		Duration:          sc.TimeLimit,
		Seed:              sc.Seed,
		Plan:              plan,
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
	return func(ctx context.Context, sc harness.Scenario, record func(history.Event) error) ([]harness.NodeReport, error) {
		cfg, err := ConfigFor(sc, bug)
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
func (s Summary) NodeReports() []harness.NodeReport {
	reports := make([]harness.NodeReport, len(s.Nodes))
	for i, n := range s.Nodes {
		reports[i] = harness.NodeReport{
			Node: n.Name,
			Exit: harness.NodeExit{Running: n.Running, ExitCode: n.ExitCode, Signal: n.Signal, Restarts: n.Restarts},
			Log:  n.Log,
		}
	}
	return reports
}
