package checker

import (
	"fmt"
	"sort"
	"strings"

	"github.com/dqtest/dqtest/history"
)

// Helpers that the register, bank and set checkers share to explain an
// anomaly to a person: which operation, who served it, what faults were in
// force.

// opEvents returns an operation's invoke and, when it has one, completion:
// the events an Anomaly lists.
func opEvents(op history.Operation) []history.Event {
	if op.Completion == nil {
		return []history.Event{op.Invoke}
	}
	return []history.Event{op.Invoke, *op.Completion}
}

// opNode is the node that served an operation: the completion's node, else
// the invoke's.
func opNode(op history.Operation) string {
	if op.Completion != nil && op.Completion.Node != "" {
		return op.Completion.Node
	}
	return op.Invoke.Node
}

// opWhere describes who performed an operation and where it sits in the
// history: "process 3 on n2 (index 12..15)".
func opWhere(op history.Operation) string {
	var b strings.Builder
	fmt.Fprintf(&b, "process %v", op.Invoke.Process)
	if n := opNode(op); n != "" {
		fmt.Fprintf(&b, " on %s", n)
	}
	if op.Completion != nil {
		fmt.Fprintf(&b, " (index %d..%d)", op.Invoke.Index, op.Completion.Index)
	} else {
		fmt.Fprintf(&b, " (index %d, never completed)", op.Invoke.Index)
	}
	return b.String()
}

// faultsInForce lists the nemesis faults started and not yet stopped at time
// t, e.g. "partition-halves (n1, n2)". Faults are matched by name: a
// "start-X" event opens X, a "stop-X" event closes it.
func faultsInForce(events []history.Event, t int64) []string {
	active := map[string]history.Event{}
	for _, e := range events {
		if e.Time > t {
			break
		}
		if e.IsClient() || e.Error != "" {
			continue
		}
		if name, ok := strings.CutPrefix(e.F, "start-"); ok {
			active[name] = e
		} else if name, ok := strings.CutPrefix(e.F, "stop-"); ok {
			delete(active, name)
		}
	}
	var out []string
	for name, e := range active {
		if len(e.Nodes) > 0 {
			name += " (" + strings.Join(e.Nodes, ", ") + ")"
		}
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// faultsSentence is faultsInForce as the end of a sentence.
func faultsSentence(events []history.Event, t int64) string {
	f := faultsInForce(events, t)
	if len(f) == 0 {
		return " No fault was in force at that time."
	}
	return " Faults in force at that time: " + strings.Join(f, "; ") + "."
}

// asInt reads a normalised integer.
func asInt(v any) (int64, bool) {
	i, ok := history.Normalize(v).(int64)
	return i, ok
}
