package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	"golang.org/x/sys/unix"

	"github.com/dqtest/dqtest/detect"
	"github.com/dqtest/dqtest/harness"
	"github.com/dqtest/dqtest/node/dqclient"
)

// Cluster is a running cluster of node containers. It implements
// harness.Cluster; its methods are safe for concurrent use (the nemesis and
// the clients call it from different goroutines).
type Cluster struct {
	spec    harness.ClusterSpec
	docker  *testcontainers.DockerClient
	log     *slog.Logger
	network string // the network's name, dqtest-<run id>
	subnet  netip.Prefix
	nodes   []*node
	byName  map[string]*node
	ctl     controlPlane
	// reach is how this process reaches the nodes (ReachBridge or
	// ReachPorts, decided), published where their ports are published
	// (reach.go); onDial the backend's dial hook.
	reach     Reach
	published Published
	onDial    func(what, address string)

	timing      Timing
	readyLeader string

	mu     sync.Mutex // guards grudge, loss and the nodes' mutable fields
	grudge map[string][]string
	// loss is each node's packet loss in force (packet.go); a node that
	// never had any is absent.
	loss map[string]float64
	// keeper holds the nodes' data volumes mounted (disk.go); nil without
	// data volumes.
	keeper *testcontainers.DockerContainer
	// direct are the nodes' clients in the direct client mode (direct.go).
	direct map[string]*dqclient.Client
}

// node is one member: its container and what the harness knows about it.
type node struct {
	name string
	// image is the node image the node runs, with its labels.
	image NodeImage
	ip    netip.Addr
	ctr   *testcontainers.DockerContainer
	// mapped is where the node's ports are published (ports mode), read
	// again whenever its container starts.
	mapped mapped
	// id and role are the node's dqlite id and role as the formed cluster
	// reported them; Add puts a removed node back with both.
	id   uint64
	role string
	// restarts counts Restart calls that started the container again.
	restarts int
	// rulesStale is set when the partition in force changed while the node's
	// container could not be reached with exec (paused, or not running); the
	// rules are applied when it can be again.
	rulesStale bool
	// rulesMu serialises rule changes on the node, so an older partition is
	// never applied over a newer one.
	rulesMu sync.Mutex
	// ran are the images the node ran before an upgrade or downgrade
	// (upgrade.go), and earlierLogs the log of the containers they ran in.
	ran         []NodeImage
	earlierLogs []byte
}

func (n *node) raftAddr() string    { return netip.AddrPortFrom(n.ip, raftPort).String() }
func (n *node) controlAddr() string { return netip.AddrPortFrom(n.ip, controlPort).String() }

// Timing says how long bringing the cluster up took.
type Timing struct {
	// Containers is creating and starting every container (in parallel).
	Containers time.Duration
	// Formed is from the last container started to a formed cluster: one
	// leader every node agrees on, every node seeing every member.
	Formed time.Duration
}

func nodeName(i int) string { return "n" + strconv.Itoa(i) }

func newCluster(spec harness.ClusterSpec, docker *testcontainers.DockerClient, log *slog.Logger,
	reach Reach, published Published, onDial func(what, address string)) *Cluster {
	c := &Cluster{
		spec:      spec,
		docker:    docker,
		log:       log.With("run", spec.RunID),
		network:   "dqtest-" + spec.RunID,
		byName:    make(map[string]*node, spec.Nodes),
		reach:     reach,
		published: published,
		onDial:    onDial,
	}
	for i := 1; i <= spec.Nodes; i++ {
		n := &node{name: nodeName(i)}
		c.nodes = append(c.nodes, n)
		c.byName[n.name] = n
	}
	c.ctl = newControlPlane(c)
	return c
}

func (c *Cluster) containerName(node string) string {
	return "dqtest-" + c.spec.RunID + "-" + node
}

// up creates the network and the containers and waits for a formed cluster.
func (c *Cluster) up(ctx context.Context, readyTimeout time.Duration) error {
	if err := ensureDefaultNetwork(ctx, c.docker); err != nil {
		return err
	}
	if err := c.createNetwork(ctx); err != nil {
		return err
	}
	if err := c.createDataVolumes(ctx); err != nil {
		return err
	}
	began := time.Now()
	errs := make([]error, len(c.nodes))
	var wg sync.WaitGroup
	for i, n := range c.nodes {
		wg.Go(func() { n.ctr, errs[i] = c.startNode(ctx, i) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	c.timing.Containers = time.Since(began)
	formedAt := time.Now()
	readyCtx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	if err := c.ctl.awaitFormed(readyCtx); err != nil {
		return err
	}
	c.timing.Formed = time.Since(formedAt)
	return nil
}

// Nodes implements nemesis.Cluster.
func (c *Cluster) Nodes() []string {
	names := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		names[i] = n.name
	}
	return names
}

// Subnet is the run's network, e.g. 172.29.14.0/24.
func (c *Cluster) Subnet() netip.Prefix { return c.subnet }

// Address is node's dqlite address (ip:9001); ControlURL its control API.
func (c *Cluster) Address(node string) string {
	if n := c.byName[node]; n != nil {
		return n.raftAddr()
	}
	return ""
}

// ControlURL is the base URL at which this process reaches node's control
// API: http://172.29.14.11:8080 (bridge), http://127.0.0.1:32771 (ports).
func (c *Cluster) ControlURL(node string) string {
	if n := c.byName[node]; n != nil {
		return "http://" + c.controlTarget(n)
	}
	return ""
}

// Reach is how this process reaches the nodes: ReachBridge or ReachPorts.
func (c *Cluster) Reach() Reach { return c.reach }

// Timing says how long Up took to get the cluster ready.
func (c *Cluster) Timing() Timing { return c.timing }

// opTimeout bounds a nemesis operation whose context has no deadline.
const opTimeout = 30 * time.Second

// nodeOp runs one operation on the named node under a deadline (ctx's, or
// opTimeout) and names the operation and the node in its error.
func (c *Cluster) nodeOp(ctx context.Context, what, name string, f func(context.Context, *node) error) error {
	n, err := c.node(name)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	ctx, cancel := withDefaultTimeout(ctx, opTimeout)
	defer cancel()
	if err := f(ctx, n); err != nil {
		return fmt.Errorf("%s %s: %w", what, name, err)
	}
	return nil
}

func (c *Cluster) node(name string) (*node, error) {
	n := c.byName[name]
	if n == nil {
		return nil, fmt.Errorf("no node %q in this %d-node cluster (n1..n%d)", name, len(c.nodes), len(c.nodes))
	}
	if n.ctr == nil {
		return nil, fmt.Errorf("node %s has no container", name)
	}
	return n, nil
}

// Kill implements nemesis.Cluster: SIGKILL to the container's init, which
// takes dqtest and everything else in the container with it, as a power cut
// would. It returns once Docker reports the container stopped.
func (c *Cluster) Kill(ctx context.Context, name string) error {
	return c.nodeOp(ctx, "kill", name, func(ctx context.Context, n *node) error {
		if _, err := c.docker.ContainerKill(ctx, n.ctr.GetContainerID(), client.ContainerKillOptions{Signal: "SIGKILL"}); err != nil {
			return err
		}
		c.unmap(n) // its host ports are Docker's to give away now
		return c.awaitState(ctx, n, "stopped", func(s inspected) bool { return !s.running })
	})
}

// Restart implements nemesis.Cluster: it starts a stopped container again
// with the same command line and the same writable layer, so the node comes
// back on its data directory. The container's network namespace is new, so
// the partition in force is applied again before Restart returns. A running
// node is left alone. Restart returns once the node's control API answers
// (the node may still be rejoining the cluster).
func (c *Cluster) Restart(ctx context.Context, name string) error {
	return c.nodeOp(ctx, "restart", name, func(ctx context.Context, n *node) error {
		s, err := c.inspect(ctx, n)
		if err != nil {
			return err
		}
		if s.running {
			c.log.Debug("restart: already running", "node", name)
			return nil
		}
		if _, err := c.docker.ContainerStart(ctx, n.ctr.GetContainerID(), client.ContainerStartOptions{}); err != nil {
			return err
		}
		// Docker maps the published ports anew on every start.
		if err := c.remap(ctx, n, n.ctr); err != nil {
			return err
		}
		c.mu.Lock()
		n.restarts++
		n.rulesStale = true
		c.mu.Unlock()
		if err := c.applyRules(ctx, n); err != nil {
			return err
		}
		if err := c.applyLoss(ctx, n); err != nil {
			return err
		}
		return c.ctl.awaitHealthy(ctx, n)
	})
}

// Pause implements nemesis.Cluster with the freezer cgroup (docker pause):
// every process of the node stops where it is. The kernel still answers TCP
// for its sockets, so peers see a node that accepts connections and never
// replies, not one that is gone.
func (c *Cluster) Pause(ctx context.Context, name string) error {
	return c.nodeOp(ctx, "pause", name, func(ctx context.Context, n *node) error {
		_, err := c.docker.ContainerPause(ctx, n.ctr.GetContainerID(), client.ContainerPauseOptions{})
		return err
	})
}

// Resume implements nemesis.Cluster: it thaws a paused node and then brings
// its partition rules up to date if the partition changed while it was
// frozen (exec cannot enter a paused container).
func (c *Cluster) Resume(ctx context.Context, name string) error {
	return c.nodeOp(ctx, "resume", name, func(ctx context.Context, n *node) error {
		if _, err := c.docker.ContainerUnpause(ctx, n.ctr.GetContainerID(), client.ContainerUnpauseOptions{}); err != nil {
			return err
		}
		if err := c.applyRules(ctx, n); err != nil {
			return err
		}
		return c.applyLoss(ctx, n)
	})
}

// Logs implements harness.Cluster: stdout and stderr of every run of the
// node's container, in the order Docker received them. Docker keeps a
// container's log across restarts until the container is removed, so the
// harness must collect logs before Down.
func (c *Cluster) Logs(ctx context.Context, name string) ([]byte, error) {
	n, err := c.node(name)
	if err != nil {
		return nil, err
	}
	rc, err := c.docker.ContainerLogs(ctx, n.ctr.GetContainerID(), client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		return nil, fmt.Errorf("logs of %s: %w", name, err)
	}
	defer rc.Close()
	var buf bytes.Buffer
	c.mu.Lock()
	buf.Write(n.earlierLogs) // the containers it ran in before an upgrade
	c.mu.Unlock()
	if _, err := stdcopy.StdCopy(&buf, &buf, rc); err != nil {
		return buf.Bytes(), fmt.Errorf("logs of %s: %w", name, err)
	}
	return buf.Bytes(), nil
}

// Exit implements harness.Cluster. A container that stopped with exit code
// 128+n died of signal n (tini, the container's init, passes that on; and
// Kill's SIGKILL ends the container with 137). Restarts counts Restart calls
// plus any restarts by a Docker restart policy.
func (c *Cluster) Exit(ctx context.Context, name string) (detect.NodeExit, error) {
	n, err := c.node(name)
	if err != nil {
		return detect.NodeExit{}, err
	}
	s, err := c.inspect(ctx, n)
	if err != nil {
		return detect.NodeExit{}, err
	}
	c.mu.Lock()
	restarts := n.restarts
	c.mu.Unlock()
	e := detect.NodeExit{Running: s.running, ExitCode: s.exitCode, OOM: s.oom, Restarts: restarts + s.restartCount}
	if !s.running {
		e.Signal = signalOf(s.exitCode)
	}
	return e, nil
}

// signalOf names the signal a shell-style exit code 128+n stands for, or ""
// when it stands for none.
func signalOf(exitCode int) string {
	if exitCode <= 128 || exitCode > 128+64 {
		return ""
	}
	if name := unix.SignalName(unix.Signal(exitCode - 128)); name != "" {
		return name
	}
	return "signal " + strconv.Itoa(exitCode-128)
}

// inspected is the part of a container's state the backend uses.
type inspected struct {
	running, paused bool
	exitCode        int
	oom             bool
	restartCount    int
}

func (c *Cluster) inspect(ctx context.Context, n *node) (inspected, error) {
	res, err := c.docker.ContainerInspect(ctx, n.ctr.GetContainerID(), client.ContainerInspectOptions{})
	if err != nil {
		return inspected{}, fmt.Errorf("inspect %s: %w", n.name, err)
	}
	st := res.Container.State
	if st == nil {
		return inspected{}, fmt.Errorf("inspect %s: Docker reported no state", n.name)
	}
	return inspected{
		running: st.Running, paused: st.Paused, exitCode: st.ExitCode,
		oom: st.OOMKilled, restartCount: res.Container.RestartCount,
	}, nil
}

// awaitState polls the container's state until ok holds or ctx ends (give it
// a deadline). Docker updates a container's state asynchronously after a kill.
func (c *Cluster) awaitState(ctx context.Context, n *node, what string, ok func(inspected) bool) error {
	for {
		s, err := c.inspect(ctx, n)
		if err == nil && ok(s) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting until %s: %w (last error: %v)", what, ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// withDefaultTimeout bounds ctx by d unless it already has a deadline.
func withDefaultTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

// Down implements harness.Cluster: it removes the run's containers and
// network by label, so it also finds what a failed Up left half-made. It is
// idempotent; after a cancellation give it a fresh context.
func (c *Cluster) Down(ctx context.Context) error {
	c.ctl.close()
	c.closeDirect()
	err := removeRun(ctx, c.docker, c.spec.RunID, c.log)
	_ = c.docker.Close() // only drops idle connections: a second Down still works
	if err != nil {
		return fmt.Errorf("docker backend: down (run %s): %w", c.spec.RunID, err)
	}
	return nil
}
