package checker

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/dqtest/dqtest/history"
)

// NewSet returns the checker of the set workload (docs/history.md, "set"):
// unique adds, then after healing one "final-read" of the whole set through
// every node. Each ok final read R is judged on its own, because each node
// must end up with the whole set:
//   - lost: an element R must contain is absent. R must contain every add
//     acknowledged (ok) before R was invoked, and every element some ok read
//     (read or final-read) returned before R was invoked: a set only grows.
//   - unexpected: R contains an element never added: never invoked, or whose
//     add failed (fail promises it did not happen).
//   - duplicated: any ok read returns an element twice.
//
// An add with unknown outcome (info, or never completed) that R contains is
// "recovered": not an error, counted in the stats. Without an ok final read
// the verdict is Unknown: there is nothing to judge the adds by.
func NewSet() Checker { return setChecker{} }

type setChecker struct{}

func (setChecker) Name() string { return "set" }

// setMaxListed bounds the elements an explanation lists; the anomaly's count
// is exact.
const setMaxListed = 10

type setAddition struct {
	op      history.Operation
	outcome history.Type
}

type setObserved struct {
	op    history.Operation
	final bool
	elems map[int64]int // element -> times returned
}

func (setChecker) Check(ctx context.Context, events []history.Event) (res Result) {
	res = Result{Checker: "set", Verdict: Valid, Stats: map[string]any{}}
	adds := map[int64]*setAddition{}
	var reads []setObserved
	var malformed []string
	paired := history.Pair(events)
	// No verdict from nothing: a history without an ok set operation, or
	// with operations of another workload, is never Valid.
	defer coverageOf("set", paired).apply(&res)
	for _, op := range paired {
		switch op.Invoke.F {
		case "add":
			v, ok := asInt(op.Invoke.Value)
			if !ok {
				malformed = append(malformed, fmt.Sprintf("index %d: add of %v: want an integer", op.Invoke.Index, op.Invoke.Value))
				continue
			}
			if prev, seen := adds[v]; seen {
				malformed = append(malformed, fmt.Sprintf("index %d: %d was already added at index %d; adds must be unique",
					op.Invoke.Index, v, prev.op.Invoke.Index))
				continue
			}
			adds[v] = &setAddition{op: op, outcome: op.Outcome()}
		case "read", "final-read":
			if op.Outcome() != history.OK {
				continue
			}
			elems, err := setElements(op.Completion.Value)
			if err != nil {
				malformed = append(malformed, fmt.Sprintf("index %d: %v", op.Completion.Index, err))
				continue
			}
			reads = append(reads, setObserved{op: op, final: op.Invoke.F == "final-read", elems: elems})
		}
	}
	if len(malformed) > 0 {
		sort.Strings(malformed)
		res.Verdict = Unknown
		res.Reason = fmt.Sprintf("%d operation(s) are malformed: %s", len(malformed), strings.Join(first(malformed, 5), "; "))
		return res
	}
	if ctx.Err() != nil {
		res.Verdict, res.Reason = Unknown, "the check was cancelled"
		return res
	}

	var acknowledged, unsure, failed int
	for _, a := range adds {
		switch a.outcome {
		case history.OK:
			acknowledged++
		case history.Fail:
			failed++
		default:
			unsure++
		}
	}
	res.Stats["attempted"] = len(adds)
	res.Stats["acknowledged"] = acknowledged
	res.Stats["unknown"] = unsure
	res.Stats["failed"] = failed

	faults := newFaultTimeline(events)
	for _, r := range reads {
		if a, ok := setDuplicated(faults, r); ok {
			res.Anomalies = append(res.Anomalies, a)
		}
	}
	firstSeen := map[int64]int{}
	for i, r := range reads {
		for e := range r.elems {
			if j, ok := firstSeen[e]; !ok || r.op.Completion.Time < reads[j].op.Completion.Time {
				firstSeen[e] = i
			}
		}
	}
	finals := 0
	recovered := map[int64]bool{}
	for _, r := range reads {
		if !r.final {
			continue
		}
		finals++
		for e := range r.elems {
			if a, ok := adds[e]; ok && a.outcome != history.OK && a.outcome != history.Fail {
				recovered[e] = true
			}
		}
		res.Anomalies = append(res.Anomalies, setLost(faults, r, adds, reads, firstSeen)...)
		res.Anomalies = append(res.Anomalies, setUnexpected(faults, r, adds)...)
	}
	res.Stats["final_reads"] = finals
	res.Stats["recovered"] = len(recovered)
	res.Stats["unknown_absent"] = unsure - len(recovered)
	if len(res.Anomalies) > 0 {
		res.Verdict = Invalid
	} else if finals == 0 {
		res.Verdict = Unknown
		res.Reason = "the history has no ok final-read, so no add can be judged"
	}
	return res
}

// setElements reads a list of integers, counting repeats.
func setElements(v any) (map[int64]int, error) {
	list, ok := history.Normalize(v).([]any)
	if !ok && v != nil {
		return nil, fmt.Errorf("read value %v: want a list of integers", v)
	}
	out := make(map[int64]int, len(list))
	for _, x := range list {
		i, ok := x.(int64)
		if !ok {
			return nil, fmt.Errorf("read value contains %v: want integers", x)
		}
		out[i]++
	}
	return out, nil
}

func setReadName(r setObserved) string {
	if r.final {
		return "final read through " + orUnknown(opNode(r.op)) + fmt.Sprintf(" (process %v, index %d..%d)", r.op.Invoke.Process, r.op.Invoke.Index, r.op.Completion.Index)
	}
	return "read by " + opWhere(r.op)
}

func orUnknown(node string) string {
	if node == "" {
		return "an unnamed node"
	}
	return node
}

func setDuplicated(faults *faultTimeline, r setObserved) (Anomaly, bool) {
	var dup []int64
	for e, n := range r.elems {
		if n > 1 {
			dup = append(dup, e)
		}
	}
	if len(dup) == 0 {
		return Anomaly{}, false
	}
	sortInts(dup)
	desc := make([]string, 0, len(dup))
	for _, e := range first(dup, setMaxListed) {
		desc = append(desc, fmt.Sprintf("%d (%d times)", e, r.elems[e]))
	}
	return Anomaly{Kind: "duplicated", Ops: opEvents(r.op), Explanation: fmt.Sprintf(
		"The %s returned %d element(s) more than once: %s. Each element is added once, so an add was applied twice.%s",
		setReadName(r), len(dup), listMore(desc, len(dup)), faults.sentence(r.op.Invoke.Time))}, true
}

// setLost lists what final read r must contain and does not. firstSeen maps
// each element to the read (in reads) that returned it and completed first.
func setLost(faults *faultTimeline, r setObserved, adds map[int64]*setAddition, reads []setObserved, firstSeen map[int64]int) []Anomaly {
	because := map[int64]string{}
	var ops []history.Event
	for e, a := range adds {
		if _, present := r.elems[e]; present || a.outcome != history.OK || a.op.Completion.Time >= r.op.Invoke.Time {
			continue
		}
		because[e] = "acknowledged"
		if len(ops) < 2*setMaxListed {
			ops = append(ops, opEvents(a.op)...)
		}
	}
	witnesses := map[int]bool{}
	for e, wi := range firstSeen {
		w := reads[wi]
		if w.op.Completion.Time >= r.op.Invoke.Time {
			continue
		}
		if _, present := r.elems[e]; !present && because[e] == "" {
			because[e] = "seen by the " + setReadName(w)
			if !witnesses[wi] {
				witnesses[wi] = true
				ops = append(ops, opEvents(w.op)...)
			}
		}
	}
	if len(because) == 0 {
		return nil
	}
	lost := make([]int64, 0, len(because))
	for e := range because {
		lost = append(lost, e)
	}
	sortInts(lost)
	var acked, seen []string
	for _, e := range lost {
		if because[e] == "acknowledged" {
			acked = append(acked, fmt.Sprint(e))
		} else {
			seen = append(seen, fmt.Sprintf("%d (%s)", e, because[e]))
		}
	}
	var parts []string
	if len(acked) > 0 {
		parts = append(parts, fmt.Sprintf("%d add(s) acknowledged before it began: %s", len(acked), listMore(first(acked, setMaxListed), len(acked))))
	}
	if len(seen) > 0 {
		parts = append(parts, fmt.Sprintf("%d element(s) an earlier read returned: %s", len(seen), listMore(first(seen, setMaxListed), len(seen))))
	}
	ops = append(opEvents(r.op), ops...)
	return []Anomaly{{Kind: "lost", Ops: ops, Explanation: fmt.Sprintf(
		"The %s lacks %s. A set only grows, so these elements were lost.%s",
		setReadName(r), strings.Join(parts, ", and "), faults.sentence(r.op.Invoke.Time))}}
}

// setUnexpected lists what final read r contains and no add explains.
func setUnexpected(faults *faultTimeline, r setObserved, adds map[int64]*setAddition) []Anomaly {
	var never, failed []int64
	var ops []history.Event
	for e := range r.elems {
		a, attempted := adds[e]
		switch {
		case !attempted:
			never = append(never, e)
		case a.outcome == history.Fail:
			failed = append(failed, e)
			if len(ops) < 2*setMaxListed {
				ops = append(ops, opEvents(a.op)...)
			}
		}
	}
	if len(never)+len(failed) == 0 {
		return nil
	}
	sortInts(never)
	sortInts(failed)
	var parts []string
	if len(never) > 0 {
		parts = append(parts, fmt.Sprintf("%d element(s) no client ever added: %s", len(never), listMore(intStrings(first(never, setMaxListed)), len(never))))
	}
	if len(failed) > 0 {
		parts = append(parts, fmt.Sprintf("%d element(s) whose add failed, which promises it did not happen: %s", len(failed), listMore(intStrings(first(failed, setMaxListed)), len(failed))))
	}
	return []Anomaly{{Kind: "unexpected", Ops: append(opEvents(r.op), ops...), Explanation: fmt.Sprintf(
		"The %s contains %s.%s", setReadName(r), strings.Join(parts, ", and "), faults.sentence(r.op.Invoke.Time))}}
}

func sortInts(s []int64) { sort.Slice(s, func(i, j int) bool { return s[i] < s[j] }) }

func intStrings(s []int64) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = fmt.Sprint(v)
	}
	return out
}

// listMore joins shown items and says how many more there are.
func listMore(shown []string, total int) string {
	s := strings.Join(shown, ", ")
	if total > len(shown) {
		s += fmt.Sprintf(" and %d more", total-len(shown))
	}
	return s
}
