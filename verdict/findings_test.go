package verdict

import (
	"testing"
	"time"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/detect"
	"github.com/dqtest/dqtest/scenario"
	"github.com/stretchr/testify/require"
)

func TestFindingsAreDeduplicatedBySignatureAcrossNodesAndRuns(t *testing.T) {
	assertion := "SIGABRT: src/server.c:924: dqlite_node_stop: Assertion `rv == 0' failed."
	run := func(seed int64, outcome checker.Verdict, reasons []string, crashes ...detect.Crash) *Result {
		return &Result{Seed: seed, Outcome: outcome, Reasons: reasons, Crashes: crashes}
	}
	abort := func(node string) detect.Crash {
		return detect.Crash{Node: node, Kind: "assertion", Signature: assertion, Count: 1, Expected: true}
	}
	missed := []string{`expected crash matching "dqlite_node_stop", not seen`}
	results := []*Result{
		run(1, checker.Invalid, missed),
		run(2, checker.Valid, nil, abort("n2"), abort("n3")),
		nil, // a harness error
		run(4, checker.Valid, nil, abort("n2"), detect.Crash{Node: "n1", Kind: "hang", Signature: "hang: stop exceeded its deadline", Count: 1}),
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
