package docker

import (
	"context"
	"fmt"
	"strconv"

	"github.com/dqtest/dqtest/nemesis"
)

// Packet loss is iptables' statistic match in each node's network
// namespace: `-A dqtest-loss -s <peer>/32 -m statistic --mode random
// --probability p -j DROP`, one rule per other node, in a chain of its own
// that INPUT jumps to. It sits beside the partition chain (dqtest), so a
// partition and packet loss compose and neither replaces the other's rules.
//
// Why iptables and not netem: this kernel has no netem (sch_netem is not
// built and modules cannot be loaded), and iptables is already how
// partitions work. Why loss and not delay: iptables can drop but not hold a
// packet; delay would need a userspace proxy between every pair of nodes,
// which also changes every connection's endpoints. Loss on TCP is delay
// anyway: every lost segment waits for a retransmission timeout (200 ms at
// least on Linux), so a few percent of loss already stretches raft's round
// trips, and 20% or more provokes heartbeat timeouts and elections.
//
// Only traffic from the other nodes is dropped; the harness's clients,
// which come from the bridge's gateway, are not, so the effect measured is
// dqlite's, not the client link's.
const lossChain = "dqtest-loss"

// lossScript replaces the loss chain's rules with its arguments and makes
// sure INPUT jumps to it, in one iptables-restore commit like partitions.
var lossScript = chainScript(lossChain, "-A INPUT")

// LosePackets implements nemesis.PacketFaulter. A node that is paused or not
// running gets its rules when it is resumed or restarted.
func (c *Cluster) LosePackets(ctx context.Context, name string, loss float64) error {
	if loss < 0 || loss >= 1 {
		return fmt.Errorf("lose packets: %v is not a probability below 1", loss)
	}
	return c.nodeOp(ctx, "lose packets", name, func(ctx context.Context, n *node) error {
		c.mu.Lock()
		if c.loss == nil {
			c.loss = map[string]float64{}
		}
		c.loss[n.name] = loss
		c.mu.Unlock()
		return c.applyLoss(ctx, n)
	})
}

// lossRules lists the rules node n needs for its loss in force.
func (c *Cluster) lossRules(n *node) []string {
	c.mu.Lock()
	loss := c.loss[n.name]
	c.mu.Unlock()
	if loss == 0 {
		return nil
	}
	p := strconv.FormatFloat(loss, 'f', -1, 64)
	var rules []string
	for _, peer := range c.nodes {
		if peer != n {
			rules = append(rules, fmt.Sprintf("-A %s -s %s/32 -m statistic --mode random --probability %s -j DROP", lossChain, peer.ip, p))
		}
	}
	return rules
}

// applyLoss installs n's loss rules if its container can be entered now;
// Restart and Resume call it again. A node that never had loss is left
// alone.
func (c *Cluster) applyLoss(ctx context.Context, n *node) error {
	c.mu.Lock()
	_, ever := c.loss[n.name]
	c.mu.Unlock()
	if !ever {
		return nil
	}
	n.rulesMu.Lock()
	defer n.rulesMu.Unlock()
	s, err := c.inspect(ctx, n)
	if err != nil {
		return err
	}
	if !s.running || s.paused {
		c.log.Debug("packet loss rules deferred", "node", n.name, "running", s.running, "paused", s.paused)
		return nil
	}
	rules := c.lossRules(n)
	if err := c.exec(ctx, n, append([]string{"sh", "-c", lossScript, "sh"}, rules...)); err != nil {
		return fmt.Errorf("iptables on %s: %w", n.name, err)
	}
	c.log.Debug("packet loss rules applied", "node", n.name, "rules", rules)
	return nil
}

var _ nemesis.PacketFaulter = (*Cluster)(nil)
