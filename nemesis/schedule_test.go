package nemesis

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const s = time.Second

// requireHealingPlan checks what every plan promises: sorted by At (a stop
// first at equal offsets), every step before runFor, each kind's starts and
// stops alternating, every lasting fault stopped, targets known nodes.
func requireHealingPlan(t *testing.T, steps []Step, nodes []string, runFor time.Duration) {
	t.Helper()
	inForce := map[string]Step{}
	for i, st := range steps {
		require.Less(t, st.At, runFor, "step %d %+v", i, st)
		require.GreaterOrEqual(t, st.At, time.Duration(0))
		if i > 0 {
			prev := steps[i-1]
			require.True(t, prev.At < st.At || prev.At == st.At && (prev.Action == "stop" || st.Action == "start"),
				"steps %d and %d out of order: %+v %+v", i-1, i, prev, st)
		}
		for _, n := range st.Targets {
			require.Contains(t, nodes, n)
		}
		f, ok := lookup(st.Fault)
		require.True(t, ok, st.Fault)
		switch st.Action {
		case "start":
			require.NotContains(t, inForce, st.Fault, "step %d starts %s twice", i, st.Fault)
			if !f.instant {
				inForce[st.Fault] = st
			}
		case "stop":
			require.False(t, f.instant, "an instantaneous fault has no stop")
			begun, in := inForce[st.Fault]
			require.True(t, in, "step %d stops %s, not in force", i, st.Fault)
			require.Equal(t, begun.Targets, st.Targets, "a stop names its start's targets")
			delete(inForce, st.Fault)
		default:
			t.Fatalf("step %d: action %q", i, st.Action)
		}
	}
	require.Empty(t, inForce, "every fault is stopped before the run ends")
}

// describe renders steps as "10s start-kill" lines, to compare plans at a glance.
func describe(steps []Step) []string {
	var lines []string
	for _, st := range steps {
		lines = append(lines, fmt.Sprintf("%v %s-%s", st.At, st.Action, st.Fault))
	}
	return lines
}

func TestPlanIsDeterministic(t *testing.T) {
	spec := Spec{Faults: Faults(), Schedule: Schedule{Kind: "random", Min: 2 * s, Max: 7 * s, Duration: 4 * s}}
	nodes := nodeNames(5)
	a, err := Plan(spec, nodes, 3*time.Minute, 42)
	require.NoError(t, err)
	b, err := Plan(spec, nodes, 3*time.Minute, 42)
	require.NoError(t, err)
	require.Equal(t, a, b, "same inputs, same steps")
	require.NotEmpty(t, a)

	c, err := Plan(spec, nodes, 3*time.Minute, 43)
	require.NoError(t, err)
	require.NotEqual(t, a, c, "another seed, other steps")
}

func TestPlanFixedStartsFaultsInTurnAtExactOffsets(t *testing.T) {
	spec := Spec{Faults: []string{"partition-halves", "kill", "handover"}, Schedule: Schedule{Kind: "fixed", Interval: 10 * s, Duration: 5 * s}}
	steps, err := Plan(spec, nodeNames(5), 70*s, 1)
	require.NoError(t, err)
	require.Equal(t, []string{
		"10s start-partition-halves", "15s stop-partition-halves",
		"20s start-kill", "25s stop-kill",
		"30s start-handover",
		"40s start-partition-halves", "45s stop-partition-halves",
		"50s start-kill", "55s stop-kill",
		"1m0s start-handover",
	}, describe(steps))
	require.Len(t, steps[0].Targets, 2, "a half of 5 nodes")
	require.Len(t, steps[2].Targets, 1, "kill takes one node by default")
	require.Empty(t, steps[4].Targets, "handover finds the leader when applied")
	requireHealingPlan(t, steps, nodeNames(5), 70*s)
}

func TestPlanLeavesOutAFaultThatCouldNotStopBeforeTheEnd(t *testing.T) {
	spec := Spec{Faults: []string{"pause", "transfer"}, Schedule: Schedule{Interval: 10 * s, Duration: 5 * s}}
	steps, err := Plan(spec, nodeNames(3), 55*s, 1)
	require.NoError(t, err)
	require.Equal(t, []string{
		"10s start-pause", "15s stop-pause", "20s start-transfer",
		"30s start-pause", "35s stop-pause", "40s start-transfer",
		// 50s: a pause would stop at 55s, the end of the run.
	}, describe(steps))
}

func TestPlanOverlapsDifferentKindsButNeverOneKindWithItself(t *testing.T) {
	spec := Spec{Faults: []string{"kill", "partition-one"}, Schedule: Schedule{Interval: 4 * s, Duration: 8 * s}}
	steps, err := Plan(spec, nodeNames(3), 40*s, 7)
	require.NoError(t, err)
	requireHealingPlan(t, steps, nodeNames(3), 40*s)
	require.Equal(t, Step{At: 8 * s, Fault: "partition-one", Action: "start", Targets: steps[1].Targets}, steps[1])
	require.Equal(t, "stop", steps[2].Action, "kill stops at 12s before it starts again at 12s")
	require.Equal(t, "start", steps[3].Action)
	require.Equal(t, steps[2].At, steps[3].At)
}

func TestPlanRandomGapsAreSeededAndWithinBounds(t *testing.T) {
	spec := Spec{Faults: []string{"pause", "partition-ring"}, Schedule: Schedule{Kind: "random", Min: 3 * s, Max: 9 * s, Duration: 2 * s}}
	gapsOf := func(seed int64) []time.Duration {
		steps, err := Plan(spec, nodeNames(5), 10*time.Minute, seed)
		require.NoError(t, err)
		requireHealingPlan(t, steps, nodeNames(5), 10*time.Minute)
		var gaps []time.Duration
		last := time.Duration(0)
		for _, st := range steps {
			if st.Action == "start" {
				gaps = append(gaps, st.At-last)
				last = st.At
			}
		}
		return gaps
	}
	gaps := gapsOf(5)
	require.Greater(t, len(gaps), 60)
	for _, g := range gaps {
		require.GreaterOrEqual(t, g, 3*s)
		require.LessOrEqual(t, g, 9*s)
	}
	require.Greater(t, len(slices.Compact(slices.Sorted(slices.Values(gaps)))), 10, "the gaps vary")
	require.Equal(t, gaps, gapsOf(5))
	require.NotEqual(t, gaps, gapsOf(6))
}

func TestPlanTimelineIsExactlyAsWritten(t *testing.T) {
	timeline := []Step{
		{At: 5 * s, Fault: "kill", Action: "start", Targets: []string{"n2"}},
		{At: 6 * s, Fault: "partition-halves", Action: "start", Targets: []string{"n1", "n3"}},
		{At: 6 * s, Fault: "handover", Action: "start"},
		{At: 9 * s, Fault: "kill", Action: "stop"},
		{At: 12 * s, Fault: "partition-halves", Action: "stop", Targets: []string{"n1", "n3"}},
		{At: 13 * s, Fault: "partition-bridge", Action: "start", Targets: []string{"n5", "n4", "n3", "n2", "n1"}},
		{At: 14 * s, Fault: "partition-bridge", Action: "stop"},
	}
	spec := Spec{Schedule: Schedule{Kind: "timeline", Timeline: timeline}}
	steps, err := Plan(spec, nodeNames(5), 20*s, 99)
	require.NoError(t, err)
	want := slices.Clone(timeline)
	want[3].Targets = []string{"n2"}
	want[6].Targets = want[5].Targets
	require.Equal(t, want, steps, "stops repeat their start's targets")
	require.Empty(t, timeline[3].Targets, "the spec is not modified")
	requireHealingPlan(t, steps, nodeNames(5), 20*s)
}

func TestPlanTimelineChoosesTargetsItWasNotGiven(t *testing.T) {
	spec := Spec{Targets: "majority", Schedule: Schedule{Kind: "timeline", Timeline: []Step{
		{At: s, Fault: "pause", Action: "start"},
		{At: 2 * s, Fault: "pause", Action: "stop"},
		{At: 3 * s, Fault: "partition-ring", Action: "start"},
		{At: 4 * s, Fault: "partition-ring", Action: "stop"},
	}}}
	steps, err := Plan(spec, nodeNames(5), 5*s, 3)
	require.NoError(t, err)
	require.Len(t, steps[0].Targets, 3, "a majority of 5")
	require.ElementsMatch(t, nodeNames(5), steps[2].Targets, "a ring orders every node")
	requireHealingPlan(t, steps, nodeNames(5), 5*s)
}

func TestPlanChoosesTargetsByTheTargetSpec(t *testing.T) {
	for _, tc := range []struct {
		targets string
		n, want int
	}{
		{"one", 5, 1}, {"minority", 5, 2}, {"majority", 5, 3}, {"leader", 5, 0},
		{"minority", 3, 1}, {"majority", 3, 2}, {"minority", 7, 3}, {"majority", 7, 4},
	} {
		t.Run(fmt.Sprintf("%s of %d", tc.targets, tc.n), func(t *testing.T) {
			nodes := nodeNames(tc.n)
			spec := Spec{Faults: []string{"kill", "pause", "stop", "member"}, Targets: tc.targets}
			steps, err := Plan(spec, nodes, 5*time.Minute, 11)
			require.NoError(t, err)
			require.NotEmpty(t, steps)
			seen := map[string]bool{}
			for _, st := range steps {
				require.Len(t, st.Targets, tc.want, "%+v", st)
				require.True(t, slices.IsSortedFunc(st.Targets, func(a, b string) int {
					return slices.Index(nodes, a) - slices.Index(nodes, b)
				}), "targets in the cluster's order: %v", st.Targets)
				for _, n := range st.Targets {
					seen[n] = true
				}
			}
			if tc.want > 0 {
				require.Len(t, seen, tc.n, "over a long run every node is a target")
			}
			requireHealingPlan(t, steps, nodes, 5*time.Minute)
		})
	}
}

func TestPlanHealsForEveryFaultScheduleAndSeed(t *testing.T) {
	for _, kind := range []string{"fixed", "random"} {
		for _, n := range []int{3, 5, 7} {
			for seed := range int64(5) {
				spec := Spec{Faults: Faults(), Schedule: Schedule{Kind: kind, Interval: 3 * s, Min: s, Max: 4 * s, Duration: 7 * s}}
				steps, err := Plan(spec, nodeNames(n), 97*s, seed)
				require.NoError(t, err)
				requireHealingPlan(t, steps, nodeNames(n), 97*s)
			}
		}
	}
}

func TestPlanWithoutFaultsIsEmpty(t *testing.T) {
	steps, err := Plan(Spec{}, nodeNames(3), time.Minute, 1)
	require.NoError(t, err)
	require.Empty(t, steps)
}

func TestPlanRefusesWhatTheClusterCannotDo(t *testing.T) {
	timeline := func(steps ...Step) Spec { return Spec{Schedule: Schedule{Kind: "timeline", Timeline: steps}} }
	for _, tc := range []struct {
		name   string
		spec   Spec
		nodes  []string
		runFor time.Duration
		err    string
	}{
		{"an invalid spec", Spec{Faults: []string{"flood"}}, nodeNames(3), time.Minute, "faults[0]: unknown fault"},
		{"no nodes", Spec{}, nil, time.Minute, "no nodes"},
		{"a node twice", Spec{}, []string{"n1", "n1"}, time.Minute, "n1 is listed twice"},
		{"an empty node name", Spec{}, []string{"n1", ""}, time.Minute, "node 1 has an empty name"},
		{"no run length", Spec{}, nodeNames(3), 0, "run length must be positive"},
		{"a ring of two", Spec{Faults: []string{"partition-ring"}}, nodeNames(2), time.Minute, "faults[0]: partition-ring needs at least 3 nodes"},
		{"a partition of one", Spec{Faults: []string{"kill", "partition-one"}}, nodeNames(1), time.Minute, "faults[1]: partition-one needs at least 2 nodes"},
		{"a minority of one node", Spec{Faults: []string{"kill"}, Targets: "minority"}, nodeNames(1), time.Minute, "targets: minority of 1 nodes is no node"},
		{"a timeline past the end", timeline(Step{At: s, Fault: "kill", Action: "start"}, Step{At: time.Minute, Fault: "kill", Action: "stop"}),
			nodeNames(3), time.Minute, "schedule.timeline[1].at: 1m0s is not before the end of the run"},
		{"a timeline target not in the cluster", timeline(Step{Fault: "kill", Action: "start", Targets: []string{"n4"}}, Step{At: s, Fault: "kill", Action: "stop"}),
			nodeNames(3), time.Minute, `schedule.timeline[0].targets: unknown node "n4"`},
		{"a timeline half of the wrong size", timeline(Step{Fault: "partition-halves", Action: "start", Targets: []string{"n1"}}, Step{At: s, Fault: "partition-halves", Action: "stop"}),
			nodeNames(5), time.Minute, "takes one half, 2 of the 5 nodes, got 1"},
		{"a timeline ring missing nodes", timeline(Step{Fault: "partition-ring", Action: "start", Targets: []string{"n1", "n2", "n3"}}, Step{At: s, Fault: "partition-ring", Action: "stop"}),
			nodeNames(5), time.Minute, "takes every node"},
		{"a timeline fault too big for the cluster", timeline(Step{Fault: "partition-bridge", Action: "start"}, Step{At: s, Fault: "partition-bridge", Action: "stop"}),
			nodeNames(2), time.Minute, "schedule.timeline[0].fault: partition-bridge needs at least 3 nodes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Plan(tc.spec, tc.nodes, tc.runFor, 1)
			require.ErrorContains(t, err, tc.err)
		})
	}
}

// A run named after faults must have them: a fault the schedule never
// fits in the run is an error, never a plan without it.
func TestPlanRefusesFaultsThatNeverFitInTheRun(t *testing.T) {
	fixed := Schedule{Interval: 10 * s, Duration: 5 * s}
	for _, tc := range []struct {
		name    string
		spec    Spec
		runFor  time.Duration
		missing []string
	}{
		{"shorter than the first interval", Spec{Faults: []string{"kill"}, Schedule: fixed}, 10 * s, []string{"kill"}},
		{"a lasting fault that cannot end in time", Spec{Faults: []string{"pause"}, Schedule: fixed}, 15 * s, []string{"pause"}},
		{"the second of two never gets its turn", Spec{Faults: []string{"kill", "pause"}, Schedule: fixed}, 19 * s, []string{"pause"}},
		{"random, its minimum gap too long", Spec{Faults: []string{"kill"}, Schedule: Schedule{Kind: Random, Min: 20 * s, Max: 30 * s, Duration: 5 * s}}, 15 * s, []string{"kill"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			steps, err := Plan(tc.spec, nodeNames(3), tc.runFor, 1)
			var ue *UnplannedError
			require.ErrorAs(t, err, &ue, "plan %v", describe(steps))
			require.Equal(t, tc.missing, ue.Faults)
			require.Contains(t, err.Error(), "never fit in a run of "+tc.runFor.String())
		})
	}
	// Just long enough: each fault once.
	steps, err := Plan(Spec{Faults: []string{"kill", "pause"}, Schedule: fixed}, nodeNames(3), 26*s, 1)
	require.NoError(t, err)
	require.Equal(t, []string{"10s start-kill", "15s stop-kill", "20s start-pause", "25s stop-pause"}, describe(steps))
	// No faults: nothing to fit.
	steps, err = Plan(Spec{Schedule: fixed}, nodeNames(3), 1*s, 1)
	require.NoError(t, err)
	require.Empty(t, steps)
}
