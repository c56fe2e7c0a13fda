package nemesis

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// txnCluster is a fakeCluster that can hold a transaction open.
type txnCluster struct{ *fakeCluster }

func (t txnCluster) HoldTxn(_ context.Context, n string) error { return t.call("HoldTxn", n) }

func callNames(calls []Call) []string {
	var out []string
	for _, c := range calls {
		out = append(out, c.Call+" "+c.Node)
	}
	return out
}

func TestStopPathFaultsMakeTheirCallsInOrder(t *testing.T) {
	loop := []string{}
	for range StopStartCycles {
		loop = append(loop, "Stop n1", "Start n1")
	}
	for _, tc := range []struct {
		name      string
		step      Step
		startCall []string
		nodes     []string
		stopCall  []string // nil: instantaneous
	}{
		{"double-stop stops its target twice", start("double-stop", "n2"),
			[]string{"Stop n2", "Stop n2"}, []string{"n2"}, []string{"Start n2"}},
		{"stop-two stops both targets", start("stop-two", "n1", "n3"),
			[]string{"Stop n1", "Stop n3"}, []string{"n1", "n3"}, []string{"Start n1", "Start n3"}},
		{"stop-during-handover hands the leader over and stops it", start("stop-during-handover"),
			[]string{"Leader", "Handover n2", "Stop n2"}, []string{"n2"}, []string{"Start n2"}},
		{"stop-with-open-txn holds a transaction on the leader, then stops it", start("stop-with-open-txn"),
			[]string{"Leader", "HoldTxn n2", "Stop n2"}, []string{"n2"}, []string{"Start n2"}},
		{"stop-after-start stops again right after the start", start("stop-after-start", "n3"),
			[]string{"Stop n3", "Start n3", "Stop n3"}, []string{"n3"}, []string{"Start n3"}},
		{"handover-after-stop stops, then hands over", start("handover-after-stop", "n2"),
			[]string{"Stop n2", "Handover n2"}, []string{"n2"}, []string{"Start n2"}},
		{"never-started stops, then hands over, and starts the node at its stop", start("never-started", "n3"),
			[]string{"Stop n3", "Handover n3"}, []string{"n3"}, []string{"Start n3"}},
		{"handover-never-started hands over, then stops", start("handover-never-started", "n3"),
			[]string{"Handover n3", "Stop n3"}, []string{"n3"}, []string{"Start n3"}},
		{"stop-start-loop cycles and ends started", start("stop-start-loop", "n1"),
			loop, []string{"n1"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			fc := newFakeCluster(3, "n2")
			c := txnCluster{fc}
			a := NewApplier()

			rec := a.Apply(ctx, c, tc.step)
			require.NoError(t, rec.Err)
			require.Equal(t, tc.startCall, fc.takeCalls())
			require.Equal(t, tc.nodes, rec.Nodes)
			v, ok := rec.Value.(map[string]any)
			require.True(t, ok, "the record lists the calls: %#v", rec.Value)
			calls := v["calls"].([]Call)
			require.Equal(t, slices.DeleteFunc(slices.Clone(tc.startCall), func(s string) bool { return s == "Leader" }),
				upper(callNames(calls)))
			for _, cl := range calls {
				require.GreaterOrEqual(t, cl.Took, int64(0))
				require.False(t, cl.Concurrent, "the fake cluster is not Parallel: one call at a time")
			}
			if tc.step.Targets == nil {
				require.Equal(t, "n2", v[ValueLeader])
			}

			rec = a.Apply(ctx, c, stop(tc.step.Fault))
			if tc.stopCall == nil {
				require.ErrorContains(t, rec.Err, "instantaneous")
				require.Empty(t, fc.takeCalls())
				return
			}
			require.NoError(t, rec.Err)
			require.Equal(t, tc.stopCall, fc.takeCalls())
			require.Empty(t, a.HealAll(ctx, c))
		})
	}
}

// upper turns "stop n2" into "Stop n2", the fake's spelling.
func upper(calls []string) []string {
	names := map[string]string{"stop": "Stop", "start": "Start", "handover": "Handover", "hold-txn": "HoldTxn"}
	out := make([]string, len(calls))
	for i, c := range calls {
		name, node, _ := strings.Cut(c, " ")
		out[i] = names[name] + " " + node
	}
	return out
}

func TestStopPathFaultFailuresAreRecordedAndUndoneOnlyWhereTheStopWorked(t *testing.T) {
	ctx := context.Background()
	refused := errors.New("not_running: the node is not running")
	t.Run("a double stop whose first stop failed makes no second stop and leaves nothing to undo", func(t *testing.T) {
		fc := newFakeCluster(3, "n1")
		fc.fail["Stop n2"] = refused
		a := NewApplier()
		rec := a.Apply(ctx, fc, start("double-stop", "n2"))
		require.ErrorIs(t, rec.Err, refused)
		require.ErrorContains(t, rec.Err, "n2: not_running")
		require.Equal(t, []string{"Stop n2"}, fc.takeCalls())
		require.Equal(t, refused.Error(), rec.Value.(map[string]any)["calls"].([]Call)[0].Error)
		require.Empty(t, a.HealAll(ctx, fc))
	})
	t.Run("never-started makes both calls even when the first fails", func(t *testing.T) {
		fc := newFakeCluster(3, "n1")
		fc.fail["Stop n3"] = refused
		fc.fail["Handover n3"] = refused
		rec := NewApplier().Apply(ctx, fc, start("never-started", "n3"))
		require.Equal(t, []string{"Stop n3", "Handover n3"}, fc.takeCalls())
		require.ErrorContains(t, rec.Err, "n3: not_running")
		require.Len(t, rec.Value.(map[string]any)["calls"].([]Call), 2)
	})
	t.Run("stop-with-open-txn needs a backend that can hold a transaction", func(t *testing.T) {
		fc := newFakeCluster(3, "n1")
		rec := NewApplier().Apply(ctx, fc, start("stop-with-open-txn"))
		require.ErrorContains(t, rec.Err, "hold a transaction open")
		require.Equal(t, []string{"Leader"}, fc.takeCalls(), "no stop without the transaction it is about")
	})
	t.Run("a failed hold still stops the leader", func(t *testing.T) {
		fc := newFakeCluster(3, "n1")
		fc.fail["HoldTxn n1"] = errors.New("busy")
		a := NewApplier()
		rec := a.Apply(ctx, txnCluster{fc}, start("stop-with-open-txn"))
		require.ErrorContains(t, rec.Err, "n1: busy")
		require.Equal(t, []string{"Leader", "HoldTxn n1", "Stop n1"}, fc.takeCalls())
		require.Len(t, a.HealAll(ctx, fc), 1, "the stopped leader is started by HealAll")
		require.Equal(t, []string{"Start n1"}, fc.takeCalls())
	})
	t.Run("stop-start-loop gives up at the first failure", func(t *testing.T) {
		fc := newFakeCluster(3, "n1")
		fc.fail["Start n2"] = errors.New("start: join timed out")
		rec := NewApplier().Apply(ctx, fc, start("stop-start-loop", "n2"))
		require.ErrorContains(t, rec.Err, "n2: start: join timed out")
		require.Equal(t, []string{"Stop n2", "Start n2"}, fc.takeCalls())
	})
}

// parallelCluster is a fake whose Stop and Handover wait until `want`
// calls are in flight at once: a fault that made them one after the other
// would see every call time out.
type parallelCluster struct {
	*fakeCluster
	mu      sync.Mutex
	want    int
	arrived int
	all     chan struct{}
}

func (p *parallelCluster) Parallel() bool { return true }

func (p *parallelCluster) meet(ctx context.Context, method, n string) error {
	p.mu.Lock()
	_ = p.fakeCluster.call(method, n)
	p.arrived++
	if p.arrived == p.want {
		close(p.all)
	}
	p.mu.Unlock()
	select {
	case <-p.all:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *parallelCluster) Stop(ctx context.Context, n string) error { return p.meet(ctx, "Stop", n) }
func (p *parallelCluster) Handover(ctx context.Context, n string) error {
	return p.meet(ctx, "Handover", n)
}

func TestStopPathFaultsOnAParallelClusterMakeTheirCallsAtOnce(t *testing.T) {
	for _, tc := range []struct {
		step  Step
		calls []string
	}{
		{start("stop-two", "n1", "n2"), []string{"Stop n1", "Stop n2"}},
		{start("stop-during-handover"), []string{"Handover n3", "Stop n3"}},
	} {
		t.Run(tc.step.Fault, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			p := &parallelCluster{fakeCluster: newFakeCluster(3, "n3"), want: 2, all: make(chan struct{})}
			rec := NewApplier().Apply(ctx, p, tc.step)
			require.NoError(t, rec.Err, "every call was in flight at once")
			calls := rec.Value.(map[string]any)["calls"].([]Call)
			require.ElementsMatch(t, tc.calls, upper(callNames(calls)))
			for _, c := range calls {
				require.True(t, c.Concurrent)
			}
			if tc.step.Fault == "stop-during-handover" {
				require.Equal(t, "handover", calls[0].Call)
				require.GreaterOrEqual(t, calls[1].Offset, HandoverHead.Milliseconds(), "the stop comes after the handover's head start")
			}
		})
	}
}

func TestStopTwoIsPlannedOnTwoDistinctNodes(t *testing.T) {
	spec := Spec{Faults: []string{"stop-two"}, Schedule: Schedule{Kind: Fixed, Interval: 5 * time.Second, Duration: 2 * time.Second}}
	steps, err := Plan(spec, nodeNames(5), 60*time.Second, 7)
	require.NoError(t, err)
	require.NotEmpty(t, steps)
	for _, s := range steps {
		require.Len(t, s.Targets, 2)
		require.NotEqual(t, s.Targets[0], s.Targets[1])
	}
	_, err = Plan(Spec{Schedule: Schedule{Kind: Timeline, Timeline: []Step{
		{At: time.Second, Fault: "stop-two", Action: "start", Targets: []string{"n1"}},
		{At: 2 * time.Second, Fault: "stop-two", Action: "stop"},
	}}}, nodeNames(3), 10*time.Second, 1)
	require.ErrorContains(t, err, "takes two nodes")
}

func TestEveryStopPathFaultIsInTheCatalogue(t *testing.T) {
	for _, f := range stopFaults {
		require.Contains(t, Faults(), f.name)
	}
	require.Contains(t, lastingStopFaults(), "double-stop")
	require.NotContains(t, lastingStopFaults(), "stop-start-loop")
}
