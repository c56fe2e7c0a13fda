// Package offline re-checks a stored history: the logic behind
// `dqtest check`. It reads a history (or a run directory's), validates it,
// picks the checker its workload needs and runs it within a time budget.
// Everything a person needs to judge the verdict is in the Report; the CLI
// only prints it and maps the verdict to an exit code.
package offline

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/harness"
	"github.com/dqtest/dqtest/history"
	"github.com/dqtest/dqtest/scenario"
	"github.com/dqtest/dqtest/workloads"
)

// DefaultTimeBudget bounds a check when neither the caller nor a scenario
// says otherwise.
const DefaultTimeBudget = 60 * time.Second

// Request says what to re-check.
type Request struct {
	// Path is a history file, or a run directory holding history.jsonl (and
	// usually scenario.yaml).
	Path string
	// Workload names the checker to use; empty means the run directory's
	// scenario's, else the one the operations' f names point to.
	Workload string
	// TimeBudget bounds the check; zero means the scenario's, else
	// DefaultTimeBudget. Past it the verdict is unknown, never a guess.
	TimeBudget time.Duration
}

// Report is what a re-check found.
type Report struct {
	// History is the file read; RunDir the run directory, when Path was one.
	History string `json:"history"`
	RunDir  string `json:"run_dir,omitempty"`
	Events  int    `json:"events"`
	// TornLine is the number of a torn last line that was dropped (a crash
	// in the middle of a write), or 0.
	TornLine int    `json:"torn_line,omitempty"`
	Workload string `json:"workload"`
	// WorkloadFrom says how the workload was chosen: "--workload",
	// "scenario.yaml" or "inferred from the operations".
	WorkloadFrom string         `json:"workload_from"`
	TimeBudget   time.Duration  `json:"-"`
	Budget       string         `json:"time_budget"` // TimeBudget, e.g. "1m0s"
	Result       checker.Result `json:"result"`
	// Artifacts are the files WriteArtifacts wrote.
	Artifacts []string `json:"artifacts,omitempty"`
}

// Check re-checks the history Request names. An error means there is no
// verdict at all: the path cannot be read, a line is malformed or breaks a
// well-formedness rule (the error names the line), or the workload cannot
// be told. Checker trouble (a time budget spent) is a Report with verdict
// unknown instead.
func Check(ctx context.Context, req Request) (Report, error) {
	rep := Report{History: req.Path}
	var sc *scenario.Scenario
	if info, err := os.Stat(req.Path); err != nil {
		return rep, err
	} else if info.IsDir() {
		rep.RunDir = req.Path
		rep.History = filepath.Join(req.Path, harness.HistoryFile)
		scPath := filepath.Join(req.Path, harness.ScenarioFile)
		if _, err := os.Stat(scPath); err == nil {
			s, err := scenario.Load(scPath)
			if err != nil {
				return rep, fmt.Errorf("the run directory's scenario: %w", err)
			}
			sc = &s
		}
	}

	events, torn, err := history.ReadFile(rep.History)
	if err != nil {
		return rep, err
	}
	rep.Events, rep.TornLine = len(events), torn
	if err := history.Validate(events); err != nil {
		return rep, fmt.Errorf("%s is not well formed: %w", rep.History, err)
	}

	ck, err := pickChecker(&rep, req, sc, events)
	if err != nil {
		return rep, err
	}
	rep.TimeBudget = req.TimeBudget
	if rep.TimeBudget == 0 && sc != nil {
		rep.TimeBudget = sc.Checker.TimeBudget
	}
	if rep.TimeBudget == 0 {
		rep.TimeBudget = DefaultTimeBudget
	}
	rep.Budget = rep.TimeBudget.String()
	cctx, cancel := context.WithTimeout(ctx, rep.TimeBudget)
	defer cancel()
	rep.Result = ck.Check(cctx, events)
	return rep, nil
}

// pickChecker chooses the checker: the one --workload names; else the
// scenario's workload's own (it knows its parameters, e.g. the bank's
// accounts); else the one the operations point to.
func pickChecker(rep *Report, req Request, sc *scenario.Scenario, events []history.Event) (checker.Checker, error) {
	switch {
	case req.Workload != "":
		rep.Workload, rep.WorkloadFrom = req.Workload, "--workload"
		if sc != nil && sc.Workload.Name == req.Workload {
			rep.WorkloadFrom = "--workload, with the parameters of scenario.yaml"
			return scenarioChecker(sc)
		}
		return checker.ForWorkload(req.Workload)
	case sc != nil:
		rep.Workload, rep.WorkloadFrom = sc.Workload.Name, harness.ScenarioFile
		return scenarioChecker(sc)
	}
	name, err := checker.InferWorkload(events)
	if err != nil {
		return nil, err
	}
	rep.Workload, rep.WorkloadFrom = name, "inferred from the operations"
	return checker.ForWorkload(name)
}

func scenarioChecker(sc *scenario.Scenario) (checker.Checker, error) {
	w, err := workloads.New(sc.Workload.Name, sc.Workload.Params)
	if err != nil {
		return nil, fmt.Errorf("the run directory's scenario: %w", err)
	}
	return w.Checker(), nil
}

// WriteArtifacts writes the checker's artifacts (porcupine's visualization)
// into dir and records their paths in the report.
func (r *Report) WriteArtifacts(dir string) error {
	names := make([]string, 0, len(r.Result.Artifacts))
	for name := range r.Result.Artifacts {
		names = append(names, name)
	}
	sort.Strings(names)
	if len(names) > 0 {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	for _, name := range names {
		path := filepath.Join(dir, filepath.Base(name))
		if err := os.WriteFile(path, r.Result.Artifacts[name], 0o644); err != nil {
			return err
		}
		r.Artifacts = append(r.Artifacts, path)
	}
	return nil
}

// WriteJSON writes the report as one JSON document.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// WriteText writes the report for a person: the verdict first, then each
// anomaly explained with the history lines behind it.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	res := r.Result
	fmt.Fprintf(&b, "%s: %s (%s checker, workload %s: %s)\n", strings.ToUpper(string(res.Verdict)), r.History, res.Checker, r.Workload, r.WorkloadFrom)
	fmt.Fprintf(&b, "  %d events, time budget %v\n", r.Events, r.TimeBudget)
	if r.TornLine != 0 {
		fmt.Fprintf(&b, "  note: line %d was torn (the writer stopped mid-line) and was dropped\n", r.TornLine)
	}
	if inferred, ok := res.Stats["inferred"].(string); ok {
		fmt.Fprintf(&b, "  note: %s\n", inferred)
	}
	if res.Reason != "" {
		fmt.Fprintf(&b, "  reason: %s\n", res.Reason)
	}
	if len(res.Anomalies) > 0 {
		fmt.Fprintf(&b, "\n%d anomal%s:\n", len(res.Anomalies), map[bool]string{true: "y", false: "ies"}[len(res.Anomalies) == 1])
	}
	for i, a := range res.Anomalies {
		fmt.Fprintf(&b, "\n%d. %s", i+1, a.Kind)
		if a.Key != "" {
			fmt.Fprintf(&b, " (key %s)", a.Key)
		}
		fmt.Fprintf(&b, "\n   %s\n", a.Explanation)
		for _, e := range a.Ops {
			line, err := json.Marshal(e)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, "     %s\n", line)
		}
	}
	if len(res.Stats) > 0 {
		keys := make([]string, 0, len(res.Stats))
		for k := range res.Stats {
			if k != "inferred" {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		var parts []string
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s=%v", k, res.Stats[k]))
		}
		fmt.Fprintf(&b, "\nstats: %s\n", strings.Join(parts, " "))
	}
	for _, a := range r.Artifacts {
		fmt.Fprintf(&b, "wrote %s\n", a)
	}
	if len(r.Artifacts) == 0 && len(res.Artifacts) > 0 {
		names := make([]string, 0, len(res.Artifacts))
		for n := range res.Artifacts {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(&b, "not written: %s (give --out DIR, or check a run directory)\n", strings.Join(names, ", "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
