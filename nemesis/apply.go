package nemesis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// NewApplier returns an Applier that remembers which faults it has put in
// force, so that a stop undoes exactly what its start did (even when the
// start found its target, the leader, at apply time) and HealAll can undo
// whatever is left.
//
// It does nothing but call the Cluster: no goroutines, no sleeps, no clock,
// no randomness. The caller gives ctx its deadline; a failure is reported in
// Record.Err and never stops the run. Calls are serialised, so HealAll may be
// called from a cleanup path while a step is being applied.
//
// Overlapping partitions compose: the cluster is given the union of every
// partition in force, and stopping one leaves the others in place.
// Overlapping node faults on the same node (kill and pause of n2) are applied
// as asked; the cluster's error, if any, is recorded.
func NewApplier() Applier { return &applier{} }

type applier struct {
	mu      sync.Mutex
	inForce []forced // in the order they started
}

// forced is one fault in force.
type forced struct {
	fault fault
	// nodes are what the history names as its targets; for node faults, the
	// nodes whose start succeeded (the ones a stop must undo).
	nodes  []string
	grudge map[string][]string // partitions only
	// lingering: a stop was applied but failed, so the fault may still be in
	// force. The schedule has moved on (the fault may start again), but
	// HealAll retries the undo.
	lingering bool
}

// Record values of leadership faults and of faults aimed at the leader.
const (
	ValueLeader      = "leader"       // the leader found when the step was applied
	ValueLeaderAfter = "leader_after" // the leader the cluster reported right after a handover or transfer
)

func (a *applier) Apply(ctx context.Context, c Cluster, s Step) Record {
	a.mu.Lock()
	defer a.mu.Unlock()
	rec := Record{F: s.Action + "-" + s.Fault}
	f, ok := lookup(s.Fault)
	if !ok {
		rec.Err = fmt.Errorf("unknown fault %q", s.Fault)
		return rec
	}
	switch s.Action {
	case "start":
		if f.name == "packet" {
			// The one fault with a parameter: the start sets the loss, the
			// stop sets it back to none.
			loss := lossOf(Spec{}, f, s.Loss)
			f.do = losePackets(loss)
			rec.Value = map[string]float64{"loss": loss}
		}
		return a.start(ctx, c, f, s.Targets, rec)
	case "stop":
		return a.stop(ctx, c, f, rec)
	}
	rec.Err = fmt.Errorf("unknown action %q (start or stop)", s.Action)
	return rec
}

func (a *applier) start(ctx context.Context, c Cluster, f fault, targets []string, rec Record) Record {
	if a.active(f.name) >= 0 {
		rec.Err = fmt.Errorf("%s is already in force", f.name)
		return rec
	}
	targets = slices.Clone(targets)
	leader := ""
	if len(targets) == 0 && (f.shape == shapeLeader || f.shape == shapeSpec) {
		l, err := leaderOf(ctx, c)
		if err != nil {
			rec.Err = fmt.Errorf("find the leader: %w", err)
			return rec
		}
		leader, targets = l, []string{l}
	}
	if len(targets) == 0 && f.shape == shapeRolling {
		t, err := rollingTarget(ctx, c, f)
		if err != nil {
			rec.Err = err
			return rec
		}
		targets = t
	}
	if len(targets) == 0 {
		rec.Err = fmt.Errorf("%s needs targets", f.name)
		return rec
	}
	rec.Nodes = targets

	switch {
	case f.isPartition():
		nodes := c.Nodes()
		if err := checkTargets(f, nodes, targets); err != nil {
			rec.Err = err
			return rec
		}
		// In the cluster's node order, so the record and the cluster's
		// grudge read the same.
		g := unionGrudges(nodes, f.grudge(nodes, targets))
		if f.name == "partition-bridge" {
			rec.Nodes = []string{targets[BridgeNode(targets)]}
		}
		rec.Value = g
		// Even if the call fails the partition may be partly in place, so
		// it counts as in force and its stop (or HealAll) heals it.
		a.inForce = append(a.inForce, forced{fault: f, nodes: rec.Nodes, grudge: g})
		rec.Err = a.partition(ctx, c)
	case f.name == "handover":
		rec.Err = c.Handover(ctx, targets[0])
		rec.Value = a.leaderAfter(ctx, c, rec.Err, map[string]string{ValueLeader: targets[0]})
	case f.name == "transfer":
		rec.Err = c.Transfer(ctx, targets[0])
		rec.Value = a.leaderAfter(ctx, c, rec.Err, map[string]string{})
	case f.act != nil:
		done, calls, err := f.act(ctx, c, targets)
		rec.Value = actValue(leader, calls)
		if len(done) > 0 && !f.instant {
			a.inForce = append(a.inForce, forced{fault: f, nodes: done})
		}
		rec.Err = err
	default:
		if leader != "" {
			rec.Value = map[string]string{ValueLeader: leader}
		}
		done, err := eachNode(ctx, c, f.do, targets)
		if len(done) > 0 {
			a.inForce = append(a.inForce, forced{fault: f, nodes: done})
		}
		rec.Err = err
	}
	return rec
}

func (a *applier) stop(ctx context.Context, c Cluster, f fault, rec Record) Record {
	if f.instant {
		rec.Err = fmt.Errorf("%s is instantaneous: there is nothing to stop", f.name)
		return rec
	}
	i := a.active(f.name)
	if i < 0 {
		rec.Err = fmt.Errorf("%s is not in force", f.name)
		return rec
	}
	rec.Nodes = a.inForce[i].nodes
	if f.isPartition() {
		a.inForce[i].lingering = true
		rec.Err = a.partition(ctx, c)
		return rec
	}
	failed, err := eachNodeFailed(ctx, c, f.undo, a.inForce[i].nodes)
	a.settle(i, failed)
	rec.Err = err
	return rec
}

// HealAll undoes every fault in force, lingering ones too: one Heal for all
// partitions, then it resumes paused nodes, restarts killed ones, starts
// stopped ones and adds removed members back, each in the order they started.
// A fault whose undo fails stays in force, so HealAll can be called again.
func (a *applier) HealAll(ctx context.Context, c Cluster) []Record {
	a.mu.Lock()
	defer a.mu.Unlock()
	var recs []Record
	if slices.ContainsFunc(a.inForce, func(fo forced) bool { return fo.fault.isPartition() }) {
		err := c.Heal(ctx)
		for _, fo := range a.inForce {
			if fo.fault.isPartition() {
				recs = append(recs, Record{F: "stop-" + fo.fault.name, Nodes: fo.nodes, Err: err})
			}
		}
		if err == nil {
			a.inForce = slices.DeleteFunc(a.inForce, func(fo forced) bool { return fo.fault.isPartition() })
		}
	}
	// The disk is freed before a killed or stopped node comes back, so
	// that it comes back with room to write.
	for _, name := range append([]string{"packet", "disk", "pause", "kill", "stop", "member"}, lastingStopFaults()...) {
		for i := 0; i < len(a.inForce); i++ {
			fo := a.inForce[i]
			if fo.fault.name != name {
				continue
			}
			failed, err := eachNodeFailed(ctx, c, fo.fault.undo, fo.nodes)
			recs = append(recs, Record{F: "stop-" + name, Nodes: fo.nodes, Err: err})
			if a.settle(i, failed) {
				i--
			}
		}
	}
	return recs
}

// active is the index of the fault's entry that is in force and not
// lingering, or -1.
func (a *applier) active(name string) int {
	return slices.IndexFunc(a.inForce, func(fo forced) bool { return fo.fault.name == name && !fo.lingering })
}

// settle records the outcome of undoing entry i's nodes: gone if every node
// was undone, else lingering with the nodes that failed. It reports whether
// the entry was removed.
func (a *applier) settle(i int, failed []string) bool {
	if len(failed) == 0 {
		a.inForce = slices.Delete(a.inForce, i, i+1)
		return true
	}
	a.inForce[i].nodes, a.inForce[i].lingering = failed, true
	return false
}

// partition gives the cluster the union of the partitions in force (not
// lingering), or heals it when there are none. Either call replaces whatever
// partition was in place, so on success lingering partitions are gone too.
func (a *applier) partition(ctx context.Context, c Cluster) error {
	var grudges []map[string][]string
	for _, fo := range a.inForce {
		if fo.fault.isPartition() && !fo.lingering {
			grudges = append(grudges, fo.grudge)
		}
	}
	var err error
	if len(grudges) == 0 {
		err = c.Heal(ctx)
	} else {
		err = c.Partition(ctx, unionGrudges(c.Nodes(), grudges...))
	}
	if err == nil {
		a.inForce = slices.DeleteFunc(a.inForce, func(fo forced) bool { return fo.fault.isPartition() && fo.lingering })
	}
	return err
}

// leaderAfter adds, after a successful handover or transfer, the leader the
// cluster reports right away. It may lag the change; a failure to ask is not
// the fault's failure, so it only leaves the value out.
func (a *applier) leaderAfter(ctx context.Context, c Cluster, err error, value map[string]string) map[string]string {
	if err == nil {
		if l, lerr := leaderOf(ctx, c); lerr == nil {
			value[ValueLeaderAfter] = l
		}
	}
	if len(value) == 0 {
		return nil
	}
	return value
}

func leaderOf(ctx context.Context, c Cluster) (string, error) {
	l, err := c.Leader(ctx)
	if err == nil && l == "" {
		err = errors.New("the cluster reports no leader")
	}
	return l, err
}

type nodeAction func(Cluster, context.Context, string) error

// eachNode applies act to every node, going on past failures. It returns the
// nodes it succeeded on and the failures joined.
func eachNode(ctx context.Context, c Cluster, act nodeAction, nodes []string) (done []string, err error) {
	var errs []error
	for _, n := range nodes {
		if e := act(c, ctx, n); e != nil {
			errs = append(errs, fmt.Errorf("%s: %w", n, e))
			continue
		}
		done = append(done, n)
	}
	return done, errors.Join(errs...)
}

// eachNodeFailed is eachNode reporting the nodes it failed on.
func eachNodeFailed(ctx context.Context, c Cluster, act nodeAction, nodes []string) (failed []string, err error) {
	done, err := eachNode(ctx, c, act, nodes)
	return without(nodes, done...), err
}
