package nemesis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// The stop-path faults: the ways dqlite's users stop nodes that have broken
// dqlite before (canonical/dqlite#737, #848, #855, PR 761, PR 762). Each is
// a short sequence of Cluster calls; what a stop does is the scenario's stop
// mode (guarded, unguarded, bypass), so one fault run in the three modes
// shows which mode avoids which crash.
//
//	double-stop             stop a node, then stop it again at once      undo: start
//	stop-two                stop two nodes at the same moment            undo: start both
//	stop-during-handover    the leader hands over; stop it meanwhile     undo: start
//	stop-with-open-txn      the leader holds a write transaction open;
//	                        stop it                                      undo: start
//	stop-after-start        stop, start, and stop again at once          undo: start
//	handover-after-stop     stop a node, then ask it to hand over        undo: start
//	never-started           stop, then hand over, a node that never
//	                        started (dqtest node --no-start)             undo: start
//	handover-never-started  the same, handover first                     undo: start
//	stop-start-loop         five stop/start cycles back to back          instantaneous
//
// Apart from Cluster they may need a backend that can hold a transaction
// open (TxnHolder) and one that takes calls at once (Parallel). These faults
// break the applier's rule of no clock and no goroutines, on purpose and
// only here: a call's duration is evidence (a stop that hangs), and two
// calls in flight at the same moment are the fault.
var stopFaults = []fault{
	{name: "double-stop", minNodes: 1, shape: shapeSpec, act: doubleStop, undo: Cluster.Start},
	{name: "stop-two", minNodes: 2, shape: shapeTwo, act: stopTogether, undo: Cluster.Start},
	{name: "stop-during-handover", minNodes: 2, shape: shapeLeader, act: stopDuringHandover, undo: Cluster.Start},
	{name: "stop-with-open-txn", minNodes: 1, shape: shapeLeader, act: stopWithOpenTxn, undo: Cluster.Start},
	{name: "stop-after-start", minNodes: 1, shape: shapeSpec, act: stopAfterStart, undo: Cluster.Start},
	{name: "handover-after-stop", minNodes: 1, shape: shapeSpec, act: handoverAfterStop, undo: Cluster.Start},
	{name: "never-started", minNodes: 1, shape: shapeOne, act: neverStarted(false), undo: Cluster.Start},
	{name: "handover-never-started", minNodes: 1, shape: shapeOne, act: neverStarted(true), undo: Cluster.Start},
	{name: "stop-start-loop", minNodes: 1, shape: shapeSpec, instant: true, act: stopStartLoop},
}

func init() { catalogue = append(catalogue, stopFaults...) }

// lastingStopFaults are the stop-path faults HealAll undoes (by starting
// their nodes again).
func lastingStopFaults() []string {
	var names []string
	for _, f := range stopFaults {
		if !f.instant {
			names = append(names, f.name)
		}
	}
	return names
}

// TxnHolder is a Cluster that can leave a write transaction open on the
// leader, through node's connection to it (docker backend: the node's
// /txn/hold). stop-with-open-txn needs one.
type TxnHolder interface {
	HoldTxn(ctx context.Context, node string) error
}

// Parallel is a Cluster whose methods may be called from several goroutines
// at once: every live backend, since the harness's clients already use it
// so. On any other Cluster (the simulator's, which runs one call at a time
// in virtual time) the calls a fault wants at the same moment are made one
// after the other, and the record says so.
type Parallel interface {
	Parallel() bool
}

func parallel(c Cluster) bool {
	p, ok := c.(Parallel)
	return ok && p.Parallel()
}

// Call is one Cluster call a stop-path fault made, as its record's value
// lists it: the evidence of what was in flight when a node died or hung.
type Call struct {
	Call string `json:"call"` // stop, start, handover, hold-txn
	Node string `json:"node"`
	// Offset is when the call began, in milliseconds from the step's
	// start; Took is how long it took.
	Offset int64  `json:"offset_ms"`
	Took   int64  `json:"took_ms"`
	Error  string `json:"error,omitempty"`
	// Concurrent is set on calls made at the same moment as another.
	Concurrent bool `json:"concurrent,omitempty"`
	// Reinstalled is what an upgrade or downgrade did (upgrade.go).
	Reinstalled *Reinstalled `json:"reinstalled,omitempty"`
}

// HandoverHead is how long stop-during-handover waits after sending the
// handover before sending the stop: long enough for the handover request to
// reach dqlite, short enough that the leadership transfer (tens of
// milliseconds on a LAN) is still under way.
const HandoverHead = 15 * time.Millisecond

// StopStartCycles is how many stop/start cycles stop-start-loop makes.
const StopStartCycles = 5

// calls records the calls of one fault step.
type calls struct {
	began time.Time
	list  []Call
	// now is the clock the calls are timed by: the wall clock, or the
	// cluster's own (Clock: the simulator's virtual time, so that its
	// histories stay byte-identical for a seed).
	now func() time.Time
}

func newCalls() *calls { return &calls{began: time.Now(), now: time.Now} }

// Clock is a Cluster with a clock of its own (the simulator's virtual
// time): the stop-path faults time their calls by it.
type Clock interface {
	Now() time.Time
}

// on times the calls by c's clock when c has one.
func (cs *calls) on(c Cluster) *calls {
	if clk, ok := capability[Clock](c); ok {
		cs.now = clk.Now
		cs.began = cs.now()
	}
	return cs
}

// do makes one call and records it; the error comes back named.
func (cs *calls) do(ctx context.Context, name, node string, f func(context.Context, string) error) error {
	call, err := cs.time(ctx, name, node, f)
	cs.list = append(cs.list, call)
	return err
}

func (cs *calls) time(ctx context.Context, name, node string, f func(context.Context, string) error) (Call, error) {
	start := cs.now()
	err := f(ctx, node)
	call := Call{Call: name, Node: node, Offset: start.Sub(cs.began).Milliseconds(), Took: cs.now().Sub(start).Milliseconds()}
	if err != nil {
		call.Error = err.Error()
		err = fmt.Errorf("%s: %w", node, err)
	}
	return call, err
}

// together makes the calls at once on a Parallel cluster (each delayed by
// its head start), else one after the other in order, and records them.
func (cs *calls) together(ctx context.Context, c Cluster, list []timedCall) error {
	if !parallel(c) {
		var errs []error
		for _, tc := range list {
			errs = append(errs, cs.do(ctx, tc.name, tc.node, tc.f))
		}
		return errors.Join(errs...)
	}
	out := make([]Call, len(list))
	errs := make([]error, len(list))
	done := make(chan int, len(list))
	for i, tc := range list {
		go func() {
			if tc.after > 0 {
				select {
				case <-time.After(tc.after):
				case <-ctx.Done():
				}
			}
			out[i], errs[i] = cs.time(ctx, tc.name, tc.node, tc.f)
			out[i].Concurrent = true
			done <- i
		}()
	}
	for range list {
		<-done
	}
	cs.list = append(cs.list, out...)
	return errors.Join(errs...)
}

type timedCall struct {
	name, node string
	after      time.Duration // head start of the other calls
	f          func(context.Context, string) error
}

func stopOf(c Cluster) func(context.Context, string) error     { return c.Stop }
func startOf(c Cluster) func(context.Context, string) error    { return c.Start }
func handoverOf(c Cluster) func(context.Context, string) error { return c.Handover }

// seqCall is one call of a stop-path sequence. A gate call that fails ends
// the sequence on its node, and the node does not count as done (its undo
// is not needed); a failure of any other call is recorded and the sequence
// goes on.
type seqCall struct {
	name string
	f    func(Cluster) func(context.Context, string) error
	gate bool
}

var (
	stopCall     = seqCall{name: "stop", f: stopOf, gate: true}
	startCall    = seqCall{name: "start", f: startOf, gate: true}
	handoverCall = seqCall{name: "handover", f: handoverOf}
	holdTxnCall  = seqCall{name: "hold-txn", f: func(c Cluster) func(context.Context, string) error {
		return c.(TxnHolder).HoldTxn
	}}
)

// sequence makes the calls on each target in turn and returns the nodes on
// which every gate call succeeded.
func sequence(calls ...seqCall) func(context.Context, Cluster, []string) ([]string, []Call, error) {
	return func(ctx context.Context, c Cluster, targets []string) ([]string, []Call, error) {
		cs := newCalls().on(c)
		var done []string
		var errs []error
		for _, n := range targets {
			ok := true
			for _, sc := range calls {
				if err := cs.do(ctx, sc.name, n, sc.f(c)); err != nil {
					errs = append(errs, err)
					if sc.gate {
						ok = false
						break
					}
				}
			}
			if ok {
				done = append(done, n)
			}
		}
		return done, cs.list, errors.Join(errs...)
	}
}

// The sequences:
var (
	// doubleStop: in unguarded mode the second dqlite_node_stop fails an
	// assertion (canonical/dqlite#737); guarded, it is a no-op. A node whose
	// first stop failed is not stopped again.
	doubleStop = sequence(stopCall, seqCall{name: "stop", f: stopOf})
	// stopAfterStart: stop, start, and stop again the moment the start
	// returned.
	stopAfterStart = sequence(stopCall, startCall, stopCall)
	// handoverAfterStop: in unguarded mode dqlite_node_handover on a
	// stopped node never returns (a hang); guarded, the handover is refused
	// as not running. It is asked for only if the stop worked.
	handoverAfterStop = sequence(stopCall, handoverCall)
	// stopStartLoop: StopStartCycles stop/start cycles back to back, ending
	// started; it gives up on a node at its first error.
	stopStartLoop = sequence(slices.Repeat([]seqCall{stopCall, startCall}, StopStartCycles)...)
)

// stopTogether stops every target at the same moment.
func stopTogether(ctx context.Context, c Cluster, targets []string) ([]string, []Call, error) {
	cs := newCalls().on(c)
	list := make([]timedCall, len(targets))
	for i, n := range targets {
		list[i] = timedCall{name: "stop", node: n, f: stopOf(c)}
	}
	err := cs.together(ctx, c, list)
	return stoppedNodes(cs.list), cs.list, err
}

// stopDuringHandover asks the leader to hand over and, HandoverHead later,
// stops it while the handover runs (canonical/dqlite#855's setting). A
// guarded stop waits for the handover to return first.
func stopDuringHandover(ctx context.Context, c Cluster, targets []string) ([]string, []Call, error) {
	cs := newCalls().on(c)
	var list []timedCall
	for _, n := range targets {
		list = append(list,
			timedCall{name: "handover", node: n, f: handoverOf(c)},
			timedCall{name: "stop", node: n, after: HandoverHead, f: stopOf(c)})
	}
	err := cs.together(ctx, c, list)
	return stoppedNodes(cs.list), cs.list, err
}

// stopWithOpenTxn leaves a write transaction open on the leader, through the
// leader's own connection, then stops the leader (a failed hold still
// stops it: a stop is what the fault is about).
func stopWithOpenTxn(ctx context.Context, c Cluster, targets []string) ([]string, []Call, error) {
	if _, ok := c.(TxnHolder); !ok {
		return nil, nil, errors.New("stop-with-open-txn needs a backend that can hold a transaction open (docker)")
	}
	return sequence(holdTxnCall, stopCall)(ctx, c, targets)
}

// neverStarted stops a node that never started, then hands it over (or the
// other way round): in unguarded mode either C call segfaults
// (canonical/dqlite#848); guarded, both are refused as not running. The
// target must run `dqtest node --no-start` (a scenario's node_args). Both
// calls are made whatever the first did. The undo starts the node: it
// joins the cluster (on the simulator, which has no never-started nodes,
// it comes back from the stop).
func neverStarted(handoverFirst bool) func(context.Context, Cluster, []string) ([]string, []Call, error) {
	stop := seqCall{name: "stop", f: stopOf}
	if handoverFirst {
		return sequence(handoverCall, stop)
	}
	return sequence(stop, handoverCall)
}

// stoppedNodes are the nodes whose stop succeeded.
func stoppedNodes(list []Call) []string {
	var nodes []string
	for _, c := range list {
		if c.Call == "stop" && c.Error == "" {
			nodes = append(nodes, c.Node)
		}
	}
	return nodes
}

// actValue is the record value of a stop-path fault: its calls, and the
// leader it found when it targets the leader.
func actValue(leader string, calls []Call) map[string]any {
	v := map[string]any{"calls": calls}
	if leader != "" {
		v[ValueLeader] = leader
	}
	return v
}
