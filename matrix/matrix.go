// Package matrix runs a test matrix: every workload under every nemesis
// combination, one run after another, each on a fresh cluster, as the
// dqlite team's hourly Jepsen jobs do (3 workloads x 13 combinations). It
// prints a table of cell → verdict and durations, writes one JUnit file and
// one summary page that links every run's report, and judges the whole
// matrix by its worst cell, leaving out the cells marked as expected to fail
// (known bugs), which are shown as such.
package matrix

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/harness"
	"github.com/dqtest/dqtest/report"
	"github.com/dqtest/dqtest/scenario"
	"github.com/dqtest/dqtest/verdict"
)

// Spec is what a matrix runs.
type Spec struct {
	// Name names the matrix in the JUnit file and the summary page.
	Name      string
	Workloads []string
	// Nemeses are combination names: "none", "partition", "partition+kill"
	// (nemesis.SplitCombination).
	Nemeses []string
	// Dqlite, when set, is a version axis: every workload x nemesis cell
	// runs once per C dqlite version (cells 1.18.7/bank/disk). Empty: the
	// cells run the base scenario's version.
	Dqlite []string
	// Base is the scenario every cell starts from (cluster size, rate,
	// schedule, timeouts); a cell replaces its workload, faults and name.
	// Zero means scenario.Default().
	Base *scenario.Scenario
	// TimeLimit, when set, replaces Base's time limit in every cell.
	TimeLimit time.Duration
	// Seed, when set, is every cell's seed; 0 lets each run pick one (it is
	// in each run's resolved scenario).
	Seed int64
	// ExpectFail marks cells as expected to fail: key "workload/nemesis",
	// value the reason (a known bug).
	ExpectFail map[string]string
	// Backend names the backend every cell runs on ("docker", "sim"), for
	// the plan a shard directory records; the cells' scenarios say it too.
	Backend string

	// Shard, when set, runs only shard K of N (ShardCells): a
	// deterministic part of the cells, balanced by expected time.
	Shard Shard
	// Only, when set, runs only these cells (keys "workload/nemesis") of
	// the shard: how one engine of several gets its part (RunSpread).
	Only []string
	// Parallel is how many cells run at once (default 1), each on its own
	// cluster.
	Parallel int
}

// Status is what a cell's outcome means for the matrix.
type Status string

const (
	Passed Status = "passed"
	Failed Status = "FAILED"
	// ExpectedFail: the cell failed as marked (a known bug); no regression.
	ExpectedFail Status = "expected-fail"
	// UnexpectedPass: a cell marked as expected to fail passed. Not a
	// regression, but the mark may be stale.
	UnexpectedPass Status = "passed-unexpectedly"
	// Unknown: no verdict (a harness error, a checker out of time).
	Unknown Status = "UNKNOWN"
	// Skipped: the matrix was interrupted before the cell ran.
	Skipped Status = "skipped"
	// Missing: a merge found no shard that reported the cell (a shard job
	// that died, an artifact not uploaded). Counts as unknown.
	Missing Status = "MISSING"
	// Unsupported: the backend cannot run the cell as written (the
	// simulator has no disks or packet loss) and refused it before it ran;
	// a skipped JUnit case with the reason, neither a pass nor a failure.
	Unsupported Status = "unsupported"
)

// Cell is one workload under one nemesis combination.
type Cell struct {
	// Dqlite is the cell's C dqlite version on a matrix with a version
	// axis (Spec.Dqlite), else "".
	Dqlite   string `json:"dqlite,omitempty"`
	Workload string `json:"workload"`
	Nemesis  string `json:"nemesis"`
	// Scenario is the cell's scenario name; its run directory is
	// <out>/<Scenario>.
	Scenario string `json:"scenario"`
	// ExpectFail is the reason the cell is expected to fail, if it is.
	ExpectFail string `json:"expect_fail,omitempty"`
	Status     Status `json:"status"`
	// Run is the run's summary (outcome, ops, phases, findings).
	Run report.RunSummary `json:"run"`
	// Wall is the cell's wall-clock seconds, start-up to teardown and
	// checking.
	Wall float64 `json:"wall_s"`
	// Recovery is whether the cluster recovered after the faults were
	// healed (a leader, every node answering), which the outcome alone
	// does not say.
	Recovery *verdict.Recovery `json:"recovery,omitempty"`
	// Path is the cell's run directory relative to the matrix directory
	// (its Scenario; in a merged matrix, under the shard's directory).
	Path string `json:"path,omitempty"`

	sc scenario.Scenario
}

// Key is the cell's "workload/nemesis", as ExpectFail names it.
func (c Cell) Key() string {
	if c.Dqlite != "" {
		return c.Dqlite + "/" + c.Workload + "/" + c.Nemesis
	}
	return c.Workload + "/" + c.Nemesis
}

// Result is a matrix that ran.
type Result struct {
	Name  string    `json:"name"`
	Dir   string    `json:"dir"`
	Cells []Cell    `json:"cells"`
	Start time.Time `json:"started"`
	Wall  float64   `json:"wall_s"`
	// Outcome is the worst outcome of the cells that count (expected
	// failures do not): the exit code follows it.
	Outcome checker.Verdict `json:"outcome"`
	// Plan is the whole matrix this result is part of: what a merge of
	// shard directories needs to name the cells no shard reported.
	Plan Plan `json:"plan"`
	// Parts are the shard (or engine) directories a merged result came
	// from.
	Parts []Part `json:"parts,omitempty"`
}

// ParseExpectFail reads --expect-fail values "workload/nemesis=reason".
func ParseExpectFail(values []string) (map[string]string, error) {
	out := map[string]string{}
	for _, v := range values {
		key, reason, ok := strings.Cut(v, "=")
		parts := strings.Split(key, "/")
		if !ok || len(parts) < 2 || len(parts) > 3 || slices.Contains(parts, "") || strings.TrimSpace(reason) == "" {
			return nil, fmt.Errorf("expect-fail %q: want workload/nemesis=reason (or version/workload/nemesis=reason), e.g. bank/disk=canonical/dqlite#123", v)
		}
		out[strings.TrimSpace(key)] = strings.TrimSpace(reason)
	}
	return out, nil
}

// Cells resolves every cell's scenario, so that a mistake in any of them
// (an unknown workload or fault, a marked cell that is not in the matrix)
// is found before the first run.
func Cells(spec Spec) ([]Cell, error) {
	if len(spec.Workloads) == 0 || len(spec.Nemeses) == 0 {
		return nil, errors.New("a matrix needs at least one workload and one nemesis")
	}
	base := scenario.Default()
	if spec.Base != nil {
		base = *spec.Base
	}
	var cells []Cell
	var errs []error
	versions := spec.Dqlite
	if len(versions) == 0 {
		versions = []string{""}
	}
	for _, v := range versions {
		for _, w := range spec.Workloads {
			for _, n := range spec.Nemeses {
				c := Cell{Dqlite: v, Workload: w, Nemesis: n, Scenario: cellName(w, n)}
				if v != "" {
					c.Scenario = v + "-" + c.Scenario
				}
				if slices.ContainsFunc(cells, func(o Cell) bool { return o.Key() == c.Key() }) {
					errs = append(errs, fmt.Errorf("%s is listed twice", c.Key()))
					continue
				}
				sc := base
				sc.Name = c.Scenario
				sc.Description = fmt.Sprintf("matrix cell: workload %s under nemesis %s", w, n)
				sc.Expect = scenario.Expect{}
				o := scenario.Overrides{Workload: &w, Nemesis: []string{n}}
				if spec.TimeLimit > 0 {
					o.TimeLimit = &spec.TimeLimit
				}
				if spec.Seed != 0 {
					o.Seed = &spec.Seed
				}
				if v != "" {
					o.Dqlite = &v
				}
				resolved, err := o.Apply(sc)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", c.Key(), err))
					continue
				}
				c.sc = resolved
				c.ExpectFail = spec.ExpectFail[c.Key()]
				if c.ExpectFail == "" {
					c.ExpectFail = spec.ExpectFail[w+"/"+n] // a mark for every version
				}
				c.Status = Skipped
				cells = append(cells, c)
			}
		}
	}
	for key := range spec.ExpectFail {
		if !slices.ContainsFunc(cells, func(c Cell) bool { return c.Key() == key || c.Workload+"/"+c.Nemesis == key }) {
			errs = append(errs, fmt.Errorf("expect-fail %s: no such cell in this matrix", key))
		}
	}
	return cells, errors.Join(errs...)
}

// cellName is a cell's scenario name: "bank-partition-kill" for bank under
// partition+kill.
func cellName(workload, nemesisName string) string {
	return workload + "-" + strings.ReplaceAll(strings.ReplaceAll(nemesisName, "+", "-"), " ", "")
}

// Run runs the matrix's cells (the shard's, when spec.Shard is set; only
// spec.Only's, when set) into dir, each run in dir/<scenario>, spec.Parallel
// at a time (default one after another), calling progress after each (never
// two calls at once). opts are the harness options of every run (backend,
// image, log); RunDir and WriteReport are set per cell. dir/matrix.json
// records the plan (every cell of the whole matrix) before the first cell
// starts and the results after every cell (and WriteFiles at the end), so
// that a merge can name the cells a shard never reported. An interrupted matrix cancels every
// running cell, waits until each has torn its cluster down, and returns
// what ran, the rest Skipped, and ctx's error.
func Run(ctx context.Context, spec Spec, dir string, opts harness.Options, progress func(Cell)) (*Result, error) {
	all, err := Cells(spec)
	if err != nil {
		return nil, err
	}
	idx, err := selectCells(all, spec)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	res := &Result{Name: spec.Name, Dir: dir, Start: time.Now(), Plan: NewPlan(spec, all)}
	if res.Name == "" {
		res.Name = "matrix"
	}
	for _, i := range idx {
		c := all[i]
		c.Path = c.Scenario
		res.Cells = append(res.Cells, c)
	}
	if err := WriteResult(res); err != nil {
		return nil, err
	}
	p := max(spec.Parallel, 1)
	next := make(chan int)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range min(p, len(res.Cells)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				mu.Lock()
				c := res.Cells[i]
				mu.Unlock()
				if ctx.Err() != nil {
					continue // interrupted before it started: stays Skipped
				}
				runCell(ctx, &c, filepath.Join(dir, c.Path), opts)
				mu.Lock()
				res.Cells[i] = c
				// matrix.json after every cell: a shard killed half way
				// still tells a merge what it ran (the rest skipped).
				res.Wall, res.Outcome = time.Since(res.Start).Seconds(), Outcome(res.Cells)
				if err := WriteResult(res); err != nil {
					slog.Warn("matrix: writing "+ResultFile, "err", err)
				}
				if progress != nil {
					progress(c)
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for i := range res.Cells {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	res.Wall = time.Since(res.Start).Seconds()
	res.Outcome = Outcome(res.Cells)
	return res, ctx.Err()
}

// runCell runs one cell into its run directory and judges it.
func runCell(ctx context.Context, c *Cell, runDir string, opts harness.Options) {
	o := opts
	o.RunDir = runDir
	if o.WriteReport == nil {
		o.WriteReport = report.WriteDir
	}
	began := time.Now()
	run, err := harness.Run(ctx, c.sc, o)
	c.Wall = time.Since(began).Seconds()
	c.Run = report.Summarize(c.Scenario, run, err)
	if run != nil {
		c.Recovery = run.Recovery
	}
	c.Status = status(c.Run.Outcome, c.ExpectFail != "")
	var ue *harness.UnsupportedError
	if errors.As(err, &ue) {
		c.Status, c.Run.Skipped = Unsupported, ue.Error()
	}
}

// selectCells is the indexes of the cells spec runs: its shard's,
// narrowed to spec.Only.
func selectCells(all []Cell, spec Spec) ([]int, error) {
	if !spec.Shard.Whole() && (spec.Shard.K < 1 || spec.Shard.K > spec.Shard.N) {
		return nil, fmt.Errorf("shard %s: want 1 <= k <= N", spec.Shard)
	}
	idx := ShardCells(all, spec.Shard)
	if spec.Only == nil {
		return idx, nil
	}
	var out []int
	var errs []error
	for _, key := range spec.Only {
		i := slices.IndexFunc(all, func(c Cell) bool { return c.Key() == key })
		switch {
		case i < 0:
			errs = append(errs, fmt.Errorf("cell %s: not in this matrix", key))
		case !slices.Contains(idx, i):
			errs = append(errs, fmt.Errorf("cell %s: not in shard %s", key, spec.Shard))
		case slices.Contains(out, i):
			errs = append(errs, fmt.Errorf("cell %s: listed twice", key))
		default:
			out = append(out, i)
		}
	}
	slices.Sort(out)
	return out, errors.Join(errs...)
}

// status judges a cell's outcome against its mark.
func status(outcome checker.Verdict, expectFail bool) Status {
	switch {
	case outcome == checker.Valid && expectFail:
		return UnexpectedPass
	case outcome == checker.Valid:
		return Passed
	case outcome == checker.Invalid && expectFail:
		return ExpectedFail
	case outcome == checker.Invalid:
		return Failed
	}
	return Unknown
}

// Outcome is the matrix's verdict: invalid if a cell failed that was not
// expected to, unknown if a cell reached no verdict, did not run or is
// missing from a merge, else valid.
func Outcome(cells []Cell) checker.Verdict {
	worst := checker.Valid
	for _, c := range cells {
		switch c.Status {
		case Failed:
			worst = checker.Worst(worst, checker.Invalid)
		case Unknown, Skipped, Missing:
			worst = checker.Worst(worst, checker.Unknown)
		}
	}
	return worst
}

// Counts is how many cells ended in each status.
func Counts(cells []Cell) map[Status]int {
	n := map[Status]int{}
	for _, c := range cells {
		n[c.Status]++
	}
	return n
}
