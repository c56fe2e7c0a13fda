package verdict

import (
	"bytes"
	"context"
	"testing"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/detect"
	"github.com/dqtest/dqtest/history"
	"github.com/dqtest/dqtest/scenario"
	"github.com/stretchr/testify/require"
)

func TestJudgeComparesTheRunWithTheExpectation(t *testing.T) {
	stale := checker.Result{Checker: "register", Verdict: checker.Invalid, Anomalies: []checker.Anomaly{{Kind: "nonlinearizable"}}}
	lost := checker.Result{Checker: "set", Verdict: checker.Invalid, Anomalies: []checker.Anomaly{{Kind: "lost"}}}
	clean := checker.Result{Checker: "register", Verdict: checker.Valid}
	undecided := checker.Result{Checker: "register", Verdict: checker.Unknown, Reason: "time budget"}
	abort := detect.Crash{Node: "n2", Kind: "assertion", Signal: "SIGABRT", Signature: "SIGABRT: src/server.c:779: dqlite_node_stop: Assertion `rv == 0' failed."}
	valid := scenario.Expect{Verdict: checker.Valid}

	tests := []struct {
		name    string
		exp     scenario.Expect
		results []checker.Result
		crashes []detect.Crash
		want    checker.Verdict
		reason  string
	}{
		{"a clean run expected valid passes", valid, []checker.Result{clean}, nil, checker.Valid, ""},
		{"an anomaly in a run expected valid fails", valid, []checker.Result{stale}, nil, checker.Invalid, "anomaly found: nonlinearizable"},
		{"a crash in a run expected valid fails", valid, []checker.Result{clean}, []detect.Crash{abort}, checker.Invalid, "node n2 crashed"},
		{"an undecided run expected valid is unknown", valid, []checker.Result{undecided}, nil, checker.Unknown, "could not decide"},
		{"the expected anomaly appearing passes", scenario.Expect{Verdict: checker.Invalid, Anomalies: []string{"nonlinearizable"}},
			[]checker.Result{stale}, nil, checker.Valid, "invalid as expected"},
		{"the expected anomaly missing fails", scenario.Expect{Verdict: checker.Invalid, Anomalies: []string{"nonlinearizable"}},
			[]checker.Result{clean}, nil, checker.Invalid, "expected anomaly nonlinearizable, not seen"},
		{"another anomaly besides the expected one fails", scenario.Expect{Verdict: checker.Invalid, Anomalies: []string{"nonlinearizable"}},
			[]checker.Result{stale, lost}, nil, checker.Invalid, "not expected: anomaly lost"},
		{"the expected anomaly missing from an undecided run is unknown", scenario.Expect{Verdict: checker.Invalid, Anomalies: []string{"nonlinearizable"}},
			[]checker.Result{undecided}, nil, checker.Unknown, "could not decide"},
		{"the expected crash appearing passes", scenario.Expect{Verdict: checker.Invalid, Crash: "dqlite_node_stop"},
			[]checker.Result{clean}, []detect.Crash{abort}, checker.Valid, "invalid as expected"},
		{"an expected crash named by kind passes", scenario.Expect{Verdict: checker.Invalid, Crash: "assertion"},
			[]checker.Result{clean}, []detect.Crash{abort}, checker.Valid, ""},
		{"the expected crash missing fails", scenario.Expect{Verdict: checker.Invalid, Crash: "dqlite_node_stop"},
			[]checker.Result{clean}, nil, checker.Invalid, `expected crash matching "dqlite_node_stop", not seen`},
		{"an anomaly when only a crash is expected fails", scenario.Expect{Verdict: checker.Invalid, Crash: "assertion"},
			[]checker.Result{stale}, []detect.Crash{abort}, checker.Invalid, "not expected: anomaly nonlinearizable"},
		{"an unexpected crash besides the expected anomaly fails", scenario.Expect{Verdict: checker.Invalid, Anomalies: []string{"nonlinearizable"}},
			[]checker.Result{stale}, []detect.Crash{abort}, checker.Invalid, "not expected: crash of n2"},
		{"expecting invalid in general accepts any anomaly", scenario.Expect{Verdict: checker.Invalid},
			[]checker.Result{lost}, nil, checker.Valid, ""},
		{"expecting invalid in general accepts a crash", scenario.Expect{Verdict: checker.Invalid},
			[]checker.Result{clean}, []detect.Crash{abort}, checker.Valid, ""},
		{"expecting invalid in general fails on a clean run", scenario.Expect{Verdict: checker.Invalid},
			[]checker.Result{clean}, nil, checker.Invalid, "expected an invalid verdict, not seen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			verdict := combinedVerdict(tt.results, tt.crashes)
			got, reasons := judge(tt.exp, verdict, tt.results, tt.crashes)
			require.Equal(t, tt.want, got, "reasons: %v", reasons)
			if tt.reason != "" {
				require.Contains(t, joinLines(reasons), tt.reason)
			}
		})
	}
}

func joinLines(ss []string) string {
	var b bytes.Buffer
	for _, s := range ss {
		b.WriteString(s + "\n")
	}
	return b.String()
}

func TestCombinedVerdictIsInvalidOnAnyCrash(t *testing.T) {
	require.Equal(t, checker.Valid, combinedVerdict([]checker.Result{{Verdict: checker.Valid}}, nil))
	require.Equal(t, checker.Unknown, combinedVerdict([]checker.Result{{Verdict: checker.Valid}, {Verdict: checker.Unknown}}, nil))
	require.Equal(t, checker.Invalid, combinedVerdict([]checker.Result{{Verdict: checker.Unknown}}, []detect.Crash{{Node: "n1"}}))
}

func TestAGateWithFixedInPassesOnBothSidesOfTheFix(t *testing.T) {
	sc, err := scenario.Parse("gate.yaml", []byte("backend: sim\nexpect: {crash: dqlite_node_stop, fixed_in: 1.18.2}\n"))
	require.NoError(t, err)
	rs, err := sc.Resolve()
	require.NoError(t, err)
	events := []history.Event{
		{Index: 0, Time: 1, Process: 0, Type: history.Invoke, F: "write", Key: "k", Value: int64(1)},
		{Index: 1, Time: 2, Process: 0, Type: history.OK, F: "write", Key: "k", Value: int64(1)},
		{Index: 2, Time: 3, Process: 0, Type: history.Invoke, F: "read", Key: "k"},
		{Index: 3, Time: 4, Process: 0, Type: history.OK, F: "read", Key: "k", Value: int64(1)},
	}
	crashLog := []byte("dqtest: src/server.c:779: dqlite_node_stop: Assertion `rv == 0' failed.\nSIGABRT: abort\n")
	run := func(version string, crashed bool) Output {
		obs := Observations{Dqlite: version, Nodes: []detect.NodeReport{{Node: "n1", Exit: detect.NodeExit{Running: true}}}}
		if crashed {
			obs.Nodes[0] = detect.NodeReport{Node: "n1", Exit: detect.NodeExit{ExitCode: 134, Signal: "SIGABRT"}, Log: crashLog}
		}
		return Compute(context.Background(), Input{Scenario: rs, Events: events, Obs: obs})
	}
	out := run("1.18.1", true)
	require.Equal(t, checker.Valid, out.Outcome, "the known crash before the fix: %v", out.Reasons)
	out = run("1.18.7", false)
	require.Equal(t, checker.Valid, out.Outcome, "%v", out.Reasons)
	require.Contains(t, out.Reasons[0], "fixed in this version")
	require.Equal(t, "1.18.7", out.Expect.Fixed)
	out = run("1.18.7", true)
	require.Equal(t, checker.Invalid, out.Outcome, "the bug back after its fix is a finding")
	require.Contains(t, out.Reasons[0], "the bug fixed in dqlite 1.18.2 showed on 1.18.7")
	out = run("1.18.1", false)
	require.Equal(t, checker.Invalid, out.Outcome, "the gate still fails when the crash goes missing before the fix")
}
