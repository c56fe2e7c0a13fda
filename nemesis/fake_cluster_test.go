package nemesis

import (
	"context"
	"maps"
	"slices"
)

// fakeCluster is an in-memory Cluster that records every call, so a test can
// require exactly which methods a fault calls on which nodes.
type fakeCluster struct {
	nodes  []string
	leader string
	// leaderAfter becomes the leader after a handover or transfer; "" keeps
	// the leader (transfer sets it to its target).
	leaderAfter string
	// fail makes a call fail while its entry is set, e.g. "Restart n2".
	fail  map[string]error
	calls []string
	// grudge is the partition in force.
	grudge map[string][]string
}

func newFakeCluster(n int, leader string) *fakeCluster {
	return &fakeCluster{nodes: nodeNames(n), leader: leader, fail: map[string]error{}}
}

func (f *fakeCluster) call(method, node string) error {
	c := method
	if node != "" {
		c += " " + node
	}
	f.calls = append(f.calls, c)
	return f.fail[c]
}

// takeCalls returns the calls so far and forgets them.
func (f *fakeCluster) takeCalls() []string {
	c := f.calls
	f.calls = nil
	return c
}

func (f *fakeCluster) Nodes() []string { return slices.Clone(f.nodes) }

func (f *fakeCluster) Leader(context.Context) (string, error) {
	if err := f.call("Leader", ""); err != nil {
		return "", err
	}
	return f.leader, nil
}

func (f *fakeCluster) Kill(_ context.Context, n string) error    { return f.call("Kill", n) }
func (f *fakeCluster) Restart(_ context.Context, n string) error { return f.call("Restart", n) }
func (f *fakeCluster) Pause(_ context.Context, n string) error   { return f.call("Pause", n) }
func (f *fakeCluster) Resume(_ context.Context, n string) error  { return f.call("Resume", n) }
func (f *fakeCluster) Stop(_ context.Context, n string) error    { return f.call("Stop", n) }
func (f *fakeCluster) Start(_ context.Context, n string) error   { return f.call("Start", n) }
func (f *fakeCluster) Remove(_ context.Context, n string) error  { return f.call("Remove", n) }
func (f *fakeCluster) Add(_ context.Context, n string) error     { return f.call("Add", n) }

func (f *fakeCluster) Partition(_ context.Context, g map[string][]string) error {
	if err := f.call("Partition", ""); err != nil {
		return err
	}
	f.grudge = maps.Clone(g)
	return nil
}

func (f *fakeCluster) Heal(context.Context) error {
	if err := f.call("Heal", ""); err != nil {
		return err
	}
	f.grudge = nil
	return nil
}

func (f *fakeCluster) Handover(_ context.Context, n string) error {
	if err := f.call("Handover", n); err != nil {
		return err
	}
	if f.leaderAfter != "" {
		f.leader = f.leaderAfter
	}
	return nil
}

func (f *fakeCluster) Transfer(_ context.Context, to string) error {
	if err := f.call("Transfer", to); err != nil {
		return err
	}
	f.leader = to
	return nil
}
