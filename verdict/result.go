package verdict

import (
	"strings"
	"time"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/detect"
	"github.com/dqtest/dqtest/scenario"
)

// Result is what a run found; results.json holds it (docs/run-directory.md).
type Result struct {
	Scenario string `json:"scenario"`
	// Backend is the live backend's name ("docker": real dqlite in
	// containers, the versions in Dqlite) or "simulator" (a model of dqlite: a finding there is
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
	// Dqlite is which dqlite the nodes ran (docker: their images' labels);
	// absent for the simulator, which models no version.
	Dqlite []Build `json:"dqlite,omitempty"`
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

// Build is the dqlite some nodes ran, as their node image's labels say.
type Build struct {
	Nodes []string `json:"nodes"`
	Image string   `json:"image"`
	// Dqlite is the C dqlite release (1.18.7); DqlitePackage the Debian
	// package version (1.18.7-1); DqliteLibrary what the linked library
	// reports (dqlite_version_number: trixie's 1.18.1 says 1.18.0).
	Dqlite        string `json:"dqlite"`
	DqlitePackage string `json:"dqlite_package,omitempty"`
	DqliteLibrary string `json:"dqlite_library,omitempty"`
	// GoDqlite is the go-dqlite version the node binds it with (v3.0.4).
	GoDqlite string `json:"go_dqlite,omitempty"`
}

// DqliteVersions renders the builds for a line of text: "1.18.7 (go-dqlite
// v3.0.4)", or one part per build of a mixed cluster.
func DqliteVersions(builds []Build) string {
	var parts []string
	for _, b := range builds {
		p := b.Dqlite
		if p == "" {
			p = "unknown dqlite (" + b.Image + ")"
		}
		if b.GoDqlite != "" {
			p += " (go-dqlite " + b.GoDqlite + ")"
		}
		if len(builds) > 1 {
			p += " on " + strings.Join(b.Nodes, ",")
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, "; ")
}
