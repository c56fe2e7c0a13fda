package nemesis

import "slices"

// A grudge says, for each node, which nodes it drops all traffic from
// (Jepsen's word). Nodes that drop nothing have no entry. The functions below
// are pure: they take the nodes in a meaningful order and the caller (Plan,
// from the seed) decides that order, so a grudge is reproducible from a Step.
//
// Every grudge built here is symmetric (a drops b exactly when b drops a). A
// one-way drop would cut TCP both ways anyway, since the replies are dropped,
// so a symmetric grudge is the honest description of what the nodes can see.

// Majority is the smallest number of nodes that forms a quorum of n.
func Majority(n int) int { return n/2 + 1 }

// PartitionHalves cuts nodes into two halves: the first len(nodes)/2 nodes on
// one side, the rest (the larger half when the count is odd) on the other.
func PartitionHalves(nodes []string) map[string][]string {
	h := len(nodes) / 2
	return split(nodes[:h], nodes[h:])
}

// IsolateNode cuts node off from every other node.
func IsolateNode(nodes []string, node string) map[string][]string {
	return split([]string{node}, without(nodes, node))
}

// Bridge cuts the nodes into two halves joined by one bridge node that sees
// both: with the nodes in order, the first (n-1)/2 form one half, the next
// node is the bridge and the rest form the other half. With 5 nodes
// [a b c d e], c is the bridge and {a,b} cannot reach {d,e}; each half plus the
// bridge is a majority, so two leaders can each believe they have a quorum's
// support through the same node.
func Bridge(nodes []string) map[string][]string {
	b := BridgeNode(nodes)
	if b < 0 {
		return map[string][]string{}
	}
	return split(nodes[:b], nodes[b+1:])
}

// BridgeNode is the index in nodes of the node Bridge makes the bridge, or -1
// when there are fewer than 3 nodes (no bridge is possible).
func BridgeNode(nodes []string) int {
	if len(nodes) < 3 {
		return -1
	}
	return (len(nodes) - 1) / 2
}

// MajoritiesRing arranges the nodes (in the given order) on a ring so that
// every node sees a majority, itself included, but no two nodes see the same
// set of nodes (Jepsen's majorities ring). Every node believes it can reach a
// quorum, yet no quorum agrees on who is in it, which stresses elections.
//
// Construction: each node is linked to its k nearest neighbours on both sides
// of the ring, k = (Majority(n)-1)/2; when a majority needs one more link (an
// odd number of peers), each node still short of it is linked to the node
// furthest from it on the ring that is still short, or failing that, to any
// unlinked node. With 5 nodes this is a plain ring (each sees its two
// neighbours); with 3 it is a path (a-b-c); with 7 one node gets a fifth link.
// Fewer than 3 nodes cannot form a ring and give an empty grudge.
func MajoritiesRing(ring []string) map[string][]string {
	n := len(ring)
	if n < 3 {
		return map[string][]string{}
	}
	need := Majority(n) - 1 // peers each node must see
	linked := make([][]bool, n)
	for i := range linked {
		linked[i] = make([]bool, n)
	}
	degree := make([]int, n)
	link := func(i, j int) {
		linked[i][j], linked[j][i] = true, true
		degree[i]++
		degree[j]++
	}
	for i := range n {
		for d := 1; d <= need/2; d++ {
			if j := (i + d) % n; !linked[i][j] {
				link(i, j)
			}
		}
	}
	for i := range n {
		for _, shortOnly := range []bool{true, false} {
			for off := n / 2; off < n/2+n && degree[i] < need; off++ {
				j := (i + off) % n
				if j == i || linked[i][j] || (shortOnly && degree[j] >= need) {
					continue
				}
				link(i, j)
			}
		}
	}
	grudge := map[string][]string{}
	for i := range n {
		for j := range n {
			if i != j && !linked[i][j] {
				grudge[ring[i]] = append(grudge[ring[i]], ring[j])
			}
		}
	}
	return grudge
}

// split makes every node of a drop traffic from every node of b, and back.
func split(a, b []string) map[string][]string {
	grudge := map[string][]string{}
	if len(a) == 0 || len(b) == 0 {
		return grudge
	}
	for _, n := range a {
		grudge[n] = append([]string(nil), b...)
	}
	for _, n := range b {
		grudge[n] = append([]string(nil), a...)
	}
	return grudge
}

// unionGrudges merges grudges: a node drops traffic from a peer if any of
// them says so. It is how overlapping partitions compose. Each list keeps the
// order of nodes.
func unionGrudges(nodes []string, grudges ...map[string][]string) map[string][]string {
	drops := map[string]map[string]bool{}
	for _, g := range grudges {
		for n, from := range g {
			if drops[n] == nil {
				drops[n] = map[string]bool{}
			}
			for _, f := range from {
				drops[n][f] = true
			}
		}
	}
	union := map[string][]string{}
	for _, n := range nodes {
		for _, f := range nodes {
			if drops[n][f] {
				union[n] = append(union[n], f)
			}
		}
	}
	return union
}

// without returns nodes minus the ones listed, in order.
func without(nodes []string, drop ...string) []string {
	var rest []string
	for _, n := range nodes {
		if !slices.Contains(drop, n) {
			rest = append(rest, n)
		}
	}
	return rest
}
