package harness

// Tests of the stop-path findings: the crash detector on outputs recorded
// from real node processes (the dqtest-node image, dqlite 1.18.1), hang
// findings, the evidence attached to a crash, reviving dead nodes, and
// findings over repeats.

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/history"
	"github.com/dqtest/dqtest/mode"
	"github.com/dqtest/dqtest/scenario"
)

func TestDetectCrashesOnOutputsOfRealNodes(t *testing.T) {
	exited2 := NodeExit{ExitCode: 2}
	for _, tc := range []struct {
		name, log, kind, signal, signature, address, lastBefore string
	}{
		{"a second unguarded stop fails dqlite_node_stop's assertion (canonical/dqlite#737)",
			"real-double-stop.log", "assertion", "SIGABRT",
			"SIGABRT: src/server.c:924: dqlite_node_stop: Assertion `rv == 0' failed.",
			"pc=0xd0d78c", `msg="stopping (unguarded): dqlite_node_stop"`},
		{"an unguarded stop of a node that never started segfaults in dqlite_node_stop (canonical/dqlite#848)",
			"real-stop-before-start.log", "signal", "SIGSEGV",
			"SIGSEGV: segmentation violation at github.com/dqtest/dqtest/node._Cfunc_dqlite_node_stop < github.com/dqtest/dqtest/node.(*cnode).stop.func1 < github.com/dqtest/dqtest/node.(*cnode).stop",
			"addr=0x200 pc=0x9ece67", `msg="stopping (unguarded): dqlite_node_stop"`},
		{"an unguarded handover of a node that never started segfaults in dqlite_node_handover (canonical/dqlite#848)",
			"real-handover-before-start.log", "signal", "SIGSEGV",
			"SIGSEGV: segmentation violation at github.com/dqtest/dqtest/node._Cfunc_dqlite_node_handover < github.com/dqtest/dqtest/node.(*cnode).handover.func1 < github.com/dqtest/dqtest/node.(*cnode).handover",
			"addr=0x200 pc=0x9ece67", `msg="handover: dqlite_node_handover"`},
		{"a Go panic in a node process is named by its message and frame",
			"real-go-panic.log", "go-panic", "",
			`panic: self-test: panic on stop (mode "") at github.com/dqtest/dqtest/node/control.selfTestPanic`,
			"", "msg=started"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			crashes := DetectCrashes("n2", exited2, readCrashSample(t, tc.log), false)
			require.Len(t, crashes, 1)
			c := crashes[0]
			require.Equal(t, tc.kind, c.Kind)
			require.Equal(t, tc.signal, c.Signal)
			require.Equal(t, tc.signature, c.Signature)
			if tc.address != "" {
				require.Regexp(t, "^"+regexpAddr(tc.address)+"$", c.Address)
			}
			require.NotEmpty(t, c.Before, "the log lines before the crash are kept")
			require.Contains(t, c.Before[len(c.Before)-1], tc.lastBefore)
			require.LessOrEqual(t, len(c.Before), crashBeforeLines)
			_, err := time.Parse(time.RFC3339Nano, c.LogTime)
			require.NoError(t, err, "the crash is dated by the last log line before it")
		})
	}
}

// regexpAddr turns "addr=0x200 pc=0x9ece67" into a pattern that keeps the
// shape (which fields, in which order) but not the values, which move with
// every build.
func regexpAddr(a string) string {
	var parts []string
	for _, f := range strings.Fields(a) {
		name, _, _ := strings.Cut(f, "=")
		parts = append(parts, name+"=0x[0-9a-f]+")
	}
	return strings.Join(parts, " ")
}

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
	require.Equal(t, KillHung, events[0].F)
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
	require.True(t, killedNodes(events)["n2"], "the harness's kill is no crash")
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
			var hang *Crash
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

func (b hangingBackend) Name() string { return "stub" }
func (b hangingBackend) Up(_ context.Context, spec ClusterSpec) (Cluster, error) {
	b.c.nodes = scenario.NodeNames(spec.Nodes)
	return b.c, nil
}

func TestReviveRestartsADeadNodeAndTheCrashKeepsItsExit(t *testing.T) {
	c := newStubCluster()
	c.logs["n3"] = string(readCrashSample(t, "real-double-stop.log"))
	c.exits["n3"] = NodeExit{ExitCode: 2}
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
	events, _, err := history.ReadFile(res.Dir + "/" + HistoryFile)
	require.NoError(t, err)
	var revived []string
	for _, e := range events {
		if e.F == Revive {
			revived = append(revived, e.Nodes...)
		}
	}
	require.Equal(t, []string{"n3"}, revived)
}

func TestInFlightNamesTheStepAndTheOpenOperationsAtTheCrash(t *testing.T) {
	ev := func(i int64, sec float64, p history.Process, typ history.Type, f, node string, nodes ...string) history.Event {
		return history.Event{Index: i, Time: int64(sec * 1e9), Process: p, Type: typ, F: f, Node: node, Nodes: nodes}
	}
	events := []history.Event{
		ev(0, 1, history.Nemesis, history.Info, "start-stop", "", "n1"),
		ev(1, 2, 0, history.Invoke, "add", "n2"),
		ev(2, 2.1, 1, history.Invoke, "add", "n2"),
		ev(3, 2.2, 2, history.Invoke, "add", "n3"),
		ev(4, 2.5, 0, history.OK, "add", "n2"),
		// n2 dies at 3 s, while this double stop runs; its record is
		// written when it returns.
		ev(5, 3.2, history.Nemesis, history.Info, "start-double-stop", "", "n2"),
		ev(6, 4, 1, history.Info, "add", "n2"),
	}
	f := inFlightAt(events, "n2", 3e9, int64(30*time.Second))
	require.Equal(t, 3.0, f.At)
	require.Equal(t, "start-double-stop", f.Fault.F)
	require.Equal(t, "in_flight", f.Relation)
	require.Equal(t, 1, f.OpsOpen, "process 0's add completed; process 2 went to n3")
	require.Equal(t, history.Process(1), f.Ops[0].Process)

	f = inFlightAt(events[:5], "n2", 3e9, int64(30*time.Second))
	require.Nil(t, f.Fault, "n1's stop did not touch n2")
	f = inFlightAt(events[:5], "n1", 3e9, int64(30*time.Second))
	require.Equal(t, "start-stop", f.Fault.F)
	require.Equal(t, "last_before", f.Relation)
	f = inFlightAt(events, "n2", 3e9, int64(100*time.Millisecond))
	require.Nil(t, f.Fault, "a record written after more than a step's time was not in flight")
}

func TestFindingsAreDeduplicatedBySignatureAcrossNodesAndRuns(t *testing.T) {
	assertion := "SIGABRT: src/server.c:924: dqlite_node_stop: Assertion `rv == 0' failed."
	run := func(seed int64, outcome checker.Verdict, reasons []string, crashes ...Crash) *Result {
		return &Result{Seed: seed, Outcome: outcome, Reasons: reasons, Crashes: crashes}
	}
	abort := func(node string) Crash {
		return Crash{Node: node, Kind: "assertion", Signature: assertion, Count: 1, Expected: true}
	}
	missed := []string{`expected crash matching "dqlite_node_stop", not seen`}
	results := []*Result{
		run(1, checker.Invalid, missed),
		run(2, checker.Valid, nil, abort("n2"), abort("n3")),
		nil, // a harness error
		run(4, checker.Valid, nil, abort("n2"), Crash{Node: "n1", Kind: "hang", Signature: "hang: stop exceeded its deadline", Count: 1}),
	}
	fs := Findings(results)
	require.Len(t, fs, 2)
	require.Equal(t, assertion, fs[0].Signature)
	require.Equal(t, 2, fs[0].Runs)
	require.Equal(t, 3, fs[0].Count)
	require.Equal(t, []string{"n2", "n3"}, fs[0].Nodes)
	require.Equal(t, []int64{2, 4}, fs[0].Seeds)
	require.Equal(t, 2, fs[0].FirstRun)
	require.True(t, fs[0].Expected)
	require.Equal(t, 1, fs[1].Runs)
	require.Equal(t, 4, fs[1].FirstRun)

	expectCrash := scenario.Scenario{Name: "gate", Expect: scenario.Expect{Verdict: checker.Invalid, Crash: "dqlite_node_stop"}}
	took := []time.Duration{10 * time.Second, 12 * time.Second, time.Second, 11 * time.Second}
	s := SummarizeRepeats(expectCrash, results, took)
	require.Equal(t, checker.Valid, s.Outcome, "a rare crash reproduced in some runs passes: %v", s.Reasons)
	require.Equal(t, 2, s.Reproduced)
	require.Equal(t, 2, s.FirstReproduced)
	require.Equal(t, 22.0, s.SecondsToReproduce)
	require.Equal(t, 34.0, s.Seconds)
	require.Equal(t, map[checker.Verdict]int{checker.Valid: 2, checker.Invalid: 1, checker.Unknown: 1}, s.Outcomes)

	s = SummarizeRepeats(expectCrash, results[:1], took)
	require.Equal(t, checker.Invalid, s.Outcome, "never reproduced: the gate fails")
	surprise := append(results, run(5, checker.Invalid, []string{"not expected: anomaly lost"}, abort("n2")))
	require.Equal(t, checker.Invalid, SummarizeRepeats(expectCrash, surprise, nil).Outcome, "anything unexpected fails the repeat")
	require.Equal(t, checker.Unknown, SummarizeRepeats(expectCrash, []*Result{nil, nil}, nil).Outcome)

	valid := scenario.Scenario{Name: "plain", Expect: scenario.Expect{Verdict: checker.Valid}}
	require.Equal(t, checker.Invalid, SummarizeRepeats(valid, results, nil).Outcome, "expected valid: the worst run decides")
	require.Equal(t, checker.Valid, SummarizeRepeats(valid, []*Result{run(1, checker.Valid, nil)}, nil).Outcome)
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
