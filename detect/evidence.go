package detect

import (
	"slices"
	"time"

	"github.com/dqtest/dqtest/history"
)

// InFlight is what a run was doing to a node when the node crashed or hung:
// the fault step being applied (or the last one before, when none was) and
// the client operations sent through the node that had not completed.
type InFlight struct {
	// At is when, in seconds from the start of the history: the time of the
	// last log line before the crash report (a crash comes right after).
	At float64 `json:"at_s"`
	// Fault is the nemesis event of the step in flight at At (Relation
	// "in_flight": its record was written after At, by a step that began
	// before), else the last one before At ("last_before").
	Fault    *history.Event `json:"fault,omitempty"`
	Relation string         `json:"relation,omitempty"`
	// Ops are the invocations through the node still open at At, and
	// OpsOpen how many there were in all.
	Ops     []history.Event `json:"ops,omitempty"`
	OpsOpen int             `json:"ops_open"`
}

// inFlightOps is how many open operations InFlight lists.
const inFlightOps = 5

// AttachEvidence adds to each crash what the history says about the moment
// it happened, the node's exit status, and how to rerun it. historyStart is
// the wall-clock time the history's time 0 stands for; stepTimeout bounds
// how long a fault step can have been running; exits are the exit statuses
// the harness saw before it restarted dead nodes.
func AttachEvidence(crashes []Crash, events []history.Event, historyStart time.Time, stepTimeout time.Duration,
	seed int64, dir string, exits map[string]NodeExit, final map[string]NodeExit) {
	rerun := "dqtest repro " + dir
	for i := range crashes {
		c := &crashes[i]
		c.Seed, c.Rerun = seed, rerun
		if e, ok := exits[c.Node]; ok {
			c.Exit = &e
		} else if e, ok := final[c.Node]; ok && !e.Running {
			c.Exit = &e
		}
		if c.InFlight != nil || c.LogTime == "" || historyStart.IsZero() {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, c.LogTime)
		if err != nil {
			continue
		}
		c.InFlight = inFlightAt(events, c.Node, t.Sub(historyStart).Nanoseconds(), stepTimeout.Nanoseconds())
	}
}

// inFlightAt finds what was in flight on node at history time at.
func inFlightAt(events []history.Event, node string, at, stepTimeout int64) *InFlight {
	f := &InFlight{At: float64(at) / 1e9}
	touches := func(e history.Event) bool { return len(e.Nodes) == 0 || slices.Contains(e.Nodes, node) }
	// A step's record is written when it ends: the first one after at, if
	// it ended within a step's time, was running at at.
	var before *history.Event
	for i := range events {
		e := events[i]
		if e.IsClient() || !touches(e) {
			continue
		}
		if e.Time < at {
			before = &events[i]
			continue
		}
		if e.Time-at <= stepTimeout {
			f.Fault, f.Relation = &events[i], "in_flight"
		}
		break
	}
	if f.Fault == nil && before != nil {
		f.Fault, f.Relation = before, "last_before"
	}
	// Client operations through the node invoked before at and not
	// completed by then.
	open := map[history.Process]int{}
	for i, e := range events {
		if !e.IsClient() || e.Time > at {
			continue
		}
		if e.Type == history.Invoke {
			if e.Node == node {
				open[e.Process] = i
			}
			continue
		}
		delete(open, e.Process)
	}
	idx := make([]int, 0, len(open))
	for _, i := range open {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	f.OpsOpen = len(idx)
	for _, i := range idx[:min(len(idx), inFlightOps)] {
		f.Ops = append(f.Ops, events[i])
	}
	return f
}
