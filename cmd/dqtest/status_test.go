package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/history"
)

func TestStatusLineCountsOutcomesAndFaultsInForceAndEndsWithTheOutcome(t *testing.T) {
	var term bytes.Buffer
	s := &statusLine{term: &term, width: 200}
	s.Begin("default", 40*time.Second)
	ev := func(p history.Process, typ history.Type, f string, nodes ...string) {
		s.Observe(history.Event{Process: p, Type: typ, F: f, Nodes: nodes, Time: 2e9})
	}
	ev(0, history.Invoke, "read")
	ev(0, history.OK, "read")
	ev(1, history.Fail, "cas")
	ev(2, history.Info, "write")
	ev(history.Nemesis, history.Info, "start-partition-halves", "n1", "n2")
	ev(history.Nemesis, history.Info, "start-kill", "n3")
	ev(history.Nemesis, history.Info, "stop-kill")
	s.Observe(history.Event{Process: history.Nemesis, Type: history.Info, F: "start-pause", Error: "pause failed"})
	_, err := s.Write([]byte("time=... level=INFO msg=fault\n"))
	require.NoError(t, err)
	s.End(checker.Invalid)

	out := term.String()
	last := out[strings.LastIndex(out, "\r\033[K")+len("\r\033[K"):]
	require.Regexp(t, `^default  \d+s/40s  ok 1  fail 1  info 1  faults: partition-halves \(n1 n2\)  → INVALID\n$`, last)
	require.Contains(t, out, "\r\033[Ktime=... level=INFO msg=fault\n", "a log line lifts the status line")
	require.NotContains(t, last, "kill", "a stopped fault is no longer in force")
	require.NotContains(t, last, "pause", "a fault that failed to start is not in force")
}

func TestStatusLineSaysTheClusterIsStartingBeforeTheFirstOperation(t *testing.T) {
	var term bytes.Buffer
	s := &statusLine{term: &term, width: 30}
	s.Begin("a-long-scenario-name", time.Minute)
	s.End(checker.Unknown)
	require.Contains(t, term.String(), "a-long-scenario-name  starting")
	for _, line := range strings.Split(term.String(), "\r\033[K") {
		if !strings.Contains(line, "→") {
			require.LessOrEqual(t, len([]rune(line)), 30, "the live line fits the terminal: %q", line)
		}
	}
}
