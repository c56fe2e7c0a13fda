package detect

import (
	"strings"
	"testing"
	"time"

	"github.com/dqtest/dqtest/history"
	"github.com/stretchr/testify/require"
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
