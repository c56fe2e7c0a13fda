package verdict

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/detect"
	"github.com/dqtest/dqtest/history"
	"github.com/dqtest/dqtest/scenario"
	"github.com/dqtest/dqtest/workloads"
)

// Request says what `dqtest check` re-checks.
type Request struct {
	// Path is a history file, or a run directory holding history.jsonl
	// (and usually scenario.yaml and observations.json).
	Path string
	// Workload names the checker to use; empty means the run directory's
	// scenario's, else the one the operations' f values point to. A
	// workload that contradicts the scenario or the operations is an error.
	Workload string
	// Consistency is the list-append checker's model (empty: the
	// scenario's, else strict-serializable).
	Consistency string
	// TimeBudget bounds the check; zero means the scenario's, else
	// TimeBudget. Past it the verdict is unknown, never a guess.
	TimeBudget time.Duration
}

// Report is what a re-check found. For a run directory it is the run's own
// verdict computed again (crashes, hangs, liveness and convergence from
// the stored observations included), so its Outcome and exit code are the
// run's.
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
	WorkloadFrom string `json:"workload_from"`
	// Consistency is the model the list-append checker checked ("" for
	// other workloads).
	Consistency string        `json:"consistency,omitempty"`
	TimeBudget  time.Duration `json:"-"`
	Budget      string        `json:"time_budget"` // TimeBudget, e.g. "1m0s"
	// Result is the workload checker's result.
	Result checker.Result `json:"result"`
	// Checkers are every check's result (the workload's, convergence,
	// recovery, ...); Crashes the crash and hang findings.
	Checkers []checker.Result `json:"checkers"`
	Crashes  []detect.Crash   `json:"crashes"`
	// Verdict is what the history showed; Outcome that judged against the
	// scenario's expect (the exit code follows Outcome).
	Verdict checker.Verdict `json:"verdict"`
	Outcome checker.Verdict `json:"outcome"`
	Reasons []string        `json:"reasons,omitempty"`
	// Artifacts are the files WriteArtifacts wrote.
	Artifacts []string `json:"artifacts,omitempty"`

	output Output
}

// ErrNothingToCheck is wrapped by errors about histories in which there is
// nothing to check at all.
var ErrNothingToCheck = errors.New("nothing to check")

// Check re-checks what Request names through Compute. An error means there
// is no verdict at all: the path cannot be read, a line is malformed or
// breaks a well-formedness rule (the error names the line), the workload
// cannot be told, or the workload given contradicts the run directory or
// the operations. Checker trouble (a time budget spent, nothing checked)
// is a Report with verdict unknown instead.
func Check(ctx context.Context, req Request) (Report, error) {
	rep := Report{History: req.Path}
	in := Input{}
	var sc *scenario.Scenario
	if info, err := os.Stat(req.Path); err != nil {
		return rep, err
	} else if info.IsDir() {
		rep.RunDir = req.Path
		in.Dir = req.Path
		rep.History = filepath.Join(req.Path, HistoryFile)
		scPath := filepath.Join(req.Path, ScenarioFile)
		if _, err := os.Stat(scPath); err == nil {
			s, err := scenario.Load(scPath)
			if err != nil {
				return rep, fmt.Errorf("the run directory's scenario: %w", err)
			}
			sc = &s
		}
		obs, err := ReadObservations(req.Path)
		if err != nil {
			return rep, fmt.Errorf("the run directory's observations: %w", err)
		}
		in.Obs = obs
	}

	// The history is read as a stream, once, by Compute: the checker is
	// chosen before (from --workload or the scenario), and what the
	// history says (malformed lines, broken rules, the workload its
	// operations point to) is judged after, in the order a check that read
	// it first would judge it. Only a bare history with no --workload, or
	// a request refused before any reading, is read twice: the workload
	// must be inferred before its checker can run.
	src := history.FileSource(rep.History)
	infer := sc == nil && req.Workload == ""
	var ready error
	if !infer {
		ready = prepare(&rep, req, sc, &in)
	}
	if infer || ready != nil {
		if err := prescan(&rep, req, sc, src); err != nil {
			return rep, err
		}
		if ready != nil {
			return rep, ready
		}
		if err := prepare(&rep, req, sc, &in); err != nil {
			return rep, err
		}
	}
	in.Source = src
	rep.Budget = rep.TimeBudget.String()
	cctx := ctx
	if in.Scenario == nil {
		// A bare history has no scenario: the checker gets the budget
		// through a scenario-less run of Compute.
		var cancel context.CancelFunc
		cctx, cancel = context.WithTimeout(ctx, rep.TimeBudget)
		defer cancel()
	}
	out := Compute(cctx, in)
	if out.ReadErr != nil {
		return rep, out.ReadErr
	}
	rep.Events, rep.TornLine = out.Events, out.TornLine
	if out.Malformed != nil {
		return rep, fmt.Errorf("%s is not well formed: %w", rep.History, out.Malformed)
	}
	if err := pickWorkload(&rep, req, sc, out.Inferred, out.InferErr); err != nil {
		return rep, err
	}
	rep.output = out
	rep.Checkers, rep.Verdict, rep.Outcome, rep.Reasons = out.Checkers, out.Verdict, out.Outcome, out.Reasons
	rep.Crashes = out.Crashes
	if len(out.Checkers) > 0 {
		rep.Result = out.Checkers[0]
	}
	return rep, nil
}

// prescan reads the history once to judge what the check would judge
// first: a malformed line, a broken rule, the workload (which it sets).
func prescan(rep *Report, req Request, sc *scenario.Scenario, src history.Source) error {
	var (
		valid     history.Validator
		malformed error
		infer     checker.WorkloadInference
	)
	n, torn, err := src(func(batch []history.Event, _ int) error {
		infer.Observe(batch)
		for i := range batch {
			if malformed == nil {
				malformed = valid.Add(&batch[i])
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	rep.Events, rep.TornLine = n, torn
	if malformed != nil {
		return fmt.Errorf("%s is not well formed: %w", rep.History, malformed)
	}
	inferred, inferErr := infer.Result()
	return pickWorkload(rep, req, sc, inferred, inferErr)
}

// prepare chooses the checker and its budget, from what is known before
// the history is read: --workload, the scenario, or the workload prescan
// inferred (rep.Workload).
func prepare(rep *Report, req Request, sc *scenario.Scenario, in *Input) error {
	if sc != nil {
		s := *sc
		if req.Consistency != "" {
			s.Checker.Consistency = req.Consistency
		}
		if req.TimeBudget != 0 {
			s.Checker.TimeBudget = req.TimeBudget
		}
		rs, err := s.Resolve()
		if err != nil {
			return fmt.Errorf("the run directory's scenario: %w", err)
		}
		in.Scenario = rs
		rep.TimeBudget = rs.Checker.TimeBudget
		if rs.Workload.Name() == "append" {
			rep.Consistency = rs.Checker.Consistency
		}
		return nil
	}
	workload := req.Workload
	if workload == "" {
		workload = rep.Workload
	}
	ck, err := workloads.BareChecker(workload)
	if err != nil {
		return err
	}
	if workload == "append" {
		rep.Consistency = req.Consistency
		if rep.Consistency == "" {
			rep.Consistency = checker.StrictSerializable
		}
		if err := checker.ValidateConsistency(rep.Consistency); err != nil {
			return err
		}
		ck = checker.NewAppend(checker.AppendOptions{Consistency: rep.Consistency})
	}
	in.Checker = ck
	rep.TimeBudget = req.TimeBudget
	if rep.TimeBudget == 0 {
		rep.TimeBudget = TimeBudget
	}
	return nil
}

// pickWorkload chooses the workload: the one --workload names; else the
// scenario's; else the one the operations point to. A --workload that
// contradicts the scenario or the operations is an error: checking a
// history with another workload's checker would judge nothing.
func pickWorkload(rep *Report, req Request, sc *scenario.Scenario, inferred string, inferErr error) error {
	switch {
	case req.Workload != "":
		if _, err := workloads.BareChecker(req.Workload); err != nil {
			return err
		}
		rep.Workload, rep.WorkloadFrom = req.Workload, "--workload"
		if sc != nil && sc.Workload.Name != req.Workload {
			return fmt.Errorf("--workload %s contradicts the run directory's scenario, whose workload is %s", req.Workload, sc.Workload.Name)
		}
		if inferErr == nil && inferred != req.Workload {
			return fmt.Errorf("--workload %s contradicts the history: its operations are those of the %s workload", req.Workload, inferred)
		}
		if sc != nil {
			rep.WorkloadFrom = "--workload, with the parameters of scenario.yaml"
		}
		return nil
	case sc != nil:
		rep.Workload, rep.WorkloadFrom = sc.Workload.Name, ScenarioFile
		if inferErr == nil && inferred != sc.Workload.Name {
			return fmt.Errorf("the run directory's scenario names the %s workload, but the history's operations are those of the %s workload", sc.Workload.Name, inferred)
		}
		return nil
	}
	if inferErr != nil {
		return fmt.Errorf("%w: %w", ErrNothingToCheck, inferErr)
	}
	rep.Workload, rep.WorkloadFrom = inferred, "inferred from the operations"
	return nil
}

// WriteArtifacts writes the checker's artifacts (porcupine's visualization)
// into dir and records their paths in the report.
func (r *Report) WriteArtifacts(dir string) error {
	arts := r.output.Artifacts
	names := make([]string, 0, len(arts))
	for name := range arts {
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
		if err := os.WriteFile(path, arts[name], 0o644); err != nil {
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

// WriteText writes the report for a person: the outcome first, then each
// check's anomalies explained with the history lines behind them, then the
// crash findings.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s (workload %s: %s", strings.ToUpper(string(r.Outcome)), r.History, r.Workload, r.WorkloadFrom)
	if r.Consistency != "" {
		fmt.Fprintf(&b, "; checked for %s", r.Consistency)
	}
	fmt.Fprintf(&b, ")\n  %d events, time budget %v\n", r.Events, r.TimeBudget)
	if r.Outcome != r.Verdict {
		fmt.Fprintf(&b, "  the history showed %s; judged against the scenario's expect: %s\n", r.Verdict, r.Outcome)
	}
	if r.TornLine != 0 {
		fmt.Fprintf(&b, "  note: line %d was torn (the writer stopped mid-line) and was dropped\n", r.TornLine)
	}
	for _, reason := range r.Reasons {
		fmt.Fprintf(&b, "  reason: %s\n", reason)
	}
	for _, res := range r.Checkers {
		fmt.Fprintf(&b, "\n%s checker: %s\n", res.Checker, res.Verdict)
		if inferred, ok := res.Stats["inferred"].(string); ok {
			fmt.Fprintf(&b, "  note: %s\n", inferred)
		}
		if res.Reason != "" {
			fmt.Fprintf(&b, "  reason: %s\n", res.Reason)
		}
		if len(res.Anomalies) > 0 {
			fmt.Fprintf(&b, "  %d anomal%s:\n", len(res.Anomalies), map[bool]string{true: "y", false: "ies"}[len(res.Anomalies) == 1])
		}
		for i, a := range res.Anomalies {
			fmt.Fprintf(&b, "\n  %d. %s", i+1, a.Kind)
			if a.Key != "" {
				fmt.Fprintf(&b, " (key %s)", a.Key)
			}
			fmt.Fprintf(&b, "\n     %s\n", a.Explanation)
			for _, e := range a.Ops {
				line, err := json.Marshal(e)
				if err != nil {
					return err
				}
				fmt.Fprintf(&b, "       %s\n", line)
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
			if len(parts) > 0 {
				fmt.Fprintf(&b, "  stats: %s\n", strings.Join(parts, " "))
			}
		}
	}
	for _, c := range r.output.Crashes {
		fmt.Fprintf(&b, "\nnode %s: %s: %s", c.Node, c.Kind, c.Signature)
		if c.Expected {
			b.WriteString(" (expected)")
		}
		b.WriteString("\n")
	}
	for _, a := range r.Artifacts {
		fmt.Fprintf(&b, "wrote %s\n", a)
	}
	if len(r.Artifacts) == 0 && len(r.output.Artifacts) > 0 {
		names := make([]string, 0, len(r.output.Artifacts))
		for n := range r.output.Artifacts {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(&b, "not written: %s (give --out DIR, or check a run directory)\n", strings.Join(names, ", "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
