package checker

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/dqtest/dqtest/history"
)

// knownFs are the operation names (f) each workload's client operations use
// (docs/history.md). A checker judges only these; any other f is reported.
var knownFs = map[string][]string{
	"register": {"read", "write", "cas"},
	"bank":     {"transfer", "read"},
	"set":      {"add", "read", "final-read"},
	"append":   {"txn"},
}

// KnownFs returns the operation names (f) of the named workload's client
// operations, sorted; nil for a workload it does not know. Code that takes a
// history for a workload can refuse one with other operations before
// checking it (every checker also reports them: see coverage).
func KnownFs(workload string) []string {
	fs := slices.Clone(knownFs[workload])
	sort.Strings(fs)
	return fs
}

// coverage says what part of a history a checker of one workload could
// judge: how many client operations of the workload's f completed ok, and
// which client operations have an f the workload does not know.
type coverage struct {
	workload string
	// invoked counts invocations of the workload's operations, by outcome.
	ok, fail, info int
	// unknown counts the invocations of each f the workload does not know.
	unknown map[string]int
}

// scanCoverage counts the client operations of events for the workload.
// Operations are counted by their invocation; an invocation never completed
// counts as info, as everywhere else.
func scanCoverage(workload string, events []history.Event) coverage {
	return coverageOf(workload, history.Pair(events))
}

// coverageOf is scanCoverage of paired operations.
func coverageOf(workload string, ops []history.Operation) coverage {
	c := coverage{workload: workload}
	for _, op := range ops {
		c.add(op.Invoke.F, op.Completion)
	}
	return c
}

// add counts one operation: its f, and its completion (nil when it never
// completed).
func (c *coverage) add(f string, completion *history.Event) {
	if !slices.Contains(knownFs[c.workload], f) {
		if c.unknown == nil {
			c.unknown = map[string]int{}
		}
		c.unknown[f]++
		return
	}
	outcome := history.Info
	if completion != nil {
		outcome = completion.Type
	}
	switch outcome {
	case history.OK:
		c.ok++
	case history.Fail:
		c.fail++
	default:
		c.info++
	}
}

// apply makes res honest about what was judged. A history with no ok
// operation of the workload was not judged at all: a Valid verdict becomes
// Unknown, "nothing to check: ...". Client operations with an f the
// workload does not know were not judged either: a Valid verdict becomes
// Unknown, with the f values and their counts. An Invalid verdict stands
// (its anomalies are real); the unknown operations are then in
// Stats["unknown_f"].
func (c coverage) apply(res *Result) {
	if res.Stats == nil {
		res.Stats = map[string]any{}
	}
	var reasons []string
	if c.ok == 0 {
		reasons = append(reasons, "nothing to check: "+c.nothingDetail())
	}
	if len(c.unknown) > 0 {
		res.Stats["unknown_f"] = c.unknown
		reasons = append(reasons, c.unknownDetail())
	}
	if len(reasons) == 0 || res.Verdict == Invalid {
		return
	}
	if res.Reason != "" && !slices.Contains(reasons, res.Reason) {
		reasons = append(reasons, res.Reason)
	}
	res.Verdict = Unknown
	res.Reason = strings.Join(reasons, "; ")
}

func (c coverage) nothingDetail() string {
	fs := strings.Join(quoteAll(KnownFs(c.workload)), ", ")
	if c.fail+c.info == 0 {
		return fmt.Sprintf("the history has no %s operation (%s), so the %s checker judged nothing", c.workload, fs, c.workload)
	}
	return fmt.Sprintf("none of the history's %d %s operation(s) (%s) completed ok (%d fail, %d info or never completed), so the %s checker judged nothing",
		c.fail+c.info, c.workload, fs, c.fail, c.info, c.workload)
}

func (c coverage) unknownDetail() string {
	fs := make([]string, 0, len(c.unknown))
	for f := range c.unknown {
		fs = append(fs, f)
	}
	sort.Strings(fs)
	parts := make([]string, len(fs))
	total := 0
	for i, f := range fs {
		parts[i] = fmt.Sprintf("%q x%d", f, c.unknown[f])
		total += c.unknown[f]
	}
	return fmt.Sprintf("%d client operation(s) have an f the %s workload does not know, and were not checked: %s (known: %s)",
		total, c.workload, strings.Join(parts, ", "), strings.Join(quoteAll(KnownFs(c.workload)), ", "))
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = fmt.Sprintf("%q", x)
	}
	return out
}
