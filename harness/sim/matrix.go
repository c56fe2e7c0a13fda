package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/history"
	"github.com/dqtest/dqtest/nemesis"
	"github.com/dqtest/dqtest/scenario"
	"github.com/dqtest/dqtest/verdict"
)

// Trial is one simulated run of a scenario, checked as the harness checks
// a run: the workload's checker on the history, and the crash detector on
// the nodes' logs and exits.
type Trial struct {
	Scenario string
	Bug      string
	Seed     int64
	Verdict  checker.Verdict
	// Anomalies are the kinds the checker reported; Crashes the crash
	// signatures the detector found.
	Anomalies []string
	Crashes   []string
	// DetectedAt is the virtual time of the first anomalous operation (the
	// earliest event among the anomalies' operations, or the crash), or -1
	// when nothing was found.
	DetectedAt time.Duration
	Reason     string // why the verdict is unknown
	Summary    Summary
}

// RunTrial simulates scenario sc with seed and bug, and checks it. Only
// Expect is ignored: a trial reports what was found, the matrix judges it.
func RunTrial(ctx context.Context, sc scenario.Scenario, bug string, seed int64) (Trial, error) {
	sc.Seed = seed
	rs, err := sc.Resolve()
	if err != nil {
		return Trial{}, err
	}
	cfg, err := ConfigFor(rs, bug)
	if err != nil {
		return Trial{}, err
	}
	var events eventLog
	cfg.Record = &events
	sum, err := Run(ctx, cfg)
	if err != nil {
		return Trial{}, fmt.Errorf("scenario %s, bug %q, seed %d: %w", sc.Name, bug, seed, err)
	}
	if err := history.Validate(events); err != nil {
		return Trial{}, fmt.Errorf("scenario %s, bug %q, seed %d: the simulator wrote a malformed history: %w", sc.Name, bug, seed, err)
	}
	t := Trial{Scenario: sc.Name, Bug: bug, Seed: seed, Summary: sum, DetectedAt: -1}
	// The one verdict path, as `dqtest run --backend sim` computes it.
	out := verdict.Compute(ctx, verdict.Input{Scenario: rs, Events: events, Obs: sum.Observations()})
	t.Verdict = out.Verdict
	for _, res := range out.Checkers {
		if res.Verdict == checker.Unknown && t.Reason == "" {
			t.Reason = res.Checker + ": " + res.Reason
		}
		for _, a := range res.Anomalies {
			if !slices.Contains(t.Anomalies, a.Kind) {
				t.Anomalies = append(t.Anomalies, a.Kind)
			}
			for _, e := range a.Ops {
				t.detected(time.Duration(e.Time))
			}
		}
	}
	for _, c := range out.Crashes {
		t.Crashes = append(t.Crashes, c.Node+": "+c.Signature)
	}
	for _, n := range sum.Nodes {
		if n.CrashedAt >= 0 {
			t.detected(n.CrashedAt)
		}
	}
	if t.Verdict == checker.Invalid && t.DetectedAt < 0 {
		t.DetectedAt = sum.End // found, but no operation names when
	}
	return t, nil
}

func (t *Trial) detected(at time.Duration) {
	if t.DetectedAt < 0 || at < t.DetectedAt {
		t.DetectedAt = at
	}
}

// eventLog keeps a history in memory, for checking without a file.
type eventLog []history.Event

func (l *eventLog) Write(e history.Event) (history.Event, error) {
	*l = append(*l, e)
	return e, nil
}

// Relevant reports whether bug can show in scenario sc at all: the
// simulator can model the scenario (Supports), and its
// workload's histories can reveal it, and for a crash bug, the scenario
// stops nodes.
func Relevant(bug string, sc scenario.Scenario) bool {
	if Supports(sc) != nil {
		return false // the simulator cannot model the scenario at all
	}
	for _, b := range bugs {
		if b.Name != bug {
			continue
		}
		if b.Name == BugCrashOnDoubleStop {
			return slices.Contains(sc.Nemesis.Faults, "stop") ||
				slices.ContainsFunc(sc.Nemesis.Schedule.Timeline, func(s nemesis.Step) bool { return s.Fault == "stop" })
		}
		return slices.Contains(b.Workloads, sc.Workload.Name)
	}
	return bug == ""
}

// Cell is one line of the matrix: a bug on a scenario over several seeds.
type Cell struct {
	Scenario string
	Bug      string // "" is the bug-free simulator
	Seeds    int
	Invalid  int // trials with an invalid verdict (detections, for a bug)
	Unknown  int
	// MedianDetection is the median virtual time to detection over the
	// trials that detected the bug, or -1.
	MedianDetection time.Duration
	// Kinds are the anomaly kinds and crash signatures seen, most frequent
	// first.
	Kinds []string
}

// Matrix runs every bug (and the bug-free simulator, bug "") on every
// scenario it is Relevant to, over seeds 1..seeds, with up to parallel
// trials at once (each trial is deterministic, so parallelism changes
// nothing but the wall time). Cells come back in the order of bugs, then
// scenarios.
func Matrix(ctx context.Context, scenarios []scenario.Scenario, bugs []string, seeds, parallel int) ([]Cell, error) {
	type job struct {
		cell int
		sc   scenario.Scenario
		bug  string
		seed int64
	}
	var cells []Cell
	var jobs []job
	for _, bug := range bugs {
		for _, sc := range scenarios {
			if !Relevant(bug, sc) {
				continue
			}
			for seed := int64(1); seed <= int64(seeds); seed++ {
				jobs = append(jobs, job{len(cells), sc, bug, seed})
			}
			cells = append(cells, Cell{Scenario: sc.Name, Bug: bug, Seeds: seeds, MedianDetection: -1})
		}
	}
	trials := make([]Trial, len(jobs))
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	next := make(chan int)
	for range max(parallel, 1) {
		wg.Go(func() {
			for i := range next {
				j := jobs[i]
				trials[i], errs[i] = RunTrial(ctx, j.sc, j.bug, j.seed)
			}
		})
	}
	for i := range jobs {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(append(errs, ctx.Err())...); err != nil {
		return nil, err
	}
	byCell := make([][]Trial, len(cells))
	for i, j := range jobs {
		byCell[j.cell] = append(byCell[j.cell], trials[i])
	}
	for i := range cells {
		cells[i].add(byCell[i])
	}
	return cells, nil
}

// add summarises a cell's trials.
func (cell *Cell) add(trials []Trial) {
	var times []time.Duration
	counts := map[string]int{}
	for _, t := range trials {
		switch t.Verdict {
		case checker.Invalid:
			cell.Invalid++
			times = append(times, t.DetectedAt)
		case checker.Unknown:
			cell.Unknown++
		}
		for _, k := range t.Anomalies {
			counts[k]++
		}
		for _, c := range t.Crashes {
			counts["crash "+c[strings.Index(c, ": ")+2:]]++
		}
	}
	if len(times) > 0 {
		slices.Sort(times)
		cell.MedianDetection = times[len(times)/2]
		if len(times)%2 == 0 {
			cell.MedianDetection = (times[len(times)/2-1] + times[len(times)/2]) / 2
		}
	}
	for k := range counts {
		cell.Kinds = append(cell.Kinds, k)
	}
	slices.SortFunc(cell.Kinds, func(a, b string) int {
		if counts[a] != counts[b] {
			return counts[b] - counts[a]
		}
		return strings.Compare(a, b)
	})
}

// Judge checks a matrix against the simulator's promise: every bug is
// detected by at least one scenario in at least 95% of the seeds (19 of
// 20), and the bug-free simulator has no invalid verdict anywhere. It
// returns the promises broken, one sentence each.
func Judge(cells []Cell) []string {
	var broken []string
	best := map[string]int{}
	seen := []string{}
	for _, c := range cells {
		if c.Bug == "" {
			if c.Invalid > 0 {
				broken = append(broken, fmt.Sprintf("the bug-free simulator is invalid on %s in %d of %d seeds", c.Scenario, c.Invalid, c.Seeds))
			}
			continue
		}
		if !slices.Contains(seen, c.Bug) {
			seen = append(seen, c.Bug)
		}
		need := (c.Seeds*95 + 99) / 100
		if c.Invalid >= need {
			best[c.Bug]++
		}
	}
	for _, b := range seen {
		if best[b] == 0 {
			broken = append(broken, fmt.Sprintf("no scenario detects %s in at least 95%% of the seeds", b))
		}
	}
	return broken
}

// WriteMatrix prints cells as a table: per bug, each scenario's detections
// in k of n seeds and the median virtual time to detection; the bug-free
// rows show invalid verdicts, which must be none.
func WriteMatrix(w io.Writer, cells []Cell) error {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "bug\tscenario\tdetected\tmedian time to detection\tanomalies seen")
	for _, c := range cells {
		bug, detected, median := c.Bug, fmt.Sprintf("%d/%d", c.Invalid, c.Seeds), "-"
		if bug == "" {
			bug = "(none)"
			detected = fmt.Sprintf("%d/%d invalid", c.Invalid, c.Seeds)
		}
		if c.Unknown > 0 {
			detected += fmt.Sprintf(" (%d unknown)", c.Unknown)
		}
		if c.MedianDetection >= 0 {
			median = c.MedianDetection.Round(time.Millisecond).String()
		}
		kinds := strings.Join(c.Kinds, ", ")
		if len(kinds) > 60 {
			kinds = kinds[:57] + "..."
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", bug, c.Scenario, detected, median, kinds)
	}
	return tw.Flush()
}
