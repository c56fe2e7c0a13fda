// Package nemesis holds fault kinds and their schedules, written against the
// small Cluster interface a backend satisfies. A nemesis never reads the
// history; it only records its own events.
package nemesis

import "context"

// Cluster is what a nemesis needs from every backend: the nodes and the
// leader, and the three core capabilities (Lifecycle, Network, Leadership).
// The others (DiskFaulter, PacketFaulter, TxnHolder, StopPath) are optional
// interfaces a backend's cluster implements when it can; a backend declares
// its capabilities up front (Capabilities), so that a scenario asking for a
// fault it cannot do is refused before it runs (Missing). Node names are
// "n1".."nN".
type Cluster interface {
	// Nodes lists the nodes of the cluster, in order.
	Nodes() []string
	// Leader asks the cluster which node is the leader now.
	Leader(ctx context.Context) (string, error)
	Lifecycle
	Network
	Leadership
}

// Lifecycle is a node's process and its Node API: the kill, pause and stop
// faults.
type Lifecycle interface {
	// Kill sends SIGKILL to the node's process; Restart starts it again on
	// the same data directory.
	Kill(ctx context.Context, node string) error
	Restart(ctx context.Context, node string) error
	// Pause freezes the node's process(es); Resume thaws them.
	Pause(ctx context.Context, node string) error
	Resume(ctx context.Context, node string) error
	// Stop and Start go through the Node API (graceful stop, start again in
	// the same process).
	Stop(ctx context.Context, node string) error
	Start(ctx context.Context, node string) error
}

// Network is the traffic between nodes: the partition faults.
type Network interface {
	// Partition makes each node in grudge drop all traffic from the listed
	// nodes (Jepsen's grudge), cutting existing connections too. It replaces
	// any partition in force. Heal removes every partition.
	Partition(ctx context.Context, grudge map[string][]string) error
	Heal(ctx context.Context) error
}

// Leadership is leadership and membership: the handover, transfer and
// member faults.
type Leadership interface {
	// Handover asks node to hand its leadership to another voter.
	Handover(ctx context.Context, node string) error
	// Transfer moves leadership to the node named to.
	Transfer(ctx context.Context, to string) error
	// Remove takes node out of the cluster's membership; Add puts it back.
	Remove(ctx context.Context, node string) error
	Add(ctx context.Context, node string) error
}
