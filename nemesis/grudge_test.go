package nemesis

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func nodeNames(n int) []string {
	nodes := make([]string, n)
	for i := range nodes {
		nodes[i] = fmt.Sprintf("n%d", i+1)
	}
	return nodes
}

// visible is the set of nodes a node can reach under a grudge, itself included.
func visible(nodes []string, grudge map[string][]string, node string) []string {
	return without(nodes, grudge[node]...)
}

func requireSymmetric(t *testing.T, grudge map[string][]string) {
	t.Helper()
	for n, from := range grudge {
		for _, f := range from {
			require.Contains(t, grudge[f], n, "%s drops %s but %s does not drop %s", n, f, f, n)
		}
	}
}

func TestPartitionHalvesCutsFirstHalfFromTheRest(t *testing.T) {
	for _, tc := range []struct {
		nodes []string
		want  map[string][]string
	}{
		{nodeNames(3), map[string][]string{"n1": {"n2", "n3"}, "n2": {"n1"}, "n3": {"n1"}}},
		{nodeNames(4), map[string][]string{"n1": {"n3", "n4"}, "n2": {"n3", "n4"}, "n3": {"n1", "n2"}, "n4": {"n1", "n2"}}},
		{[]string{"n5", "n2", "n1", "n3", "n4"}, map[string][]string{
			"n5": {"n1", "n3", "n4"}, "n2": {"n1", "n3", "n4"},
			"n1": {"n5", "n2"}, "n3": {"n5", "n2"}, "n4": {"n5", "n2"},
		}},
		{nodeNames(1), map[string][]string{}},
	} {
		t.Run(strings.Join(tc.nodes, ","), func(t *testing.T) {
			g := PartitionHalves(tc.nodes)
			require.Equal(t, tc.want, g)
			requireSymmetric(t, g)
		})
	}
}

func TestIsolateNodeCutsOneNodeFromAllOthers(t *testing.T) {
	g := IsolateNode(nodeNames(5), "n3")
	require.Equal(t, map[string][]string{
		"n3": {"n1", "n2", "n4", "n5"},
		"n1": {"n3"}, "n2": {"n3"}, "n4": {"n3"}, "n5": {"n3"},
	}, g)
	requireSymmetric(t, g)
}

func TestBridgeNodeSeesBothHalvesWhichCannotSeeEachOther(t *testing.T) {
	for n := 3; n <= 9; n++ {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			nodes := nodeNames(n)
			g := Bridge(nodes)
			requireSymmetric(t, g)
			b := nodes[BridgeNode(nodes)]
			require.Equal(t, nodes, visible(nodes, g, b), "the bridge sees every node")
			left, right := nodes[:BridgeNode(nodes)], nodes[BridgeNode(nodes)+1:]
			for _, l := range left {
				require.Equal(t, right, g[l], "%s drops the other half", l)
			}
			for _, r := range right {
				require.Equal(t, left, g[r], "%s drops the other half", r)
			}
			if n%2 == 1 {
				require.Len(t, left, n/2, "odd clusters: equal halves, each a majority with the bridge")
				require.Len(t, right, n/2)
			}
		})
	}
	require.Equal(t, 2, BridgeNode(nodeNames(5)))
	require.Equal(t, -1, BridgeNode(nodeNames(2)))
	require.Empty(t, Bridge(nodeNames(2)))
}

func TestMajoritiesRingGivesEveryNodeADistinctMajority(t *testing.T) {
	for n := 3; n <= 16; n++ {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			nodes := nodeNames(n)
			slices.Reverse(nodes) // any order: the ring follows it
			g := MajoritiesRing(nodes)
			requireSymmetric(t, g)
			seen := map[string]string{}
			for _, node := range nodes {
				v := visible(nodes, g, node)
				require.Contains(t, v, node)
				require.GreaterOrEqual(t, len(v), Majority(n), "%s sees %v", node, v)
				key := strings.Join(v, ",")
				require.NotContains(t, seen, key, "%s and %s see the same nodes %s", node, seen[key], key)
				seen[key] = node
			}
		})
	}
}

func TestMajoritiesRingOfFiveIsAPlainRing(t *testing.T) {
	g := MajoritiesRing([]string{"a", "b", "c", "d", "e"})
	require.Equal(t, map[string][]string{
		"a": {"c", "d"}, "b": {"d", "e"}, "c": {"a", "e"}, "d": {"a", "b"}, "e": {"b", "c"},
	}, g)
}

func TestMajoritiesRingNeedsThreeNodes(t *testing.T) {
	require.Empty(t, MajoritiesRing(nodeNames(2)))
}

func TestUnionGrudgesDropsWhatAnyGrudgeDrops(t *testing.T) {
	nodes := nodeNames(3)
	u := unionGrudges(nodes, IsolateNode(nodes, "n1"), IsolateNode(nodes, "n3"))
	require.Equal(t, map[string][]string{"n1": {"n2", "n3"}, "n2": {"n1", "n3"}, "n3": {"n1", "n2"}}, u)
}
