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
	_ = AttachEvidenceFrom(crashes, history.SliceSource(events), historyStart, stepTimeout, seed, dir, exits, final)
}

// AttachEvidenceFrom is AttachEvidence of a history replayed from src (in
// one pass, for every crash at once, keeping per crash only the operations
// open on its node). Its error is src's: the crashes then have no
// in-flight evidence.
func AttachEvidenceFrom(crashes []Crash, src history.Source, historyStart time.Time, stepTimeout time.Duration,
	seed int64, dir string, exits map[string]NodeExit, final map[string]NodeExit) error {
	rerun := "dqtest repro " + dir
	var scans []*inFlightScan
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
		scans = append(scans, &inFlightScan{crash: c, node: c.Node, at: t.Sub(historyStart).Nanoseconds(),
			stepTimeout: stepTimeout.Nanoseconds(), open: map[history.Process]openOp{}})
	}
	if len(scans) == 0 {
		return nil
	}
	_, _, err := src(func(batch []history.Event, first int) error {
		for _, s := range scans {
			s.observe(batch, first)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, s := range scans {
		s.crash.InFlight = s.result()
	}
	return nil
}

// inFlightScan finds what was in flight on node at history time at.
type inFlightScan struct {
	crash           *Crash
	node            string
	at, stepTimeout int64
	// before is the last nemesis step touching the node before at, fault
	// the first at or after it (then the scan of faults is done).
	before, fault *history.Event
	faultsDone    bool
	// open are the client operations through the node invoked before at
	// and not completed by then, by process.
	open map[history.Process]openOp
}

type openOp struct {
	line int
	e    history.Event
}

func (s *inFlightScan) observe(batch []history.Event, first int) {
	for i := range batch {
		e := &batch[i]
		if !e.IsClient() {
			// A step's record is written when it ends: the first one
			// after at, if it ended within a step's time, was running at
			// at.
			if s.faultsDone || !(len(e.Nodes) == 0 || slices.Contains(e.Nodes, s.node)) {
				continue
			}
			if e.Time < s.at {
				c := *e
				s.before = &c
				continue
			}
			if e.Time-s.at <= s.stepTimeout {
				c := *e
				s.fault = &c
			}
			s.faultsDone = true
			continue
		}
		if e.Time > s.at {
			continue
		}
		if e.Type == history.Invoke {
			if e.Node == s.node {
				s.open[e.Process] = openOp{line: first + i, e: *e}
			}
			continue
		}
		delete(s.open, e.Process)
	}
}

func (s *inFlightScan) result() *InFlight {
	f := &InFlight{At: float64(s.at) / 1e9}
	if s.fault != nil {
		f.Fault, f.Relation = s.fault, "in_flight"
	} else if s.before != nil {
		f.Fault, f.Relation = s.before, "last_before"
	}
	ops := make([]openOp, 0, len(s.open))
	for _, o := range s.open {
		ops = append(ops, o)
	}
	slices.SortFunc(ops, func(a, b openOp) int { return a.line - b.line })
	f.OpsOpen = len(ops)
	for _, o := range ops[:min(len(ops), inFlightOps)] {
		f.Ops = append(f.Ops, o.e)
	}
	return f
}

// inFlightAt finds what was in flight on node at history time at.
func inFlightAt(events []history.Event, node string, at, stepTimeout int64) *InFlight {
	s := &inFlightScan{node: node, at: at, stepTimeout: stepTimeout, open: map[history.Process]openOp{}}
	s.observe(events, 1)
	return s.result()
}
