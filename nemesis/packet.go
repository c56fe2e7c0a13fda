package nemesis

import (
	"context"
	"fmt"
)

// PacketFaulter is a Cluster that can drop a random share of the packets
// between its nodes. It is optional, like DiskFaulter.
//
// Loss, not delay: the kernels dqtest runs on have no netem, so the docker
// backend drops packets with iptables' statistic match, which every kernel
// with iptables has. Lost TCP segments are retransmitted after a timeout,
// so loss shows up to dqlite as delay and jitter on its raft connections,
// and at high rates as heartbeat timeouts and elections.
type PacketFaulter interface {
	// LosePackets makes node drop each packet it receives from another node
	// of the cluster with probability loss (0 < loss < 1), replacing any
	// loss in force on it; loss 0 ends it. Traffic from anywhere else (the
	// harness's clients) is not touched.
	LosePackets(ctx context.Context, node string, loss float64) error
}

// DefaultPacketLoss is the probability a packet fault drops a packet with
// when the scenario does not say: Jepsen's default for its loss behaviour.
const DefaultPacketLoss = 0.2

// losePackets returns the node action that sets node's loss.
func losePackets(loss float64) func(Cluster, context.Context, string) error {
	return func(c Cluster, ctx context.Context, node string) error {
		p, ok := capability[PacketFaulter](c)
		if !ok {
			return fmt.Errorf("packet: %w (%T has no LosePackets)", ErrUnsupported, c)
		}
		return p.LosePackets(ctx, node, loss)
	}
}
