package scenario

import (
	"fmt"
	"math/rand/v2"

	"github.com/dqtest/dqtest/nemesis"
	"github.com/dqtest/dqtest/workloads"
)

// Resolved is a scenario ready to run: its seed chosen, every default
// applied, its workload built and its fault plan drawn from the seed. It is
// made once per run (by Resolve) and read by everything downstream: the run
// loop, the backends, the simulator and the verdict. Nothing downstream
// applies a default or draws a plan again. Treat it as immutable.
type Resolved struct {
	// Scenario is the resolved scenario, Seed set; written to the run
	// directory as scenario.yaml, so that running it again reproduces the
	// run's operations and faults.
	Scenario
	// Workload is the scenario's workload with its parameters.
	Workload workloads.Workload
	// Plan is the nemesis plan: every fault step with its offset from the
	// workload's start.
	Plan []nemesis.Step
}

// NewSeed picks a seed for a run whose scenario gives none: a positive
// integer exactly representable as a float64, so JSON readers keep it
// whole.
func NewSeed() int64 { return rand.Int64N(1<<53) + 1 }

// Resolve validates sc (a scenario from Load, Parse or Overrides.Apply, or
// one built in code), picks a seed when it has none (NewSeed), builds its
// workload and draws its fault plan.
func (sc Scenario) Resolve() (*Resolved, error) {
	if sc.Seed == 0 {
		sc.Seed = NewSeed()
	}
	plan, err := sc.resolvePlan()
	if err != nil {
		return nil, fmt.Errorf("scenario %s: %w", sc.Name, err)
	}
	wl, err := workloads.New(sc.Workload.Name, sc.Workload.Params)
	if err != nil {
		return nil, fmt.Errorf("scenario %s: %w", sc.Name, err)
	}
	return &Resolved{Scenario: sc, Workload: wl, Plan: plan}, nil
}
