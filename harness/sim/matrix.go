package sim

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/harness"
	"github.com/dqtest/dqtest/history"
	"github.com/dqtest/dqtest/nemesis"
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
func RunTrial(ctx context.Context, sc harness.Scenario, bug string, seed int64) (Trial, error) {
	sc.Seed = seed
	cfg, err := ConfigFor(sc, bug)
	if err != nil {
		return Trial{}, err
	}
	var events eventLog
	cfg.Record = &events
	sum, err := Run(ctx, cfg)
	if err != nil {
		return Trial{}, fmt.Errorf("scenario %s, bug %q, seed %d: %w", sc.Name, bug, seed, err)
	}
	t := Trial{Scenario: sc.Name, Bug: bug, Seed: seed, Summary: sum, DetectedAt: -1}
	budget := sc.Checker.TimeBudget
	if budget <= 0 {
		budget = time.Minute
	}
	cctx, cancel := context.WithTimeout(ctx, budget)
	res := cfg.Workload.Checker().Check(cctx, events)
	cancel()
	t.Verdict, t.Reason = res.Verdict, res.Reason
	for _, a := range res.Anomalies {
		if !slices.Contains(t.Anomalies, a.Kind) {
			t.Anomalies = append(t.Anomalies, a.Kind)
		}
		for _, e := range a.Ops {
			t.detected(time.Duration(e.Time))
		}
	}
	killed := map[string]bool{}
	for _, n := range sum.Nodes {
		killed[n.Name] = n.KilledByNemesis
	}
	for _, rep := range sum.NodeReports() {
		for _, c := range harness.DetectCrashes(rep.Node, rep.Exit, rep.Log, killed[rep.Node]) {
			t.Crashes = append(t.Crashes, rep.Node+": "+c.Signature)
			t.Verdict = checker.Invalid
		}
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

// Relevant reports whether bug can show in scenario sc at all: its
// workload's histories can reveal it, and for a crash bug, the scenario
// stops nodes.
func Relevant(bug string, sc harness.Scenario) bool {
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

// MatrixCell runs bug on sc over seeds 1..n.
func MatrixCell(ctx context.Context, sc harness.Scenario, bug string, n int) (Cell, error) {
	cell := Cell{Scenario: sc.Name, Bug: bug, Seeds: n, MedianDetection: -1}
	var times []time.Duration
	counts := map[string]int{}
	for seed := int64(1); seed <= int64(n); seed++ {
		t, err := RunTrial(ctx, sc, bug, seed)
		if err != nil {
			return cell, err
		}
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
	return cell, nil
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
