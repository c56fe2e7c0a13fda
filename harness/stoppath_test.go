package harness

// Tests of the stop-path findings: the crash detector on outputs recorded
// from real node processes (the dqtest-node image, dqlite 1.18.1), hang
// findings, the evidence attached to a crash, reviving dead nodes, and
// findings over repeats.

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/detect"
	"github.com/dqtest/dqtest/history"
	"github.com/dqtest/dqtest/mode"
	"github.com/dqtest/dqtest/nemesis"
	"github.com/dqtest/dqtest/scenario"
	"github.com/dqtest/dqtest/verdict"
)

// hangingCluster is a stub whose Stop, on the nodes listed, blocks until
// its context ends, as a dqlite_node_stop that never returns makes the
// control API do; failFast nodes fail their stop at once.
type hangingCluster struct {
	*stubCluster
	hang, failFast map[string]bool
	mu             sync.Mutex
	killed         []string
}

func (h *hangingCluster) Stop(ctx context.Context, n string) error {
	switch {
	case h.hang[n]:
		<-ctx.Done()
		return errors.New("stop: dqlite_node_stop did not return: " + ctx.Err().Error())
	case h.failFast[n]:
		return errors.New("stop: refused")
	}
	return nil
}

func (h *hangingCluster) Kill(_ context.Context, n string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.killed = append(h.killed, n)
	return nil
}

func TestAStopPastItsDeadlineIsAHangAndTheNodeIsKilled(t *testing.T) {
	h := &hangingCluster{stubCluster: newStubCluster(), hang: map[string]bool{"n2": true}, failFast: map[string]bool{"n3": true}}
	h.nodes = scenario.NodeNames(3)
	var events []history.Event
	w := &watchedCluster{Cluster: h, deadline: 200 * time.Millisecond, log: quiet,
		record: func(e history.Event) { events = append(events, e) }, now: func() int64 { return 5e9 }}

	require.NoError(t, w.Stop(context.Background(), "n1"))
	require.ErrorContains(t, w.Stop(context.Background(), "n3"), "refused")
	require.Empty(t, w.findings(), "a stop that fails at once is no hang")
	require.Empty(t, h.killed)

	began := time.Now()
	err := w.Stop(context.Background(), "n2")
	require.Less(t, time.Since(began), 2*time.Second, "the stop deadline bounds the wait")
	require.ErrorContains(t, err, "the harness killed the node")
	require.Equal(t, []string{"n2"}, h.killed)
	require.Len(t, events, 1)
	require.Equal(t, detect.KillHung, events[0].F)
	require.Equal(t, []string{"n2"}, events[0].Nodes)
	hangs := w.findings()
	require.Len(t, hangs, 1)
	require.Equal(t, "hang", hangs[0].Kind)
	require.Equal(t, "n2", hangs[0].Node)
	require.Equal(t, "hang: stop exceeded its deadline", hangs[0].Signature)
	require.Equal(t, 5.0, hangs[0].InFlight.At)
	require.Equal(t, "stop", hangs[0].InFlight.Fault.F)

	require.Error(t, w.Stop(context.Background(), "n2"))
	require.Len(t, w.findings(), 1, "the same hang on the same node is one finding")
	require.Equal(t, 2, w.findings()[0].Count)
	require.True(t, detect.KilledNodes(events)["n2"], "the harness's kill is no crash")
}

func TestARunWithAHungStopEndsInTimeWithAHangFinding(t *testing.T) {
	for _, tc := range []struct {
		expect  string
		outcome checker.Verdict
	}{
		{"", checker.Invalid},
		{"expect: {crash: hang}\n", checker.Valid},
	} {
		t.Run("expect "+tc.expect, func(t *testing.T) {
			h := &hangingCluster{stubCluster: newStubCluster(), hang: map[string]bool{"n2": true}}
			sc := stubScenario(t, "stop_deadline: 300ms\nnemesis: {schedule: {kind: timeline, timeline: [{at: 100ms, fault: stop, action: start, targets: [n2]}, {at: 600ms, fault: stop, action: stop}]}}\n"+tc.expect)
			began := time.Now()
			res, err := Run(context.Background(), sc, Options{Backend: hangingBackend{h}, RunsDir: t.TempDir(), Log: quiet})
			require.NoError(t, err)
			require.Less(t, time.Since(began), 20*time.Second)
			require.Equal(t, checker.Invalid, res.Verdict)
			require.Equal(t, tc.outcome, res.Outcome, "%v", res.Reasons)
			var hang *detect.Crash
			for i := range res.Crashes {
				if res.Crashes[i].Kind == "hang" {
					hang = &res.Crashes[i]
				}
			}
			require.NotNil(t, hang, "%+v", res.Crashes)
			require.Equal(t, "n2", hang.Node)
			require.Equal(t, sc.Seed, hang.Seed)
			require.Contains(t, hang.Rerun, "dqtest repro "+res.Dir)
			require.Equal(t, []string{"n2"}, h.killed)
		})
	}
}

type hangingBackend struct{ c *hangingCluster }

func (b hangingBackend) Name() string                       { return "stub" }
func (b hangingBackend) Capabilities() []nemesis.Capability { return nemesis.CoreCapabilities() }

func (b hangingBackend) Up(_ context.Context, spec ClusterSpec) (Cluster, error) {
	b.c.nodes = scenario.NodeNames(spec.Nodes)
	return b.c, nil
}

func TestReviveRestartsADeadNodeAndTheCrashKeepsItsExit(t *testing.T) {
	c := newStubCluster()
	c.logs["n3"] = string(readCrashLog(t, "real-double-stop.log"))
	c.exits["n3"] = detect.NodeExit{ExitCode: 2}
	sc := stubScenario(t, "expect: {crash: dqlite_node_stop}\n")
	res, err := Run(context.Background(), sc, Options{Backend: &stubBackend{cluster: c}, RunsDir: t.TempDir(), Log: quiet})
	require.NoError(t, err)
	require.Contains(t, c.faults, "restart n3", "a dead node is restarted for the final reads")
	require.Equal(t, checker.Valid, res.Outcome, "%v", res.Reasons)
	require.Len(t, res.Crashes, 1)
	cr := res.Crashes[0]
	require.NotNil(t, cr.Exit)
	require.Equal(t, 2, cr.Exit.ExitCode)
	require.NotNil(t, cr.InFlight, "a live run dates the crash in its history")
	events, _, err := history.ReadFile(res.Dir + "/" + verdict.HistoryFile)
	require.NoError(t, err)
	var revived []string
	for _, e := range events {
		if e.F == Revive {
			revived = append(revived, e.Nodes...)
		}
	}
	require.Equal(t, []string{"n3"}, revived)
}

// leakyCluster lists open connections of its dqlite port after a stop:
// open[n] answers in turn, the last one repeated.
type leakyCluster struct {
	*stubCluster
	mu   sync.Mutex
	open map[string][][]string
	asks int
}

func (l *leakyCluster) OpenConnections(_ context.Context, n string) ([]string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.asks++
	answers := l.open[n]
	if len(answers) == 0 {
		return nil, nil
	}
	a := answers[0]
	if len(answers) > 1 {
		l.open[n] = answers[1:]
	}
	return a, nil
}

func TestConnectionsLeftOpenAfterAStopAreAFinding(t *testing.T) {
	peer := []string{"172.29.1.12:40112"}
	for _, tc := range []struct {
		name     string
		mode     mode.Stop
		open     [][]string
		findings int
		asks     int
	}{
		{"none open: nothing to find", "guarded", nil, 0, 1},
		{"closing within the grace: nothing to find", "unguarded", [][]string{peer, nil}, 0, 2},
		{"still open after the grace: a finding", "guarded", [][]string{peer, peer}, 1, 2},
		{"a bypass stop leaves the C node running: not checked", "bypass", [][]string{peer, peer}, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &leakyCluster{stubCluster: newStubCluster(), open: map[string][][]string{"n1": tc.open}}
			l.nodes = scenario.NodeNames(3)
			w := &watchedCluster{Cluster: l, deadline: time.Second, stopMode: tc.mode, log: quiet,
				record: func(history.Event) {}, now: func() int64 { return 0 }}
			require.NoError(t, w.Stop(context.Background(), "n1"))
			require.Equal(t, tc.asks, l.asks)
			found := w.findings()
			require.Len(t, found, tc.findings)
			if tc.findings > 0 {
				require.Equal(t, "open-connections", found[0].Kind)
				require.Equal(t, "connections left open after stop", found[0].Signature)
				require.Contains(t, found[0].Lines, peer[0])
			}
		})
	}
}

func TestAStopOfAPausedNodeIsNoHang(t *testing.T) {
	h := &hangingCluster{stubCluster: newStubCluster(), hang: map[string]bool{"n2": true}}
	h.nodes = scenario.NodeNames(3)
	w := &watchedCluster{Cluster: h, deadline: 100 * time.Millisecond, log: quiet,
		record: func(history.Event) {}, now: func() int64 { return 0 }}
	require.NoError(t, w.Pause(context.Background(), "n2"))
	require.Error(t, w.Stop(context.Background(), "n2"))
	require.Empty(t, w.findings(), "a frozen process does not answer: the pause working")
	require.Empty(t, h.killed)
	require.NoError(t, w.Resume(context.Background(), "n2"))
	require.Error(t, w.Stop(context.Background(), "n2"))
	require.Len(t, w.findings(), 1, "thawed, the same silence is a hang")
}

// readCrashLog reads a recorded node log from the crash detector's samples.
func readCrashLog(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "detect", "testdata", "crash", name))
	require.NoError(t, err)
	return b
}
