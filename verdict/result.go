package verdict

import (
	"time"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/detect"
	"github.com/dqtest/dqtest/scenario"
)

// Result is what a run found; results.json holds it (docs/run-directory.md).
type Result struct {
	Scenario string `json:"scenario"`
	// Backend is the live backend's name ("docker": real dqlite 1.18.1 in
	// containers) or "simulator" (a model of dqlite: a finding there is
	// about the model or the harness, not about dqlite).
	Backend string `json:"backend"`
	// SimBug is the bug the simulator injected, if any.
	SimBug string `json:"sim_bug,omitempty"`
	Seed   int64  `json:"seed"`
	Dir    string `json:"dir"`
	// RunID labels the run's containers and networks (docker backend), so
	// leftovers of an interrupted run can be found and removed.
	RunID string `json:"run_id,omitempty"`
	// Verdict is what the run showed: the worst of the checkers' verdicts
	// and the crash detector's (invalid when a node crashed).
	Verdict checker.Verdict `json:"verdict"`
	// Outcome is Verdict judged against the scenario's expect: valid when
	// the run showed what was expected (a clean run, or exactly the
	// expected anomaly or crash). The exit code follows Outcome.
	Outcome checker.Verdict `json:"outcome"`
	Expect  scenario.Expect `json:"expect"`
	// Reasons explain Outcome when it differs from a plain valid run.
	Reasons  []string                   `json:"reasons,omitempty"`
	Checkers []checker.Result           `json:"checkers"`
	Crashes  []detect.Crash             `json:"crashes"`
	Nodes    map[string]detect.NodeExit `json:"nodes"`
	// Recovery says whether the cluster recovered after healing; absent
	// when it was not measured (the run did not get that far).
	Recovery *Recovery       `json:"recovery,omitempty"`
	Phases   Phases          `json:"phases"`
	Ops      detect.OpCounts `json:"ops"`
	// Faults summarises what each fault did to throughput.
	Faults []detect.FaultEffect `json:"faults,omitempty"`
	// Error is a harness error that cut the run short; the verdict is then
	// unknown.
	Error string `json:"error,omitempty"`
	// Started is when the run began (wall clock).
	Started time.Time `json:"started"`
}

// Recovery is the wait for the cluster after healing.
type Recovery struct {
	Recovered bool    `json:"recovered"`
	Seconds   float64 `json:"seconds"`
	Leader    string  `json:"leader,omitempty"`
	Error     string  `json:"error,omitempty"`
	// Node is the node that did not answer (or "" when the cluster had no
	// leader), and Answer what it answered last.
	Node   string `json:"node,omitempty"`
	Answer string `json:"answer,omitempty"`
}

// Phases are the wall-clock seconds of each phase of a run.
type Phases struct {
	Startup  float64 `json:"startup_s"`  // backend up, workload setup
	Workload float64 `json:"workload_s"` // clients and nemesis
	Recovery float64 `json:"recovery_s"` // heal, wait for recovery, final reads, logs
	Teardown float64 `json:"teardown_s"` // containers and networks removed
	Check    float64 `json:"check_s"`    // checkers and crash detector
	Total    float64 `json:"total_s"`
}

// ExitCode is the process exit code of a verdict or outcome, the one
// mapping every command uses: 0 valid, 1 invalid, 2 unknown (and, by the
// commands, harness errors).
func ExitCode(v checker.Verdict) int {
	switch v {
	case checker.Valid:
		return 0
	case checker.Invalid:
		return 1
	}
	return 2
}
