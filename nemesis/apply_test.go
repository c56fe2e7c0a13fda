package nemesis

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func start(fault string, targets ...string) Step {
	return Step{Fault: fault, Action: "start", Targets: targets}
}

func stop(fault string, targets ...string) Step {
	return Step{Fault: fault, Action: "stop", Targets: targets}
}

func TestEveryFaultCallsTheClusterOnTheRightNodes(t *testing.T) {
	ring := []string{"n3", "n1", "n5", "n2", "n4"}
	// Grudges come back in the cluster's node order.
	norm := func(g map[string][]string) map[string][]string { return unionGrudges(nodeNames(5), g) }
	bridge := []string{"n4", "n1", "n3", "n5", "n2"}
	for _, tc := range []struct {
		name      string
		step      Step
		startCall []string
		nodes     []string // Record.Nodes of the start
		value     any      // Record.Value of the start
		grudge    map[string][]string
		stopCall  []string // nil: instantaneous, a stop is an error
	}{
		{
			name: "partition-halves cuts the chosen half off", step: start("partition-halves", "n2", "n4"),
			startCall: []string{"Partition"}, nodes: []string{"n2", "n4"},
			value:    norm(PartitionHalves([]string{"n2", "n4", "n1", "n3", "n5"})),
			grudge:   norm(PartitionHalves([]string{"n2", "n4", "n1", "n3", "n5"})),
			stopCall: []string{"Heal"},
		},
		{
			name: "partition-one isolates its target", step: start("partition-one", "n3"),
			startCall: []string{"Partition"}, nodes: []string{"n3"},
			value: IsolateNode(nodeNames(5), "n3"), grudge: IsolateNode(nodeNames(5), "n3"),
			stopCall: []string{"Heal"},
		},
		{
			name: "partition-leader isolates the leader found when applied", step: start("partition-leader"),
			startCall: []string{"Leader", "Partition"}, nodes: []string{"n2"},
			value: IsolateNode(nodeNames(5), "n2"), grudge: IsolateNode(nodeNames(5), "n2"),
			stopCall: []string{"Heal"},
		},
		{
			name: "partition-ring follows the planned ring order", step: start("partition-ring", ring...),
			startCall: []string{"Partition"}, nodes: ring,
			value: norm(MajoritiesRing(ring)), grudge: norm(MajoritiesRing(ring)),
			stopCall: []string{"Heal"},
		},
		{
			name: "partition-bridge names the bridge node", step: start("partition-bridge", bridge...),
			startCall: []string{"Partition"}, nodes: []string{"n3"},
			value: norm(Bridge(bridge)), grudge: norm(Bridge(bridge)),
			stopCall: []string{"Heal"},
		},
		{
			name: "kill kills and restarts its targets", step: start("kill", "n1", "n4"),
			startCall: []string{"Kill n1", "Kill n4"}, nodes: []string{"n1", "n4"},
			stopCall: []string{"Restart n1", "Restart n4"},
		},
		{
			name: "kill without targets kills the leader", step: start("kill"),
			startCall: []string{"Leader", "Kill n2"}, nodes: []string{"n2"},
			value:    map[string]string{ValueLeader: "n2"},
			stopCall: []string{"Restart n2"},
		},
		{
			name: "pause pauses and resumes", step: start("pause", "n5"),
			startCall: []string{"Pause n5"}, nodes: []string{"n5"},
			stopCall: []string{"Resume n5"},
		},
		{
			name: "stop stops and starts through the Node API", step: start("stop", "n3"),
			startCall: []string{"Stop n3"}, nodes: []string{"n3"},
			stopCall: []string{"Start n3"},
		},
		{
			name: "member removes and adds back", step: start("member", "n1"),
			startCall: []string{"Remove n1"}, nodes: []string{"n1"},
			stopCall: []string{"Add n1"},
		},
		{
			name: "member without targets removes the leader", step: start("member"),
			startCall: []string{"Leader", "Remove n2"}, nodes: []string{"n2"},
			value:    map[string]string{ValueLeader: "n2"},
			stopCall: []string{"Add n2"},
		},
		{
			name: "handover asks the leader to hand over and records the new one", step: start("handover"),
			startCall: []string{"Leader", "Handover n2", "Leader"}, nodes: []string{"n2"},
			value: map[string]string{ValueLeader: "n2", ValueLeaderAfter: "n4"},
		},
		{
			name: "transfer moves leadership to the chosen node", step: start("transfer", "n5"),
			startCall: []string{"Transfer n5", "Leader"}, nodes: []string{"n5"},
			value: map[string]string{ValueLeaderAfter: "n5"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			c := newFakeCluster(5, "n2")
			c.leaderAfter = "n4"
			a := NewApplier()

			rec := a.Apply(ctx, c, tc.step)
			require.NoError(t, rec.Err)
			require.Equal(t, "start-"+tc.step.Fault, rec.F)
			require.Equal(t, tc.startCall, c.takeCalls())
			require.Equal(t, tc.nodes, rec.Nodes)
			require.Equal(t, tc.value, rec.Value)
			require.Equal(t, tc.grudge, c.grudge)

			rec = a.Apply(ctx, c, stop(tc.step.Fault, tc.step.Targets...))
			require.Equal(t, "stop-"+tc.step.Fault, rec.F)
			if tc.stopCall == nil {
				require.ErrorContains(t, rec.Err, "instantaneous")
				require.Empty(t, c.takeCalls())
				return
			}
			require.NoError(t, rec.Err)
			require.Equal(t, tc.stopCall, c.takeCalls())
			require.Equal(t, tc.nodes, rec.Nodes)
			require.Nil(t, c.grudge)
			require.Empty(t, a.HealAll(ctx, c), "nothing is left in force")
			require.Empty(t, c.takeCalls())
		})
	}
}

func TestStopUndoesTheLeaderFoundAtStartEvenAfterLeadershipMoved(t *testing.T) {
	ctx := context.Background()
	c := newFakeCluster(3, "n1")
	a := NewApplier()
	require.NoError(t, a.Apply(ctx, c, start("pause")).Err)
	c.leader = "n3"
	rec := a.Apply(ctx, c, stop("pause"))
	require.NoError(t, rec.Err)
	require.Equal(t, []string{"Leader", "Pause n1", "Resume n1"}, c.takeCalls())
	require.Equal(t, []string{"n1"}, rec.Nodes)
}

func TestOverlappingPartitionsCompose(t *testing.T) {
	ctx := context.Background()
	c := newFakeCluster(5, "n2")
	a := NewApplier()
	halves := PartitionHalves([]string{"n1", "n2", "n3", "n4", "n5"})
	one := IsolateNode(c.nodes, "n5")

	require.NoError(t, a.Apply(ctx, c, start("partition-halves", "n1", "n2")).Err)
	rec := a.Apply(ctx, c, start("partition-one", "n5"))
	require.NoError(t, rec.Err)
	require.Equal(t, one, rec.Value, "the record shows this fault's own grudge")
	require.Equal(t, unionGrudges(c.nodes, halves, one), c.grudge, "the cluster gets both")

	require.NoError(t, a.Apply(ctx, c, stop("partition-halves")).Err)
	require.Equal(t, one, c.grudge, "stopping one partition keeps the other")
	require.NoError(t, a.Apply(ctx, c, stop("partition-one")).Err)
	require.Nil(t, c.grudge)
	require.Equal(t, []string{"Partition", "Partition", "Partition", "Heal"}, c.takeCalls())
}

func TestApplyRecordsErrorsInsteadOfFailing(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name  string
		setup func(c *fakeCluster, a Applier)
		step  Step
		calls []string
		err   string
	}{
		{name: "unknown fault", step: start("flood", "n1"), err: `unknown fault "flood"`},
		{name: "unknown action", step: Step{Fault: "kill", Action: "restart"}, err: `unknown action "restart"`},
		{name: "stop of a fault not in force", step: stop("kill", "n1"), err: "kill is not in force"},
		{
			name:  "start of a fault already in force",
			setup: func(c *fakeCluster, a Applier) { a.Apply(context.Background(), c, start("kill", "n1")); c.takeCalls() },
			step:  start("kill", "n2"), err: "kill is already in force",
		},
		{
			name:  "the leader cannot be found",
			setup: func(c *fakeCluster, a Applier) { c.fail["Leader"] = boom },
			step:  start("partition-leader"), calls: []string{"Leader"}, err: "find the leader: boom",
		},
		{
			name:  "the cluster reports no leader",
			setup: func(c *fakeCluster, a Applier) { c.leader = "" },
			step:  start("handover"), calls: []string{"Leader"}, err: "no leader",
		},
		{
			name:  "a node call fails, the others still happen",
			setup: func(c *fakeCluster, a Applier) { c.fail["Kill n1"] = boom },
			step:  start("kill", "n1", "n3"), calls: []string{"Kill n1", "Kill n3"}, err: "n1: boom",
		},
		{name: "partition of an unknown node", step: start("partition-one", "n9"), err: `unknown node "n9"`},
		{name: "partition-halves with a wrong half", step: start("partition-halves", "n1", "n2"), err: "takes one half"},
		{name: "a fault that needs targets", step: start("transfer"), err: "transfer needs targets"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newFakeCluster(3, "n1")
			a := NewApplier()
			if tc.setup != nil {
				tc.setup(c, a)
			}
			rec := a.Apply(context.Background(), c, tc.step)
			require.ErrorContains(t, rec.Err, tc.err)
			require.Equal(t, tc.calls, c.takeCalls())
		})
	}
}

func TestOnlyNodesWhoseStartSucceededAreUndone(t *testing.T) {
	ctx := context.Background()
	c := newFakeCluster(3, "n1")
	c.fail["Kill n1"] = errors.New("no such container")
	a := NewApplier()
	require.Error(t, a.Apply(ctx, c, start("kill", "n1", "n3")).Err)
	c.takeCalls()
	rec := a.Apply(ctx, c, stop("kill", "n1", "n3"))
	require.NoError(t, rec.Err)
	require.Equal(t, []string{"Restart n3"}, c.takeCalls())
	require.Equal(t, []string{"n3"}, rec.Nodes)
}

func TestHealAllUndoesEverythingInForce(t *testing.T) {
	ctx := context.Background()
	c := newFakeCluster(5, "n2")
	a := NewApplier()
	for _, s := range []Step{
		start("member", "n5"), start("kill", "n1"), start("partition-one", "n3"),
		start("stop", "n4"), start("pause"), start("partition-halves", "n1", "n3"),
		start("handover"),
	} {
		require.NoError(t, a.Apply(ctx, c, s).Err, s.Fault)
	}
	c.takeCalls()

	recs := a.HealAll(ctx, c)
	require.Equal(t, []string{"Heal", "Resume n2", "Restart n1", "Start n4", "Add n5"}, c.takeCalls(),
		"network first, then processes, then membership")
	var fs []string
	for _, r := range recs {
		require.NoError(t, r.Err)
		fs = append(fs, r.F)
	}
	require.Equal(t, []string{"stop-partition-one", "stop-partition-halves", "stop-pause", "stop-kill", "stop-stop", "stop-member"}, fs)
	require.Nil(t, c.grudge)

	require.Empty(t, a.HealAll(ctx, c), "a second HealAll finds nothing")
	require.Empty(t, c.takeCalls())
	require.NoError(t, a.Apply(ctx, c, start("kill", "n1")).Err, "a healed fault can start again")
}

func TestAFailedStopIsRetriedByHealAll(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("container is gone")
	c := newFakeCluster(3, "n1")
	a := NewApplier()
	require.NoError(t, a.Apply(ctx, c, start("kill", "n2")).Err)
	require.NoError(t, a.Apply(ctx, c, start("partition-one", "n3")).Err)
	c.fail["Restart n2"], c.fail["Heal"] = boom, boom
	require.ErrorIs(t, a.Apply(ctx, c, stop("kill")).Err, boom)
	require.ErrorIs(t, a.Apply(ctx, c, stop("partition-one")).Err, boom)

	require.NoError(t, a.Apply(ctx, c, start("kill", "n1")).Err, "the schedule moves on: the fault may start again")
	c.takeCalls()

	recs := a.HealAll(ctx, c)
	require.Len(t, recs, 3)
	require.ErrorIs(t, recs[0].Err, boom, "stop-partition-one")
	require.ErrorIs(t, recs[1].Err, boom, "stop-kill of n2")
	require.NoError(t, recs[2].Err, "stop-kill of n1")
	require.Equal(t, []string{"Heal", "Restart n2", "Restart n1"}, c.takeCalls(), "still failing, n1 healed")

	delete(c.fail, "Restart n2")
	delete(c.fail, "Heal")
	recs = a.HealAll(ctx, c)
	require.Len(t, recs, 2)
	require.Equal(t, []string{"Heal", "Restart n2"}, c.takeCalls(), "HealAll retries what failed before")
	require.Empty(t, a.HealAll(ctx, c))
}

func TestASuccessfulPartitionChangeClearsALingeringOne(t *testing.T) {
	ctx := context.Background()
	c := newFakeCluster(3, "n1")
	a := NewApplier()
	require.NoError(t, a.Apply(ctx, c, start("partition-one", "n3")).Err)
	c.fail["Heal"] = errors.New("iptables: resource busy")
	require.Error(t, a.Apply(ctx, c, stop("partition-one")).Err)
	delete(c.fail, "Heal")
	require.NoError(t, a.Apply(ctx, c, start("partition-one", "n2")).Err)
	require.Equal(t, IsolateNode(c.nodes, "n2"), c.grudge, "the new partition replaces the old one")
	require.NoError(t, a.Apply(ctx, c, stop("partition-one")).Err)
	c.takeCalls()
	require.Empty(t, a.HealAll(ctx, c))
	require.Empty(t, c.takeCalls())
}
