package harness

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/dqtest/dqtest/detect"
	"github.com/dqtest/dqtest/history"
	"github.com/dqtest/dqtest/mode"
	"github.com/dqtest/dqtest/nemesis"
)

// hangShare is the share of its deadline a failed call must have taken to
// count as hung: the control API answers a little before the deadline (it
// keeps a margin for the answer to travel back).
const hangShare = 0.85

// watchedCluster is the live cluster as the nemesis sees it. Every stop,
// start and handover gets the scenario's stop deadline; one that fails after
// running (nearly) to its deadline is a hang finding, and the hung node's
// container is killed at once, so that the run goes on and finishes within
// its own deadline (revive restarts the node for the final reads). It also
// tells the stop-path faults that calls may be made at once (every live
// cluster is used by many clients at once anyway) and passes on the
// backend's ability to hold a transaction open.
type watchedCluster struct {
	Cluster
	deadline time.Duration
	stopMode mode.Stop
	log      *slog.Logger
	record   func(history.Event)
	now      func() int64 // history time, for the findings

	mu    sync.Mutex
	found []detect.Crash // hangs and connections left open, in order
	// paused counts the pauses in force per node: a frozen process does
	// not answer, which is the pause working, not a hang.
	paused map[string]int
}

var (
	_ nemesis.Parallel  = (*watchedCluster)(nil)
	_ nemesis.TxnHolder = (*watchedCluster)(nil)
)

func (w *watchedCluster) Parallel() bool { return true }

// Unwrap gives the nemesis the backend's cluster, for the capabilities
// this wrapper does not watch (nemesis.DiskFaulter, nemesis.PacketFaulter).
func (w *watchedCluster) Unwrap() nemesis.Cluster { return w.Cluster }

// HoldTxn passes the call on to a backend that can hold a transaction.
func (w *watchedCluster) HoldTxn(ctx context.Context, node string) error {
	h, ok := w.Cluster.(nemesis.TxnHolder)
	if !ok {
		return errors.New("this backend cannot hold a transaction open")
	}
	return h.HoldTxn(ctx, node)
}

func (w *watchedCluster) Stop(ctx context.Context, node string) error {
	at := w.now()
	err := w.watch(ctx, "stop", node, w.Cluster.Stop)
	if err == nil && w.stopMode != mode.Bypass {
		w.checkClosed(ctx, node, at)
	}
	return err
}

// connLister is a backend that can list the established connections of a
// node's dqlite port (docker).
type connLister interface {
	OpenConnections(ctx context.Context, node string) ([]string, error)
}

// openConnsGrace is how long connections may take to close after a stop
// returned before they count as left open.
const openConnsGrace = time.Second

// checkClosed looks, after a stop that returned (guarded or unguarded: the
// C node stopped), for established connections on the node's dqlite port:
// dqlite_node_stop closes them all, and one left open leaves its client
// waiting for an answer that never comes (canonical/dqlite PR 761). Still
// open after openConnsGrace, they are a finding.
func (w *watchedCluster) checkClosed(ctx context.Context, node string, at int64) {
	cl, ok := w.Cluster.(connLister)
	if !ok {
		return
	}
	var conns []string
	for _, wait := range []time.Duration{0, openConnsGrace} {
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return
		}
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		var err error
		conns, err = cl.OpenConnections(lctx, node)
		cancel()
		if err != nil {
			w.log.Debug("listing open connections after a stop", "node", node, "error", err)
			return
		}
		if len(conns) == 0 {
			return
		}
	}
	w.log.Warn("connections left open after the stop", "node", node, "peers", conns)
	w.add(detect.Crash{
		Node: node, Kind: "open-connections", Count: 1,
		Signature: "connections left open after stop",
		Lines:     append([]string{fmt.Sprintf("%d connection(s) of %s's dqlite port still established %s after its stop returned; peers:", len(conns), node, openConnsGrace)}, conns...),
		InFlight:  &detect.InFlight{At: float64(at) / 1e9, Fault: &history.Event{Process: history.Nemesis, F: "stop", Nodes: []string{node}, Time: at}, Relation: "in_flight"},
	})
}

func (w *watchedCluster) add(c detect.Crash) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.found = append(w.found, c)
}

func (w *watchedCluster) Start(ctx context.Context, node string) error {
	return w.watch(ctx, "start", node, w.Cluster.Start)
}

func (w *watchedCluster) Handover(ctx context.Context, node string) error {
	return w.watch(ctx, "handover", node, w.Cluster.Handover)
}

func (w *watchedCluster) Pause(ctx context.Context, node string) error {
	w.mu.Lock()
	if w.paused == nil {
		w.paused = map[string]int{}
	}
	w.paused[node]++
	w.mu.Unlock()
	return w.Cluster.Pause(ctx, node)
}

func (w *watchedCluster) Resume(ctx context.Context, node string) error {
	err := w.Cluster.Resume(ctx, node)
	if err == nil {
		w.mu.Lock()
		w.paused[node] = max(w.paused[node]-1, 0)
		w.mu.Unlock()
	}
	return err
}

func (w *watchedCluster) isPaused(node string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.paused[node] > 0
}

func (w *watchedCluster) watch(ctx context.Context, op, node string, f func(context.Context, string) error) error {
	cctx, cancel := context.WithTimeout(ctx, w.deadline)
	defer cancel()
	began := time.Now()
	at := w.now()
	pausedBefore := w.isPaused(node)
	err := f(cctx, node)
	took := time.Since(began)
	deadline, _ := cctx.Deadline()
	limit := deadline.Sub(began)
	if err == nil || float64(took) < hangShare*float64(limit) || pausedBefore || w.isPaused(node) {
		return err
	}
	w.log.Warn("node hung: killing it", "node", node, "op", op, "took", took.Round(time.Millisecond), "deadline", limit.Round(time.Millisecond), "error", err)
	kctx, kcancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer kcancel()
	kerr := w.Cluster.Kill(kctx, node)
	e := history.Event{Process: history.Nemesis, Type: history.Info, F: detect.KillHung, Nodes: []string{node},
		Value: map[string]any{"op": op, "took_ms": took.Milliseconds(), "deadline_ms": limit.Milliseconds()}}
	if kerr != nil {
		e.Error = kerr.Error()
	}
	w.record(e)
	w.add(detect.Crash{
		Node: node, Kind: "hang", Count: 1, LogTime: time.Now().UTC().Format(time.RFC3339Nano),
		Signature: "hang: " + op + " exceeded its deadline",
		Lines: []string{
			fmt.Sprintf("%s of %s did not succeed within its deadline of %s (took %s)", op, node, limit.Round(time.Millisecond), took.Round(time.Millisecond)),
			"error: " + err.Error(),
			killLine(kerr),
		},
		InFlight: &detect.InFlight{At: float64(at) / 1e9, Fault: &history.Event{Process: history.Nemesis, F: op, Nodes: []string{node}, Time: at}, Relation: "in_flight"},
	})
	return fmt.Errorf("%w (hung for %s: the harness killed the node)", err, took.Round(time.Millisecond))
}

func killLine(err error) string {
	if err != nil {
		return "killing the hung node failed: " + err.Error()
	}
	return "the harness killed the hung node (SIGKILL)"
}

// findings returns the hangs seen so far, one per node and signature.
func (w *watchedCluster) findings() []detect.Crash {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []detect.Crash
	for _, h := range w.found {
		i := -1
		for j, o := range out {
			if o.Node == h.Node && o.Signature == h.Signature {
				i = j
			}
		}
		if i >= 0 {
			out[i].Count++
			continue
		}
		out = append(out, h)
	}
	return out
}

// watch wraps the live cluster for the nemesis (see watchedCluster).
func (r *run) watch(c Cluster) Cluster {
	r.deadExits = map[string]detect.NodeExit{}
	r.watched = &watchedCluster{
		Cluster: c, deadline: r.sc.StopDeadline, stopMode: r.sc.StopMode, log: r.log, record: r.rec.write,
		now: func() int64 { return time.Since(r.rec.start).Nanoseconds() },
	}
	return r.watched
}
