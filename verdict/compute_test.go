package verdict

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/converge"
	"github.com/dqtest/dqtest/detect"
	"github.com/dqtest/dqtest/history"
	"github.com/dqtest/dqtest/scenario"
)

func resolved(t *testing.T, src string) *scenario.Resolved {
	t.Helper()
	sc, err := scenario.Parse("s.yaml", []byte(src))
	require.NoError(t, err)
	rs, err := sc.Resolve()
	require.NoError(t, err)
	return rs
}

// okRegister is a short valid register history.
func okRegister() []history.Event {
	return []history.Event{
		{Index: 0, Time: 1, Process: 0, Type: history.Invoke, F: "write", Key: "k", Value: int64(1), Node: "n1"},
		{Index: 1, Time: 2, Process: 0, Type: history.OK, F: "write", Key: "k", Value: int64(1), Node: "n1"},
		{Index: 2, Time: 3, Process: 0, Type: history.Invoke, F: "read", Key: "k", Node: "n1"},
		{Index: 3, Time: 4, Process: 0, Type: history.OK, F: "read", Key: "k", Value: int64(1), Node: "n1"},
	}
}

func find(out Output, name string) *checker.Result {
	for i := range out.Checkers {
		if out.Checkers[i].Checker == name {
			return &out.Checkers[i]
		}
	}
	return nil
}

func TestAClusterThatDidNotRecoverIsInvalidUnlessOptional(t *testing.T) {
	obs := Observations{
		Recovery: &Recovery{Seconds: 60, Error: "n1 does not answer: context deadline exceeded", Node: "n1", Answer: "context deadline exceeded"},
		Nodes:    []detect.NodeReport{{Node: "n1", Exit: detect.NodeExit{Running: true}, Log: []byte("time=x level=INFO msg=\"raft: leader lost\"\n")}},
	}
	out := Compute(context.Background(), Input{Scenario: resolved(t, "backend: sim\n"), Events: okRegister(), Obs: obs})
	require.Equal(t, checker.Invalid, out.Verdict)
	rec := find(out, "recovery")
	require.NotNil(t, rec)
	require.Equal(t, "did-not-recover", rec.Anomalies[0].Kind)
	require.Contains(t, rec.Anomalies[0].Explanation, "Node n1 answered: context deadline exceeded")
	require.Contains(t, rec.Anomalies[0].Explanation, "leader lost", "the node's last log lines are the evidence")

	out = Compute(context.Background(), Input{Scenario: resolved(t, "backend: sim\nexpect: {recovery: optional}\n"), Events: okRegister(), Obs: obs})
	require.Equal(t, checker.Valid, out.Outcome, "%v", out.Reasons)
	require.Contains(t, find(out, "recovery").Reason, "did not recover, which the scenario allows")

	obs.Recovery = &Recovery{Recovered: true, Seconds: 0.2}
	out = Compute(context.Background(), Input{Scenario: resolved(t, "backend: sim\n"), Events: okRegister(), Obs: obs})
	require.Equal(t, checker.Valid, out.Outcome)

	obs.Recovery = nil
	out = Compute(context.Background(), Input{Scenario: resolved(t, "backend: sim\n"), Events: okRegister(), Obs: obs})
	require.Nil(t, find(out, "recovery"), "recovery not measured: nothing said, never a false")
	require.Nil(t, out.Recovery)
}

func TestReplicasThatDivergeMakeTheRunInvalid(t *testing.T) {
	state := func(node string, rows ...string) converge.State {
		return converge.State{Node: node, Tables: map[string][]string{"registers": rows}}
	}
	rs := resolved(t, "backend: sim\n")
	obs := Observations{States: []converge.State{state("n1", `{"k":"k","v":1}`), state("n2", `{"k":"k","v":1}`), state("n3", `{"k":"k","v":2}`)}}
	out := Compute(context.Background(), Input{Scenario: rs, Events: okRegister(), Obs: obs})
	require.Equal(t, checker.Invalid, out.Verdict)
	require.Equal(t, "replicas-diverged", find(out, "convergence").Anomalies[0].Kind)

	obs.States[2] = state("n3", `{"k":"k","v":1}`)
	out = Compute(context.Background(), Input{Scenario: rs, Events: okRegister(), Obs: obs})
	require.Equal(t, checker.Valid, out.Verdict)

	obs.States[2] = converge.State{Node: "n3", Err: "n3 never led within the deadline"}
	out = Compute(context.Background(), Input{Scenario: rs, Events: okRegister(), Obs: obs})
	require.Equal(t, checker.Unknown, out.Verdict, "a node that cannot be read is unknown, never valid")

	off := resolved(t, "backend: sim\nchecker: {convergence: false}\n")
	obs.States[2] = state("n3", `{"k":"k","v":2}`)
	out = Compute(context.Background(), Input{Scenario: off, Events: okRegister(), Obs: obs})
	require.Nil(t, find(out, "convergence"), "the scenario turned it off")
}

func TestALiveRunWhoseFaultNeverTookEffectIsUnknown(t *testing.T) {
	rs := resolved(t, "time_limit: 10s\nnemesis: {faults: [kill], schedule: {interval: 3s, duration: 1s}}\n")
	require.NotEmpty(t, rs.Plan)
	events := okRegister()
	fault := func(i int, err string) history.Event {
		return history.Event{Index: int64(10 + i), Time: int64(10 + i), Process: history.Nemesis, Type: history.Info, F: "start-kill", Nodes: []string{"n2"}, Error: err}
	}
	live := Observations{HistoryStart: time.Now()}
	failed := append(append([]history.Event{}, events...), fault(0, "n2: kill: no such container"), fault(1, "n2: kill: no such container"))
	out := Compute(context.Background(), Input{Scenario: rs, Events: failed, Obs: live})
	require.Equal(t, checker.Unknown, out.Verdict)
	nem := find(out, "nemesis")
	require.NotNil(t, nem)
	require.True(t, strings.Contains(nem.Reason, "kill (2 attempts, all failed)"), nem.Reason)

	worked := append(append([]history.Event{}, events...), fault(0, "n2: kill: no such container"), fault(1, ""))
	out = Compute(context.Background(), Input{Scenario: rs, Events: worked, Obs: live})
	require.Equal(t, checker.Valid, out.Verdict, "one application that took effect is enough")

	out = Compute(context.Background(), Input{Scenario: rs, Events: failed, Obs: Observations{}})
	require.Nil(t, find(out, "nemesis"), "a simulated run refuses what it cannot model instead")
}

func TestAHistoryWithNothingToCheckIsNeverValid(t *testing.T) {
	rs := resolved(t, "backend: sim\nworkload: {name: append}\n")
	out := Compute(context.Background(), Input{Scenario: rs, Events: okRegister()})
	require.Equal(t, checker.Unknown, out.Verdict, "a register history judged by the append checker")
	out = Compute(context.Background(), Input{Scenario: rs})
	require.Equal(t, checker.Unknown, out.Verdict, "an empty history")
}

func TestAFaultWhoseNodeCrashedUnderItTookEffect(t *testing.T) {
	rs := resolved(t, "time_limit: 10s\nnemesis: {faults: [stop], schedule: {interval: 3s, duration: 1s}}\n")
	events := append(okRegister(), history.Event{Index: 10, Time: 10, Process: history.Nemesis, Type: history.Info,
		F: "start-stop", Nodes: []string{"n2"}, Error: "n2: stop: EOF"})
	obs := Observations{HistoryStart: time.Now(), Nodes: []detect.NodeReport{{Node: "n2",
		Exit: detect.NodeExit{ExitCode: 2}, Log: []byte("panic: self-test: panic on stop\n\ngoroutine 1 [running]:\nmain.main()\n")}}}
	out := Compute(context.Background(), Input{Scenario: rs, Events: events, Obs: obs})
	require.Nil(t, find(out, "nemesis"), "the stop failed because n2 died of it: the crash is the finding")
	require.NotEmpty(t, out.Crashes)
}
