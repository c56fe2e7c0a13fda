package nemesis

import (
	"context"
	"math/rand/v2"
	"slices"
)

// shape says how a fault's targets are chosen and what Step.Targets means
// for it.
type shape int

const (
	// shapeHalf: Targets are one side of a cut, len(nodes)/2 random nodes.
	shapeHalf shape = iota
	// shapeOne: Targets are one random node.
	shapeOne
	// shapeLeader: no Targets; the leader is found when the step is applied.
	shapeLeader
	// shapeOrder: Targets are every node in a random order (ring, bridge).
	shapeOrder
	// shapeSpec: Targets follow Spec.Targets (one, minority, majority, leader).
	shapeSpec
	// shapeAll: Targets are every node, in the cluster's order (packet).
	shapeAll
	// shapeTwo: Targets are two random nodes (stop-two).
	shapeTwo
	// shapeRolling: no Targets (or one a timeline names); the node is
	// chosen when the step is applied, by what it runs (upgrade.go).
	shapeRolling
)

// fault is one kind of fault, as data. Partitions have a grudge function;
// node faults have a pair of Cluster methods, one to start and one to undo;
// instantaneous faults (handover, transfer) have nothing to undo and only
// ever get a start step.
type fault struct {
	name     string
	minNodes int
	shape    shape
	instant  bool
	// grudge builds the partition from the targets (or the leader) and the
	// cluster's nodes. nil for non-partition faults.
	grudge func(nodes, targets []string) map[string][]string
	// do and undo act on one node. nil for partitions and instantaneous faults.
	do, undo func(Cluster, context.Context, string) error
	// act, when set, starts the fault instead of do: a sequence of calls on
	// the targets (the stop-path faults, shutdown.go). It returns the nodes
	// the undo must act on and what each call did, for the record.
	act func(ctx context.Context, c Cluster, targets []string) (done []string, calls []Call, err error)
}

var catalogue = []fault{
	{name: "partition-halves", minNodes: 2, shape: shapeHalf, grudge: func(nodes, t []string) map[string][]string {
		return PartitionHalves(append(slices.Clone(t), without(nodes, t...)...))
	}},
	{name: "partition-one", minNodes: 2, shape: shapeOne, grudge: func(nodes, t []string) map[string][]string {
		return IsolateNode(nodes, t[0])
	}},
	{name: "partition-leader", minNodes: 2, shape: shapeLeader, grudge: func(nodes, t []string) map[string][]string {
		return IsolateNode(nodes, t[0])
	}},
	{name: "partition-ring", minNodes: 3, shape: shapeOrder, grudge: func(_, t []string) map[string][]string {
		return MajoritiesRing(t)
	}},
	{name: "partition-bridge", minNodes: 3, shape: shapeOrder, grudge: func(_, t []string) map[string][]string {
		return Bridge(t)
	}},
	{name: "kill", minNodes: 1, shape: shapeSpec, do: Cluster.Kill, undo: Cluster.Restart},
	{name: "pause", minNodes: 1, shape: shapeSpec, do: Cluster.Pause, undo: Cluster.Resume},
	{name: "stop", minNodes: 1, shape: shapeSpec, do: Cluster.Stop, undo: Cluster.Start},
	{name: "member", minNodes: 2, shape: shapeSpec, do: Cluster.Remove, undo: Cluster.Add},
	{name: "handover", minNodes: 2, shape: shapeLeader, instant: true},
	{name: "transfer", minNodes: 2, shape: shapeOne, instant: true},
	// disk and packet need a backend that can do them (DiskFaulter,
	// PacketFaulter); on any other the step records an error.
	{name: "disk", minNodes: 1, shape: shapeSpec, do: fillDisk, undo: freeDisk},
	{name: "packet", minNodes: 2, shape: shapeAll, do: losePackets(0), undo: losePackets(0)},
}

// Faults lists the names of every fault kind, in a stable order.
func Faults() []string {
	names := make([]string, len(catalogue))
	for i, f := range catalogue {
		names[i] = f.name
	}
	return names
}

func lookup(name string) (fault, bool) {
	for _, f := range catalogue {
		if f.name == name {
			return f, true
		}
	}
	return fault{}, false
}

func (f fault) isPartition() bool { return f.grudge != nil }

// Target specs for the faults that act on nodes (kill, pause, stop, member).
const (
	TargetsOne      = "one"
	TargetsMinority = "minority"
	TargetsMajority = "majority"
	TargetsLeader   = "leader"
)

var targetSpecs = []string{TargetsOne, TargetsMinority, TargetsMajority, TargetsLeader}

// resolvedShape turns shapeSpec into a concrete shape and target count.
func (f fault) resolvedShape(targets string, n int) (shape, int) {
	if f.shape != shapeSpec {
		return f.shape, 0
	}
	switch targets {
	case TargetsMinority:
		return shapeSpec, Majority(n) - 1
	case TargetsMajority:
		return shapeSpec, Majority(n)
	case TargetsLeader:
		return shapeLeader, 0
	default:
		return shapeOne, 1
	}
}

// choose picks a fault's targets at plan time. Sets of nodes come back in
// the cluster's order so a plan reads easily; orders (ring, bridge) are
// random permutations.
func (f fault) choose(r *rand.Rand, nodes []string, targets string) []string {
	sh, k := f.resolvedShape(targets, len(nodes))
	switch sh {
	case shapeLeader, shapeRolling:
		return nil
	case shapeAll:
		return slices.Clone(nodes)
	case shapeTwo:
		k = 2
	case shapeOne:
		return []string{nodes[r.IntN(len(nodes))]}
	case shapeHalf:
		k = len(nodes) / 2
	}
	order := slices.Clone(nodes)
	r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	if sh == shapeOrder {
		return order
	}
	chosen := order[:k]
	var set []string
	for _, n := range nodes {
		if slices.Contains(chosen, n) {
			set = append(set, n)
		}
	}
	return set
}
