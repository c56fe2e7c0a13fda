package report

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/history"
)

// anomalyView is an anomaly as the report shows it. For a bank read that
// went wrong (a wrong total, a negative balance, missing accounts) it also
// carries the transfers whose execution overlapped the read: a dqlite
// engineer's first question is which of them the read saw half of.
type anomalyView struct {
	checker.Anomaly
	// Overlapping are the invoke and completion events of the transfers
	// that overlapped the read, in time order; OverlapNote says how many
	// and what was left out.
	Overlapping []history.Event
	OverlapNote string
}

// maxOverlapping bounds the transfers listed per anomaly.
const maxOverlapping = 25

// anomalyViews adds to each anomaly of checker name what the report shows
// beside it.
func anomalyViews(name string, anomalies []checker.Anomaly, events []history.Event) []anomalyView {
	views := make([]anomalyView, len(anomalies))
	var ops []history.Operation
	for i, a := range anomalies {
		views[i].Anomaly = a
		if name != "bank" {
			continue
		}
		if ops == nil {
			ops = history.Pair(events)
		}
		views[i].Overlapping, views[i].OverlapNote = overlappingTransfers(ops, a)
	}
	return views
}

// overlappingTransfers finds the bank read among a's events and every
// transfer that was in flight at some moment of it: invoked before the
// read completed, and completed (or never completed) after it was
// invoked. A transfer that failed changed nothing and is only counted.
func overlappingTransfers(ops []history.Operation, a checker.Anomaly) ([]history.Event, string) {
	rw, found := readWindowOf(a)
	if !found {
		return nil, ""
	}
	var o overlap
	for _, op := range ops {
		o.add(rw, op)
	}
	return o.result(rw)
}

// readWindow is when the bank read of an anomaly ran.
type readWindow struct{ start, end int64 }

// readWindowOf finds the bank read among a's events.
func readWindowOf(a checker.Anomaly) (readWindow, bool) {
	rw := readWindow{0, math.MaxInt64}
	found := false
	for _, e := range a.Ops {
		if e.F != "read" {
			continue
		}
		switch e.Type {
		case history.Invoke:
			rw.start, found = e.Time, true
		default:
			rw.end = e.Time
		}
	}
	return rw, found
}

// overlap collects the transfers that overlapped one read, fed the
// operations in invoke order.
type overlap struct {
	picked              []history.Operation
	failed, ok, unknown int
}

func (o *overlap) add(rw readWindow, op history.Operation) {
	if op.Invoke.F != "transfer" || op.Invoke.Time > rw.end {
		return
	}
	end := int64(math.MaxInt64)
	if op.Completion != nil {
		end = op.Completion.Time
	}
	if end < rw.start {
		return
	}
	switch op.Outcome() {
	case history.Fail:
		o.failed++
		return
	case history.OK:
		o.ok++
	default:
		o.unknown++
	}
	if op.Completion != nil {
		c := *op.Completion // kept: op may point into a batch that is reused
		op.Completion = &c
	}
	o.picked = append(o.picked, op)
}

func (o *overlap) result(rw readWindow) ([]history.Event, string) {
	picked, failed, ok, unknown, readStart := o.picked, o.failed, o.ok, o.unknown, rw.start
	var parts []string
	if ok > 0 {
		parts = append(parts, fmt.Sprintf("%d acknowledged", ok))
	}
	if unknown > 0 {
		parts = append(parts, fmt.Sprintf("%d with an unknown outcome (they may or may not have happened)", unknown))
	}
	note := "No transfer overlapped the read"
	if len(parts) > 0 {
		note = "Transfers in flight while the read ran: " + strings.Join(parts, ", ")
	}
	if failed > 0 {
		note += fmt.Sprintf("; %d failed ones changed nothing and are left out", failed)
	}
	if len(picked) > maxOverlapping {
		note += fmt.Sprintf("; the %d listed are those invoked closest to the read's start, the rest are in history.jsonl", maxOverlapping)
		sort.SliceStable(picked, func(i, j int) bool {
			return distance(picked[i].Invoke.Time, readStart) < distance(picked[j].Invoke.Time, readStart)
		})
		picked = picked[:maxOverlapping]
	}
	note += "."
	var events []history.Event
	for _, op := range picked {
		events = append(events, op.Invoke)
		if op.Completion != nil {
			events = append(events, *op.Completion)
		}
	}
	sort.SliceStable(events, func(i, j int) bool {
		if events[i].Time != events[j].Time {
			return events[i].Time < events[j].Time
		}
		return events[i].Index < events[j].Index
	})
	return events, note
}

func distance(a, b int64) int64 {
	if a > b {
		return a - b
	}
	return b - a
}
