package harness

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dqtest/dqtest/history"
	"github.com/dqtest/dqtest/workloads"
)

// recorder stamps events with the run's clock and appends them to the
// history. history.Writer numbers them and keeps time monotonic; the
// recorder remembers the first write error so the run can report it.
type recorder struct {
	w     *history.Writer
	start time.Time

	mu       sync.Mutex
	firstErr error
	// counts of client completions, for progress lines
	ok, fail, info atomic.Int64
	// observe, when set, sees each event once written (Options.Observe).
	observe func(history.Event)
}

func (r *recorder) write(e history.Event) {
	e.Time = time.Since(r.start).Nanoseconds()
	if e.IsClient() {
		switch e.Type {
		case history.OK:
			r.ok.Add(1)
		case history.Fail:
			r.fail.Add(1)
		case history.Info:
			r.info.Add(1)
		}
	}
	written, err := r.w.Write(e)
	if err != nil {
		r.mu.Lock()
		if r.firstErr == nil {
			r.firstErr = err
		}
		r.mu.Unlock()
		return
	}
	if r.observe != nil {
		r.observe(written)
	}
}

func (r *recorder) err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.firstErr
}

// client is one client slot: a generator, a node it is bound to, and the
// process it currently speaks as.
type client struct {
	slot, concurrency int
	node              string
	cl                workloads.Client
	gen               workloads.Generator
	wl                workloads.Workload
	rec               *recorder
	opTimeout         time.Duration
	// interval paces the slot (rate limiting); 0 means no pause.
	interval time.Duration
	// pace draws the slot's pauses; seeded per slot, so pacing never
	// changes which operations a slot issues.
	pace *rand.Rand
}

// gap is the pause before the slot's next operation: uniform in
// [0, 2*interval), Jepsen's stagger. The mean rate is the scenario's, but
// the slots' operations overlap at random instead of marching on a fixed
// grid, which would hide anomalies that need concurrent operations.
func (c *client) gap() time.Duration {
	if c.interval <= 0 {
		return 0
	}
	if c.pace == nil {
		return c.interval
	}
	return time.Duration(c.pace.Int64N(2 * int64(c.interval)))
}

// loop invokes the slot's operations until the generator runs dry, the
// workload's end, or stop is done. Operations get their deadline from
// opParent, not stop, so an operation in flight at the end completes (or
// times out) honestly instead of being cut off. It returns the last
// process number the slot used or reserved.
//
// Processes follow Jepsen's rule: slot s starts as process s; after an
// info its process may still have an operation in flight, so the slot
// continues as process s+concurrency, then s+2*concurrency, and so on.
func (c *client) loop(stop, opParent context.Context, start, end time.Time) int {
	proc := c.slot
	// The first operation comes after a random fraction of one interval,
	// so that a paced workload does not fire every client at once.
	next := start.Add(c.gap() / 2)
	for {
		if c.interval > 0 {
			if wait := time.Until(next); wait > 0 {
				select {
				case <-stop.Done():
					return proc
				case <-time.After(wait):
				}
			}
			// A slot that fell behind does not burst to catch up.
			next = maxTime(next.Add(c.gap()), time.Now())
		}
		if stop.Err() != nil || !time.Now().Before(end) {
			return proc
		}
		op, ok := c.gen.Next()
		if !ok {
			return proc
		}
		comp := invoke(opParent, c.wl, c.cl, c.rec, history.Process(proc), c.node, op, c.opTimeout)
		if comp.Type == history.Info {
			proc += c.concurrency
		}
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// invoke records op's invocation, performs it through cl with its own
// deadline, and records the completion. The invoke is written before the
// operation is sent and the completion after the answer arrived
// (history.Writer's recording rule), so the recorded interval contains the
// real one.
func invoke(ctx context.Context, wl workloads.Workload, cl workloads.Client, rec *recorder,
	proc history.Process, node string, op workloads.Op, timeout time.Duration) workloads.Completion {
	rec.write(history.Event{Process: proc, Type: history.Invoke, F: op.F, Key: op.Key, Value: op.Value, Node: node})
	opCtx, cancel := context.WithTimeout(ctx, timeout)
	comp := wl.Invoke(opCtx, cl, op)
	cancel()
	switch comp.Type {
	case history.OK, history.Fail, history.Info:
	default:
		// A workload bug; the outcome is unknown.
		comp = workloads.Completion{Type: history.Info, Value: op.Value,
			Error: fmt.Sprintf("workload returned completion type %q: %s", comp.Type, comp.Error)}
	}
	rec.write(history.Event{Process: proc, Type: comp.Type, F: op.F, Key: op.Key, Value: comp.Value, Node: node, Error: comp.Error})
	return comp
}
