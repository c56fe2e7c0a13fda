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

// inTimeOrder sorts an anomaly's events the way the history has them (by
// time, then index), so the table a person reads runs forwards: the
// explanation names the operations in the order its argument needs, which
// is not the order they happened in.
func inTimeOrder(events []history.Event) []history.Event {
	sort.SliceStable(events, func(i, j int) bool {
		if events[i].Time != events[j].Time {
			return events[i].Time < events[j].Time
		}
		return events[i].Index < events[j].Index
	})
	return events
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

// faultTimeline answers "which nemesis faults were in force at time t",
// for many t, after one pass over the history. A "start-X" event puts fault
// X in force, a "stop-X" event ends it; a fault that could not be applied
// (its event carries an error) changes nothing.
type faultTimeline struct {
	times  []int64    // times of the nemesis events that changed something
	active [][]string // faults in force from times[i] on, e.g. "kill (n1)"
}

func newFaultTimeline(events []history.Event) *faultTimeline {
	ft := &faultTimeline{}
	inForce := map[string]history.Event{}
	for _, e := range events {
		if e.IsClient() || e.Error != "" {
			continue
		}
		if name, ok := strings.CutPrefix(e.F, "start-"); ok {
			inForce[name] = e
		} else if name, ok := strings.CutPrefix(e.F, "stop-"); ok {
			delete(inForce, name)
		} else {
			continue
		}
		var now []string
		for name, s := range inForce {
			if len(s.Nodes) > 0 {
				name += " (" + strings.Join(s.Nodes, ", ") + ")"
			}
			now = append(now, name)
		}
		sort.Strings(now)
		ft.times = append(ft.times, e.Time)
		ft.active = append(ft.active, now)
	}
	return ft
}

// at lists the faults in force at time t.
func (ft *faultTimeline) at(t int64) []string {
	i := sort.Search(len(ft.times), func(i int) bool { return ft.times[i] > t })
	if i == 0 {
		return nil
	}
	return ft.active[i-1]
}

// sentence is at(t) as the end of an explanation.
func (ft *faultTimeline) sentence(t int64) string {
	f := ft.at(t)
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
