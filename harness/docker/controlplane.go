package docker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/dqtest/dqtest/harness"
	"github.com/dqtest/dqtest/node/control"
)

// defaultCallTimeout bounds a call whose context has no deadline; it matches
// the control server's own default.
const defaultCallTimeout = 10 * time.Second

// controlPlane is the backend's side of the nodes' control APIs: one HTTP
// transport and one pool of framed connections for the whole cluster, one
// control client per node. Statements (exec, query, txn) go as frames, on
// connections kept open, one per statement in flight; everything else as
// JSON (docs/control-api.md).
type controlPlane struct {
	c         *Cluster
	transport *http.Transport
	http      *http.Client
	frames    *control.Frames
}

func newControlPlane(c *Cluster) controlPlane {
	// Idle connections are dropped well before the node's server drops them
	// (2 min), so a request never goes out on a connection the server is
	// closing: net/http does not resend a POST, and the control client would
	// have to call such a write indeterminate.
	t := &http.Transport{
		DialContext:         c.dialer(dialControl).DialContext,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     30 * time.Second,
	}
	// The same for framed connections (the server drops them after 2 min
	// idle); and a pooled one the server closed is never written to.
	f := &control.Frames{
		MaxIdlePerHost: 64,
		IdleTimeout:    30 * time.Second,
		Dialer:         c.dialer(dialControl),
	}
	// No http.Client.Timeout: every call's deadline comes from its context.
	return controlPlane{c: c, transport: t, http: &http.Client{Transport: t}, frames: f}
}

func (p controlPlane) close() {
	p.transport.CloseIdleConnections()
	p.frames.CloseIdle()
}

func (p controlPlane) client(n *node) *control.Client {
	return control.NewClient("http://"+p.c.controlTarget(n), p.http).WithFrames(p.frames)
}

// nodeStatus is one node's answer to /status, or why there was none.
type nodeStatus struct {
	st  control.Status
	err error
}

// statuses asks every node for its status at once, each bounded by perCall.
func (p controlPlane) statuses(ctx context.Context, perCall time.Duration) []nodeStatus {
	out := make([]nodeStatus, len(p.c.nodes))
	var wg sync.WaitGroup
	for i, n := range p.c.nodes {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, perCall)
			defer cancel()
			out[i].st, out[i].err = p.client(n).Status(ctx)
		})
	}
	wg.Wait()
	return out
}

// awaitFormed waits until every node runs, agrees on one leader and sees
// every member (nodes run with --no-start excepted: they never start), and
// records each node's dqlite id and role. A container that
// exits meanwhile (a bad flag, a crash) ends the wait at once with its log.
func (p controlPlane) awaitFormed(ctx context.Context) error {
	c := p.c
	var last []nodeStatus
	lastExitCheck := time.Now()
	for {
		// A short per-call bound: a node busy joining may hold /status
		// until its own deadline, and the next round asks again anyway.
		last = p.statuses(ctx, 500*time.Millisecond)
		if leader, ok := formed(p.forming(last)); ok {
			p.record(last, leader)
			return nil
		}
		if time.Since(lastExitCheck) > time.Second {
			lastExitCheck = time.Now()
			if err := p.exitedEarly(ctx); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster not formed: %w; last status: %s", ctx.Err(), describe(c.nodes, last))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// formed reports whether the statuses show a formed cluster of n nodes, and
// its leader's address.
func formed(sts []nodeStatus, n int) (string, bool) {
	leader := ""
	for _, s := range sts {
		if s.err != nil || !s.st.Running || s.st.LeaderAddress == "" || len(s.st.Members) != n {
			return "", false
		}
		if leader != "" && s.st.LeaderAddress != leader {
			return "", false
		}
		leader = s.st.LeaderAddress
	}
	return leader, true
}

func (p controlPlane) record(sts []nodeStatus, leaderAddr string) {
	c := p.c
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, n := range c.nodes {
		n.id = sts[i].st.ID
		n.role = "voter"
		for _, m := range sts[i].st.Members {
			if m.ID == n.id && m.Role != "" {
				n.role = m.Role
			}
		}
		if n.raftAddr() == leaderAddr {
			c.readyLeader = n.name
		}
	}
}

// exitedEarly returns an error with the log's tail of a container that is no
// longer running.
func (p controlPlane) exitedEarly(ctx context.Context) error {
	c := p.c
	for _, n := range c.nodes {
		s, err := c.inspect(ctx, n)
		if err != nil || s.running {
			continue
		}
		logs, _ := c.Logs(ctx, n.name)
		return fmt.Errorf("%s exited (code %d) while the cluster formed; its log ends:\n%s", n.name, s.exitCode, tail(string(logs), 20))
	}
	return nil
}

func tail(s string, lines int) string {
	parts := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(parts[max(0, len(parts)-lines):], "\n")
}

func describe(nodes []*node, sts []nodeStatus) string {
	var b strings.Builder
	for i, s := range sts {
		if i > 0 {
			b.WriteString("; ")
		}
		if s.err != nil {
			fmt.Fprintf(&b, "%s: %v", nodes[i].name, s.err)
			continue
		}
		fmt.Fprintf(&b, "%s: running=%t role=%q leader=%q members=%d", nodes[i].name, s.st.Running, s.st.Role, s.st.LeaderAddress, len(s.st.Members))
		if s.st.ClusterError != "" {
			fmt.Fprintf(&b, " (%s)", s.st.ClusterError)
		}
	}
	return b.String()
}

// awaitHealthy waits until n's control API answers /health or ctx ends
// (give it a deadline).
func (p controlPlane) awaitHealthy(ctx context.Context, n *node) error {
	api := p.client(n)
	for {
		callCtx, callCancel := context.WithTimeout(ctx, time.Second)
		err := api.Health(callCtx)
		callCancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("control API not answering: %w (last error: %v)", ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Leader implements nemesis.Cluster: the node a majority of the cluster
// names as leader. A minority's stale belief (an isolated old leader that
// still thinks it leads) is outvoted; with no majority there is no answer.
func (c *Cluster) Leader(ctx context.Context) (string, error) {
	ctx, cancel := withDefaultTimeout(ctx, defaultCallTimeout)
	defer cancel()
	sts := c.ctl.statuses(ctx, 2*time.Second)
	votes := map[string]int{}
	for _, s := range sts {
		if s.err == nil && s.st.Running && s.st.LeaderAddress != "" {
			votes[s.st.LeaderAddress]++
		}
	}
	for addr, v := range votes {
		if 2*v > len(c.nodes) {
			for _, n := range c.nodes {
				if n.raftAddr() == addr {
					return n.name, nil
				}
			}
			return "", fmt.Errorf("leader: a majority names %s, which is no node of this cluster", addr)
		}
	}
	return "", fmt.Errorf("leader: no majority agrees on a leader: %s", describe(c.nodes, sts))
}

// Stop implements nemesis.Cluster: a graceful stop through the Node API in
// the scenario's stop mode; the node's process keeps running.
func (c *Cluster) Stop(ctx context.Context, name string) error {
	return c.nodeOp(ctx, "stop", name, func(ctx context.Context, n *node) error {
		return c.ctl.client(n).Stop(ctx, string(c.spec.StopMode))
	})
}

// Start implements nemesis.Cluster: the stopped node starts again in the same
// process, on its data directory, rejoining the cluster it was part of.
func (c *Cluster) Start(ctx context.Context, name string) error {
	return c.nodeOp(ctx, "start", name, func(ctx context.Context, n *node) error {
		err := c.ctl.client(n).Start(ctx)
		var ce *control.Error
		if errors.As(err, &ce) && ce.Kind == control.KindAlreadyRunning {
			return fmt.Errorf("%w: %w", harness.ErrAlreadyRunning, err)
		}
		return err
	})
}

// NodeRunning implements harness.StatusReader: whether the node's Node
// runs, from its control API's status.
func (c *Cluster) NodeRunning(ctx context.Context, name string) (bool, error) {
	st, err := c.Status(ctx, name)
	return st.Running, err
}

// Handover implements nemesis.Cluster.
func (c *Cluster) Handover(ctx context.Context, name string) error {
	return c.nodeOp(ctx, "handover from", name, func(ctx context.Context, n *node) error {
		return c.ctl.client(n).Handover(ctx)
	})
}

// Transfer implements nemesis.Cluster. The request goes to the current
// leader when a majority names one (the control server forwards it
// otherwise), then to the others.
func (c *Cluster) Transfer(ctx context.Context, to string) error {
	return c.nodeOp(ctx, "transfer leadership to", to, func(ctx context.Context, n *node) error {
		id := c.idOf(n)
		return c.tryEach(c.viaOrder(ctx, nil), func(v *node) error { return c.ctl.client(v).Transfer(ctx, id) })
	})
}

// Remove implements nemesis.Cluster: the node leaves the membership (through
// another member, the leader first); its process keeps running.
func (c *Cluster) Remove(ctx context.Context, name string) error {
	return c.nodeOp(ctx, "remove", name, func(ctx context.Context, n *node) error {
		id := c.idOf(n)
		return c.tryEach(c.viaOrder(ctx, n), func(v *node) error { return c.ctl.client(v).RemoveMember(ctx, id) })
	})
}

// Add implements nemesis.Cluster: a removed node comes back with the id,
// address and role it had when the cluster formed.
func (c *Cluster) Add(ctx context.Context, name string) error {
	return c.nodeOp(ctx, "add", name, func(ctx context.Context, n *node) error {
		c.mu.Lock()
		m := control.Member{ID: n.id, Address: n.raftAddr(), Role: n.role}
		c.mu.Unlock()
		return c.tryEach(c.viaOrder(ctx, n), func(v *node) error { return c.ctl.client(v).AddMember(ctx, m) })
	})
}

func (c *Cluster) idOf(n *node) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return n.id
}

// viaOrder lists the nodes to send a membership request through: the
// leader first when a majority names one, then the others; never skip.
func (c *Cluster) viaOrder(ctx context.Context, skip *node) []*node {
	leaderCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
	leader, _ := c.Leader(leaderCtx)
	cancel()
	var order []*node
	for _, n := range c.nodes {
		if n != skip {
			order = append(order, n)
		}
	}
	sort.SliceStable(order, func(i, j int) bool { return order[i].name == leader && order[j].name != leader })
	return order
}

// tryEach sends a request through the nodes in order until one accepts it.
// It moves on only after a definite failure (the request certainly did not
// take effect); an indeterminate answer is returned as it is, since sending
// the request again could apply it twice.
func (c *Cluster) tryEach(order []*node, send func(*node) error) error {
	var errs []error
	for _, n := range order {
		err := send(n)
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("via %s: %w", n.name, err))
		var ce *control.Error
		if !errors.As(err, &ce) || !ce.Definite() {
			break
		}
	}
	return errors.Join(errs...)
}

// Status is node's own answer to GET /status.
func (c *Cluster) Status(ctx context.Context, name string) (st control.Status, err error) {
	err = c.nodeOp(ctx, "status of", name, func(ctx context.Context, n *node) error {
		st, err = c.ctl.client(n).Status(ctx)
		return err
	})
	return st, err
}
