package nemesis

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// storageCluster is a fakeCluster that can also fill disks and lose
// packets, recording those calls like the others.
type storageCluster struct{ *fakeCluster }

func (f storageCluster) FillDisk(_ context.Context, n string) error { return f.call("FillDisk", n) }
func (f storageCluster) FreeDisk(_ context.Context, n string) error { return f.call("FreeDisk", n) }
func (f storageCluster) LosePackets(_ context.Context, n string, loss float64) error {
	return f.call(fmt.Sprintf("LosePackets %v", loss), n)
}

func TestDiskFillsTheTargetsAndFreesExactlyThem(t *testing.T) {
	c := storageCluster{newFakeCluster(3, "n1")}
	a := NewApplier()
	rec := a.Apply(context.Background(), c, Step{Fault: "disk", Action: "start", Targets: []string{"n2"}})
	require.NoError(t, rec.Err)
	require.Equal(t, "start-disk", rec.F)
	require.Equal(t, []string{"n2"}, rec.Nodes)
	require.Equal(t, []string{"FillDisk n2"}, c.takeCalls())

	rec = a.Apply(context.Background(), c, Step{Fault: "disk", Action: "stop"})
	require.NoError(t, rec.Err)
	require.Equal(t, []string{"FreeDisk n2"}, c.takeCalls())
}

func TestDiskAimedAtTheLeaderFillsTheLeadersDisk(t *testing.T) {
	c := storageCluster{newFakeCluster(3, "n3")}
	rec := NewApplier().Apply(context.Background(), c, Step{Fault: "disk", Action: "start"})
	require.NoError(t, rec.Err)
	require.Equal(t, []string{"n3"}, rec.Nodes)
	require.Equal(t, []string{"Leader", "FillDisk n3"}, c.takeCalls())
}

func TestHealAllFreesTheDiskBeforeRestartingAKilledNode(t *testing.T) {
	c := storageCluster{newFakeCluster(3, "n1")}
	a := NewApplier()
	for _, st := range []Step{
		{Fault: "kill", Action: "start", Targets: []string{"n2"}},
		{Fault: "disk", Action: "start", Targets: []string{"n2"}},
		{Fault: "packet", Action: "start", Targets: []string{"n1", "n2", "n3"}, Loss: 0.3},
	} {
		require.NoError(t, a.Apply(context.Background(), c, st).Err)
	}
	c.takeCalls()
	recs := a.HealAll(context.Background(), c)
	require.Len(t, recs, 3)
	require.Equal(t, []string{
		"LosePackets 0 n1", "LosePackets 0 n2", "LosePackets 0 n3",
		"FreeDisk n2", "Restart n2",
	}, c.takeCalls())
	require.Empty(t, a.HealAll(context.Background(), c), "nothing is left in force")
}

func TestPacketLosesThePlannedShareOnEveryNodeAndStopsLosing(t *testing.T) {
	c := storageCluster{newFakeCluster(3, "n1")}
	a := NewApplier()
	rec := a.Apply(context.Background(), c, Step{Fault: "packet", Action: "start", Targets: []string{"n1", "n2", "n3"}, Loss: 0.35})
	require.NoError(t, rec.Err)
	require.Equal(t, map[string]float64{"loss": 0.35}, rec.Value)
	require.Equal(t, []string{"LosePackets 0.35 n1", "LosePackets 0.35 n2", "LosePackets 0.35 n3"}, c.takeCalls())

	rec = a.Apply(context.Background(), c, Step{Fault: "packet", Action: "stop"})
	require.NoError(t, rec.Err)
	require.Equal(t, []string{"LosePackets 0 n1", "LosePackets 0 n2", "LosePackets 0 n3"}, c.takeCalls())
}

func TestDiskAndPacketOnABackendWithoutThemRecordUnsupported(t *testing.T) {
	c := newFakeCluster(3, "n1") // no FillDisk, no LosePackets
	a := NewApplier()
	for _, st := range []Step{
		{Fault: "disk", Action: "start", Targets: []string{"n2"}},
		{Fault: "packet", Action: "start", Targets: []string{"n1", "n2", "n3"}},
	} {
		rec := a.Apply(context.Background(), c, st)
		require.ErrorIs(t, rec.Err, ErrUnsupported, st.Fault)
	}
	require.Empty(t, a.HealAll(context.Background(), c), "a fault that never started is not in force")
}

func TestPlanGivesPacketStartsTheSpecsLossOrTheDefault(t *testing.T) {
	for _, tc := range []struct {
		specLoss, want float64
	}{{0, DefaultPacketLoss}, {0.5, 0.5}} {
		spec := Spec{Faults: []string{"packet", "kill"}, PacketLoss: tc.specLoss}
		steps, err := Plan(spec, nodeNames(3), 60*s, 1)
		require.NoError(t, err)
		packets := 0
		for _, st := range steps {
			switch {
			case st.Fault == "packet" && st.Action == "start":
				packets++
				require.Equal(t, tc.want, st.Loss)
				require.Equal(t, nodeNames(3), st.Targets, "packet loss is on every node's links")
			default:
				require.Zero(t, st.Loss, "%+v", st)
			}
		}
		require.NotZero(t, packets)
	}
}

func TestValidateRefusesALossThatIsNoProbability(t *testing.T) {
	for _, loss := range []float64{-0.1, 1, 3} {
		err := Spec{Faults: []string{"packet"}, PacketLoss: loss}.Validate()
		require.ErrorContains(t, err, "packet_loss: must be a probability", "%v", loss)
	}
	err := Spec{Schedule: Schedule{Kind: Timeline, Timeline: []Step{
		{At: s, Fault: "kill", Action: "start", Loss: 0.2},
		{At: 2 * s, Fault: "kill", Action: "stop"},
	}}}.Validate()
	require.ErrorContains(t, err, "schedule.timeline[0].loss: only a packet step takes a loss")
}

func TestEveryCombinationOfTheDqliteMatrixPlansOnThreeNodes(t *testing.T) {
	require.Len(t, Combinations, 13)
	for _, name := range Combinations {
		spec := Spec{Faults: []string{name}}.WithDefaults()
		require.ElementsMatch(t, SplitCombination(name), spec.Faults, name)
		steps, err := Plan(spec, nodeNames(3), 60*s, 7)
		require.NoError(t, err, name)
		if name == "none" {
			require.Empty(t, steps)
			continue
		}
		require.NotEmpty(t, steps, name)
	}
}

func TestSplitCombinationReadsPlusAndNone(t *testing.T) {
	require.Equal(t, []string{"partition", "kill"}, SplitCombination("partition+kill"))
	require.Equal(t, []string{"pause", "disk"}, SplitCombination(" pause + disk "))
	require.Empty(t, SplitCombination("none"))
	require.Empty(t, SplitCombination(""))
	require.Equal(t, []string{"kill", "partition-one", "disk"},
		Spec{Faults: []string{"kill", "partition-one+disk", "none"}}.WithDefaults().Faults)
	require.ErrorContains(t, Spec{Faults: []string{"kill+kill"}}.Validate(), "kill is listed twice")
	require.ErrorContains(t, Spec{Faults: []string{"partition+flood"}}.Validate(), `unknown fault "flood"`)
}

func TestPartitionFamilyPicksVaryingKindsThatFitTheCluster(t *testing.T) {
	seen := map[string]bool{}
	for seed := range int64(20) {
		steps, err := Plan(Spec{Faults: []string{"partition"}, Schedule: Schedule{Interval: 2 * s, Duration: s}}, nodeNames(5), 60*s, seed)
		require.NoError(t, err)
		for _, st := range steps {
			require.Contains(t, families["partition"], st.Fault)
			seen[st.Fault] = true
		}
	}
	require.Len(t, seen, len(families["partition"]), "every kind comes up: %v", seen)

	steps, err := Plan(Spec{Faults: []string{"partition"}}, nodeNames(2), 60*s, 3)
	require.NoError(t, err)
	for _, st := range steps {
		require.NotContains(t, []string{"partition-ring", "partition-bridge"}, st.Fault, "ring and bridge need 3 nodes")
	}
	_, err = Plan(Spec{Faults: []string{"partition"}}, nodeNames(1), 60*s, 3)
	require.ErrorContains(t, err, "partition needs at least 2 nodes")
}

func TestATimelineNamesOneKindNotAFamily(t *testing.T) {
	err := Spec{Schedule: Schedule{Kind: Timeline, Timeline: []Step{
		{At: s, Fault: "partition", Action: "start"},
		{At: 2 * s, Fault: "partition", Action: "stop"},
	}}}.Validate()
	require.ErrorContains(t, err, "partition is a family of faults")
}

// wrapped hides its cluster's optional capabilities, as the harness's
// watching wrapper does, and hands them over through Unwrap.
type wrapped struct{ Cluster }

func (w wrapped) Unwrap() Cluster { return w.Cluster }

func TestDiskAndPacketFindTheBackendBehindAWrapper(t *testing.T) {
	c := storageCluster{newFakeCluster(3, "n1")}
	a := NewApplier()
	require.NoError(t, a.Apply(context.Background(), wrapped{c}, Step{Fault: "disk", Action: "start", Targets: []string{"n2"}}).Err)
	require.NoError(t, a.Apply(context.Background(), wrapped{wrapped{c}}, Step{Fault: "packet", Action: "start", Targets: []string{"n1"}, Loss: 0.1}).Err)
	require.Equal(t, []string{"FillDisk n2", "LosePackets 0.1 n1"}, c.takeCalls())
}
