package report

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/detect"
	"github.com/dqtest/dqtest/verdict"
)

// RunSummary is one run as a pipeline reads it: `dqtest run --json`
// prints these, `dqtest runs` lists them, and each becomes a JUnit test
// case.
type RunSummary struct {
	Scenario string `json:"scenario"`
	// Backend is docker or simulator; SimBug the bug the simulator
	// injected.
	Backend string          `json:"backend,omitempty"`
	SimBug  string          `json:"sim_bug,omitempty"`
	Seed    int64           `json:"seed,omitempty"`
	Dir     string          `json:"dir,omitempty"`
	Report  string          `json:"report,omitempty"`
	Verdict checker.Verdict `json:"verdict"`
	// Outcome is the verdict judged against the scenario's expectation;
	// the exit code follows it.
	Outcome   checker.Verdict `json:"outcome"`
	Reasons   []string        `json:"reasons,omitempty"`
	Anomalies []Finding       `json:"anomalies,omitempty"`
	Crashes   []Finding       `json:"crashes,omitempty"`
	Ops       detect.OpCounts `json:"ops"`
	Phases    verdict.Phases  `json:"phases"`
	Started   time.Time       `json:"started,omitzero"`
	Error     string          `json:"error,omitempty"`
	// Skipped says why a scenario was not run at all: its backend cannot
	// run it as written (the simulator refusing a fault it cannot model).
	// A skipped scenario is neither a pass nor a failure.
	Skipped string `json:"skipped,omitempty"`
	// Dqlite is which dqlite the nodes ran (docker), e.g. "1.18.7
	// (go-dqlite v3.0.4)".
	Dqlite string `json:"dqlite,omitempty"`
}

// Finding is an anomaly or a crash in a sentence.
type Finding struct {
	Kind   string `json:"kind"`
	Detail string `json:"detail"`
	// Expected is set for a crash the scenario expected.
	Expected bool `json:"expected,omitempty"`
}

// Summary is `dqtest run --json`'s output: the worst outcome (which the
// exit code follows) and every run.
type Summary struct {
	Outcome checker.Verdict `json:"outcome"`
	Runs    []RunSummary    `json:"runs"`
}

// Summarize describes one run. res may be nil (the run never started) or
// partial; err is Run's error, which makes the outcome unknown.
func Summarize(scenario string, res *verdict.Result, err error) RunSummary {
	s := RunSummary{Scenario: scenario, Verdict: checker.Unknown, Outcome: checker.Unknown}
	if res != nil {
		s.Backend, s.SimBug, s.Seed, s.Dir = res.Backend, res.SimBug, res.Seed, res.Dir
		s.Verdict, s.Outcome, s.Reasons = res.Verdict, res.Outcome, res.Reasons
		s.Ops, s.Phases, s.Started, s.Error = res.Ops, res.Phases, res.Started, res.Error
		s.Dqlite = verdict.DqliteVersions(res.Dqlite)
		for _, c := range res.Checkers {
			for _, a := range c.Anomalies {
				s.Anomalies = append(s.Anomalies, Finding{Kind: a.Kind, Detail: a.Explanation})
			}
			if c.Verdict == checker.Unknown && c.Reason != "" {
				s.Reasons = append(s.Reasons, c.Checker+" checker could not decide: "+c.Reason)
			}
		}
		for _, c := range res.Crashes {
			s.Crashes = append(s.Crashes, Finding{Kind: c.Kind, Detail: c.Node + ": " + c.Signature, Expected: c.Expected})
		}
		if res.Dir != "" {
			if _, err := os.Stat(filepath.Join(res.Dir, File)); err == nil {
				s.Report = filepath.Join(res.Dir, File)
			}
		}
	}
	if err != nil {
		s.Verdict, s.Outcome = checker.Unknown, checker.Unknown
		if s.Error == "" {
			s.Error = err.Error()
		}
	}
	return s
}

// NewSummary is the summary of several runs: the worst of their outcomes
// (valid for none).
func NewSummary(runs []RunSummary) Summary {
	s := Summary{Outcome: checker.Valid, Runs: runs}
	if runs == nil {
		s.Runs = []RunSummary{}
	}
	for _, r := range runs {
		s.Outcome = checker.Worst(s.Outcome, r.Outcome)
	}
	return s
}

// ListRuns finds every run directory under root (root/<scenario>/<stamp>/,
// the "latest" links left out) and summarises each from its results.json,
// oldest first. A directory without results.json is a run still going or
// one that died before writing it: it is listed with outcome unknown and
// an error saying so.
func ListRuns(root string) ([]RunSummary, error) {
	scenarios, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	var runs []RunSummary
	for _, sc := range scenarios {
		if !sc.IsDir() {
			continue
		}
		stamps, err := os.ReadDir(filepath.Join(root, sc.Name()))
		if err != nil {
			return nil, err
		}
		for _, st := range stamps {
			if !st.IsDir() || st.Name() == verdict.LatestLink {
				continue
			}
			dir := filepath.Join(root, sc.Name(), st.Name())
			runs = append(runs, readSummary(dir, sc.Name()))
		}
	}
	sort.SliceStable(runs, func(i, j int) bool {
		if !runs[i].Started.Equal(runs[j].Started) {
			return runs[i].Started.Before(runs[j].Started)
		}
		return runs[i].Dir < runs[j].Dir
	})
	return runs, nil
}

func readSummary(dir, scenario string) RunSummary {
	b, err := os.ReadFile(filepath.Join(dir, verdict.ResultsFile))
	if err != nil {
		s := RunSummary{Scenario: scenario, Dir: dir, Verdict: checker.Unknown, Outcome: checker.Unknown}
		if errors.Is(err, fs.ErrNotExist) {
			s.Error = "no results.json: the run is still going, or died before writing it"
		} else {
			s.Error = err.Error()
		}
		// The directory's name is its start time (harness.newRunDir).
		stamp, _, _ := strings.Cut(filepath.Base(dir), "-")
		if t, err := time.Parse("20060102T150405Z", stamp); err == nil {
			s.Started = t
		} else if info, err := os.Stat(dir); err == nil {
			s.Started = info.ModTime()
		}
		return s
	}
	var res verdict.Result
	if err := json.Unmarshal(b, &res); err != nil {
		return RunSummary{Scenario: scenario, Dir: dir, Verdict: checker.Unknown, Outcome: checker.Unknown,
			Error: "results.json: " + err.Error()}
	}
	res.Dir = dir // where it is now, which may differ from where it was written
	return Summarize(res.Scenario, &res, nil)
}
