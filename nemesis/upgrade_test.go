package nemesis

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// upgradeCluster is a fakeCluster whose nodes run dqlite versions and can
// be reinstalled on another, recording the calls.
type upgradeCluster struct {
	*fakeCluster
	versions []string
	runs     map[string]string
}

func newUpgradeCluster(n int, leader, version string) *upgradeCluster {
	c := &upgradeCluster{fakeCluster: newFakeCluster(n, leader), versions: []string{"1.18.7", "1.18.1"}, runs: map[string]string{}}
	for _, node := range c.nodes {
		c.runs[node] = version
	}
	return c
}

func (u *upgradeCluster) DqliteVersions() []string      { return u.versions }
func (u *upgradeCluster) DqliteVersion(n string) string { return u.runs[n] }
func (u *upgradeCluster) Reinstall(_ context.Context, n, v string) (Reinstalled, error) {
	if err := u.call("Reinstall "+v, n); err != nil {
		return Reinstalled{}, err
	}
	r := Reinstalled{From: u.runs[n], To: v, Carried: "copy", DataBytes: 1000}
	u.runs[n] = v
	return r, nil
}

func TestUpgradeRollsFollowersFirstThenTheLeaderOneStepAtATime(t *testing.T) {
	c := newUpgradeCluster(3, "n1", "1.18.1")
	a := NewApplier()
	var order []string
	for range 3 {
		rec := a.Apply(context.Background(), c, Step{Fault: "upgrade", Action: "start"})
		require.NoError(t, rec.Err)
		require.Len(t, rec.Nodes, 1)
		order = append(order, rec.Nodes[0])
		calls := rec.Value.(map[string]any)["calls"].([]Call)
		require.Len(t, calls, 1)
		require.Equal(t, "upgrade 1.18.1 -> 1.18.7", calls[0].Call)
		require.Equal(t, "1.18.7", calls[0].Reinstalled.To)
	}
	require.Equal(t, []string{"n2", "n3", "n1"}, order, "followers in the cluster's order, the leader last")
	require.Equal(t, map[string]string{"n1": "1.18.7", "n2": "1.18.7", "n3": "1.18.7"}, c.runs)

	// Every node is on the newest: the fault cannot happen, and says so.
	c.takeCalls()
	rec := a.Apply(context.Background(), c, Step{Fault: "upgrade", Action: "start"})
	require.ErrorContains(t, rec.Err, "no node has a newer dqlite to go to (the backend has 1.18.7, 1.18.1)")
	require.Empty(t, filterReinstalls(c.takeCalls()), "nothing was reinstalled")
	require.Empty(t, a.HealAll(context.Background(), c), "an upgrade is not undone")
}

func filterReinstalls(calls []string) []string {
	var out []string
	for _, c := range calls {
		if len(c) > 9 && c[:9] == "Reinstall" {
			out = append(out, c)
		}
	}
	return out
}

func TestDowngradeMovesANamedNodeToTheNextOlderVersion(t *testing.T) {
	c := newUpgradeCluster(3, "n1", "1.18.7")
	c.versions = []string{"1.18.1", "1.18.4", "1.18.7"}
	a := NewApplier()
	rec := a.Apply(context.Background(), c, Step{Fault: "downgrade", Action: "start", Targets: []string{"n1"}})
	require.NoError(t, rec.Err)
	require.Equal(t, []string{"Reinstall 1.18.4 n1"}, c.takeCalls(), "a named node is moved even when it leads; one version down")

	// A named node with nowhere to go is an error, and nothing is called.
	c.runs["n2"] = "1.18.1"
	rec = a.Apply(context.Background(), c, Step{Fault: "downgrade", Action: "start", Targets: []string{"n2"}})
	require.ErrorContains(t, rec.Err, "n2 runs dqlite 1.18.1: no older version to go to")
	require.Empty(t, c.takeCalls())
}

func TestUpgradeRecordsAFailedReinstall(t *testing.T) {
	c := newUpgradeCluster(3, "n1", "1.18.1")
	c.fail["Reinstall 1.18.7 n2"] = errors.New("no node image for dqlite 1.18.7")
	rec := NewApplier().Apply(context.Background(), c, Step{Fault: "upgrade", Action: "start"})
	require.ErrorContains(t, rec.Err, "n2: no node image for dqlite 1.18.7")
	calls := rec.Value.(map[string]any)["calls"].([]Call)
	require.Equal(t, "no node image for dqlite 1.18.7", calls[0].Error)
	require.Equal(t, "1.18.1", c.runs["n2"])
}

func TestUpgradeNeedsAnUpgrader(t *testing.T) {
	c := newFakeCluster(3, "n1")
	rec := NewApplier().Apply(context.Background(), c, Step{Fault: "upgrade", Action: "start"})
	require.ErrorIs(t, rec.Err, ErrUnsupported)
	require.Empty(t, c.takeCalls())

	err := Missing(Spec{Faults: []string{"upgrade"}}, "simulator", CoreCapabilities())
	require.ErrorContains(t, err, "the simulator backend cannot do upgrade (needs upgrade)")
	require.NoError(t, Missing(Spec{Faults: []string{"upgrade", "downgrade"}}, "docker", append(CoreCapabilities(), CapUpgrade)))
}

func TestUpgradePlansNoTargetsAndATimelineNamesAtMostOne(t *testing.T) {
	steps, err := Plan(Spec{Faults: []string{"upgrade"}, Schedule: Schedule{Interval: 10 * time.Second}}, nodeNames(3), 35*time.Second, 1)
	require.NoError(t, err)
	require.Len(t, steps, 3)
	for _, st := range steps {
		require.Equal(t, "start", st.Action, "instantaneous: no stop")
		require.Empty(t, st.Targets, "chosen when applied, by what each node runs")
	}
	bad := Spec{Schedule: Schedule{Kind: Timeline, Timeline: []Step{{At: time.Second, Fault: "upgrade", Action: "start", Targets: []string{"n1", "n2"}}}}}
	require.ErrorContains(t, bad.Validate(), "upgrade takes one node, got 2")
	stop := Spec{Schedule: Schedule{Kind: Timeline, Timeline: []Step{{At: time.Second, Fault: "upgrade", Action: "stop"}}}}
	require.ErrorContains(t, stop.Validate(), "upgrade is instantaneous: it has no stop")
}

func TestNextVersion(t *testing.T) {
	vs := []string{"1.18.10", "1.18.2", "1.18.7"}
	require.Equal(t, "1.18.7", nextVersion(vs, "1.18.2", false))
	require.Equal(t, "1.18.10", nextVersion(vs, "1.18.7", false), "numeric order")
	require.Equal(t, "", nextVersion(vs, "1.18.10", false))
	require.Equal(t, "1.18.7", nextVersion(vs, "1.18.10", true))
	require.Equal(t, "", nextVersion(vs, "1.18.2", true))
	require.Equal(t, "1.18.2", nextVersion(vs, "1.18.1", false), "a version the backend lacks still has a next one")
}
