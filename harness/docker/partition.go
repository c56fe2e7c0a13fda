package docker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// Partitions are iptables rules in each node's own network namespace: node A
// holding a grudge against B has `-A dqtest -s <B's address> -j DROP` in a
// chain `dqtest` that INPUT jumps to. Only traffic between nodes is dropped;
// the harness reaches every node from the bridge's gateway address, which no
// rule names, so clients and the nemesis keep working across partitions.
//
// Why DROP, and why that also cuts existing connections: the rule matches
// every packet from B, not only new connections (there is no conntrack state
// match and no ESTABLISHED accept before it), so an established raft
// connection goes silent the instant the rule is in, in both directions (A
// never sees B's data or B's ACKs of A's data). Flushing conntrack would only
// matter for rules that consult it, and the image has no conntrack tool.
// REJECT --reject-with tcp-reset was the alternative; it was not chosen
// because it turns a partition into instant "connection reset/refused"
// errors, which tell the grudging side about the partition at once — a
// different fault (a crashed peer), where the timeouts and elections a real
// partition provokes are the point. The integration test pins that an
// existing connection stops delivering.
//
// The chain is replaced with iptables-restore --noflush in one commit, so a
// new partition replaces the old one on a node without a moment of open
// network in between.
const ruleChain = "dqtest"

// rulesScript replaces the chain's rules with its arguments and makes sure
// INPUT jumps to it. Addresses are passed as separate arguments, never
// spliced into the script.
var rulesScript = chainScript(ruleChain, "-I INPUT 1")

// chainScript is the script that replaces chain's rules with its arguments
// in one iptables-restore commit and makes sure INPUT jumps to the chain,
// adding the jump with the given insert or append command.
func chainScript(chain, add string) string {
	return `printf '%s\n' '*filter' ':` + chain + ` - [0:0]' "$@" COMMIT | iptables-restore -w --noflush &&
{ iptables -w -C INPUT -j ` + chain + ` 2>/dev/null || iptables -w ` + add + ` -j ` + chain + `; }`
}

// Partition implements nemesis.Cluster. It replaces the partition in force on
// every node. A node that is paused or not running gets its rules when it is
// resumed or restarted (exec cannot enter it now); the first error from a
// node that could be reached is returned after trying them all.
func (c *Cluster) Partition(ctx context.Context, grudge map[string][]string) error {
	clean := make(map[string][]string, len(grudge))
	for name, from := range grudge {
		if _, err := c.node(name); err != nil {
			return fmt.Errorf("partition: %w", err)
		}
		for _, f := range from {
			if _, err := c.node(f); err != nil {
				return fmt.Errorf("partition: %s's grudge: %w", name, err)
			}
			if f == name {
				return fmt.Errorf("partition: %s cannot hold a grudge against itself", name)
			}
		}
		clean[name] = slices.Clone(from)
	}
	c.mu.Lock()
	c.grudge = clean
	for _, n := range c.nodes {
		n.rulesStale = true
	}
	c.mu.Unlock()
	errs := make([]error, len(c.nodes))
	var wg sync.WaitGroup
	for i, n := range c.nodes {
		wg.Go(func() { errs[i] = c.applyRules(ctx, n) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("partition: %w", err)
	}
	return nil
}

// Heal implements nemesis.Cluster: every node's rules are removed.
func (c *Cluster) Heal(ctx context.Context) error {
	return c.Partition(ctx, nil)
}

// rulesFor lists the iptables rules node n needs under the current grudge.
func (c *Cluster) rulesFor(n *node) []string {
	var rules []string
	for _, f := range c.grudge[n.name] {
		rules = append(rules, fmt.Sprintf("-A %s -s %s/32 -j DROP", ruleChain, c.byName[f].ip))
	}
	return rules
}

// applyRules brings n's rules up to date if they are stale and n's container
// can be entered; otherwise they stay stale until it can.
func (c *Cluster) applyRules(ctx context.Context, n *node) error {
	n.rulesMu.Lock()
	defer n.rulesMu.Unlock()
	c.mu.Lock()
	stale, rules := n.rulesStale, c.rulesFor(n)
	c.mu.Unlock()
	if !stale {
		return nil
	}
	s, err := c.inspect(ctx, n)
	if err != nil {
		return err
	}
	if !s.running || s.paused {
		c.log.Debug("partition rules deferred", "node", n.name, "running", s.running, "paused", s.paused)
		return nil
	}
	cmd := append([]string{"sh", "-c", rulesScript, "sh"}, rules...)
	if err := c.exec(ctx, n, cmd); err != nil {
		return fmt.Errorf("iptables on %s: %w", n.name, err)
	}
	c.mu.Lock()
	// A Partition that ran meanwhile left the node stale; its own
	// applyRules call, waiting on rulesMu, applies the newer rules.
	if slices.Equal(rules, c.rulesFor(n)) {
		n.rulesStale = false
	}
	c.mu.Unlock()
	c.log.Debug("partition rules applied", "node", n.name, "rules", rules)
	return nil
}

// exec runs cmd in n's container and fails with its output when it exits
// non-zero.
func (c *Cluster) exec(ctx context.Context, n *node, cmd []string) error {
	_, err := execOutput(ctx, n.ctr, cmd)
	return err
}
