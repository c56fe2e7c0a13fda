package verdict

import (
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/detect"
	"github.com/dqtest/dqtest/scenario"
)

// Finding is one distinct crash or hang, by signature, over the nodes of a
// run or the runs of a repeat: the same assertion on n2 and n3, or in run 1
// and run 4, is one finding seen twice.
type Finding struct {
	Signature string `json:"signature"`
	Kind      string `json:"kind"`
	Expected  bool   `json:"expected,omitempty"`
	// Nodes are the nodes it struck, in order.
	Nodes []string `json:"nodes"`
	// Runs is the number of runs it appeared in; Count how many times it
	// appeared in all (a node may crash again after a restart).
	Runs  int `json:"runs"`
	Count int `json:"count"`
	// Seeds are the seeds of the runs it appeared in, in run order, and
	// FirstRun the number (from 1) of the first such run.
	Seeds    []int64 `json:"seeds"`
	FirstRun int     `json:"first_run"`
	// Evidence is its first occurrence, with the log excerpt, what was in
	// flight and how to rerun it.
	Evidence detect.Crash `json:"evidence"`
}

// Findings groups the crashes and hangs of runs (nil entries, runs that
// failed, are skipped but keep their number) by signature, most frequent
// first.
func Findings(results []*Result) []Finding {
	out := []Finding{}
	index := map[string]int{}
	for run, res := range results {
		if res == nil {
			continue
		}
		seen := map[string]bool{}
		for _, c := range res.Crashes {
			i, ok := index[c.Signature]
			if !ok {
				i = len(out)
				index[c.Signature] = i
				out = append(out, Finding{Signature: c.Signature, Kind: c.Kind, FirstRun: run + 1, Evidence: c})
			}
			f := &out[i]
			f.Expected = f.Expected || c.Expected
			f.Count += max(c.Count, 1)
			if !slices.Contains(f.Nodes, c.Node) {
				f.Nodes = append(f.Nodes, c.Node)
			}
			if !seen[c.Signature] {
				seen[c.Signature] = true
				f.Runs++
				f.Seeds = append(f.Seeds, res.Seed)
			}
		}
	}
	for i := range out {
		sort.Strings(out[i].Nodes)
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Runs > out[b].Runs })
	return out
}

// RepeatSummary is what `dqtest run --repeat N` reports for one scenario:
// how its runs ended and how often each finding appeared.
type RepeatSummary struct {
	Scenario string `json:"scenario"`
	Runs     int    `json:"runs"`
	// Outcomes counts the runs by outcome ("unknown" includes runs that
	// failed with a harness error).
	Outcomes map[checker.Verdict]int `json:"outcomes"`
	Findings []Finding               `json:"findings"`
	// Reproduced counts the runs that showed what the scenario expects
	// (its expected crash or anomaly); FirstReproduced is the first such
	// run's number (0: none) and SecondsToReproduce the wall-clock time of
	// the runs up to and including it.
	Reproduced         int     `json:"reproduced"`
	FirstReproduced    int     `json:"first_reproduced,omitempty"`
	SecondsToReproduce float64 `json:"seconds_to_reproduce,omitempty"`
	Seconds            float64 `json:"seconds"`
	// Outcome judges the repeat as a whole (see SummarizeRepeats) and sets
	// the exit code.
	Outcome checker.Verdict `json:"outcome"`
	Reasons []string        `json:"reasons,omitempty"`
}

// SummarizeRepeats judges N runs of one scenario (results[i] nil when run i
// failed). A scenario expected valid must be valid in every run. A scenario
// expecting a crash or anomaly, which may be a rare race, passes when at
// least one run showed it and no run showed anything unexpected: runs that
// merely missed it are counted, not held against it.
func SummarizeRepeats(sc scenario.Scenario, results []*Result, took []time.Duration) RepeatSummary {
	s := RepeatSummary{Scenario: sc.Name, Runs: len(results), Outcomes: map[checker.Verdict]int{}, Findings: Findings(results)}
	expectsEvidence := sc.Expect.Verdict == checker.Invalid
	var elapsed time.Duration
	worst := checker.Valid
	surprised := false
	for i, res := range results {
		if i < len(took) {
			elapsed += took[i]
		}
		if res == nil {
			s.Outcomes[checker.Unknown]++
			worst = checker.Worst(worst, checker.Unknown)
			continue
		}
		s.Outcomes[res.Outcome]++
		worst = checker.Worst(worst, res.Outcome)
		if res.Outcome == checker.Valid && expectsEvidence {
			s.Reproduced++
			if s.FirstReproduced == 0 {
				s.FirstReproduced = i + 1
				s.SecondsToReproduce = elapsed.Seconds()
			}
		}
		if res.Outcome == checker.Invalid && unexpectedIn(res.Reasons) {
			surprised = true
		}
	}
	s.Seconds = elapsed.Seconds()
	switch {
	case !expectsEvidence:
		s.Outcome = worst
	case surprised:
		s.Outcome = checker.Invalid
		s.Reasons = append(s.Reasons, "a run showed something the scenario does not expect")
	case s.Reproduced > 0:
		s.Outcome = checker.Valid
	case s.Outcomes[checker.Unknown] == len(results):
		s.Outcome = checker.Unknown
		s.Reasons = append(s.Reasons, "no run reached a verdict")
	default:
		s.Outcome = checker.Invalid
		s.Reasons = append(s.Reasons, "no run showed what the scenario expects")
	}
	return s
}

// unexpectedIn reports whether judge's reasons name something unexpected
// (rather than only something expected that did not appear).
func unexpectedIn(reasons []string) bool {
	return slices.ContainsFunc(reasons, func(r string) bool { return strings.HasPrefix(r, notExpectedPrefix) })
}
