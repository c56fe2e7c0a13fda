// Package docker is the harness's default backend: every node is a container
// from the node image (`dqtest node`) on a private bridge network of its own,
// started with testcontainers-go and broken with the Docker client it exposes
// (kill, pause) and with iptables inside the containers' network namespaces
// (partitions). The harness talks to each node's control API at the node's
// address on that network, or, with Reach ports (a remote engine, whose
// bridges this machine cannot reach), through the host ports Docker maps
// the node's control and dqlite ports to (reach.go).
//
// Nothing is ever pulled: the image must exist locally (`make image`), and
// testcontainers' reaper (Ryuk), which would need a pull, is switched off, so
// the backend cleans up after itself by label (Down, Cleanup, CleanupAll).
package docker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"

	"github.com/dqtest/dqtest/harness"
	"github.com/dqtest/dqtest/mode"
	"github.com/dqtest/dqtest/nemesis"
	"github.com/dqtest/dqtest/scenario"
)

// DefaultImage is the node image `make image` builds.
const DefaultImage = "dqtest-node:latest"

// Labels every container and network of a run carries. org.testcontainers is
// testcontainers' own label, so its tooling recognises them; dqtest.run is
// what Cleanup and CleanupAll select on.
const (
	labelTestcontainers = "org.testcontainers"
	labelRun            = "dqtest.run"
	labelNode           = "dqtest.node"
)

// Inside every container: the dqlite (raft) port, the control API's port and
// the data directory. The data directory lives in the container's writable
// layer, so it survives a kill and restart of the container and goes with it
// on Down.
const (
	raftPort    = 9001
	controlPort = 8080
	dataDir     = "/var/lib/dqtest"
)

// Backend brings up dqlite clusters in containers. The zero value is ready to
// use.
type Backend struct {
	// ReadyTimeout bounds how long Up waits for a formed cluster (a leader
	// that every node agrees on, every node seeing all members) after the
	// containers started; the context's deadline applies too. Default 60 s.
	ReadyTimeout time.Duration
	// Log receives the backend's progress; default slog.Default().
	Log *slog.Logger
	// Engine, when set, is the engine every cluster must be on: Start
	// fails (ErrWrongEngine) when the one reached is another (engine.go).
	Engine *Engine
	// Reach is how the nodes are reached: ReachAuto ("" too) decides per
	// engine, ReachBridge, ReachPorts (reach.go).
	Reach Reach

	// onDial, when set, sees every address a cluster's dialer connects to
	// (tests).
	onDial func(what, address string)
}

// Name implements harness.Backend.
func (b *Backend) Name() string { return "docker" }

var _ harness.Backend = (*Backend)(nil)

// Up implements harness.Backend: a network, N containers and a formed
// cluster, or an error after everything it created is removed again.
// Capabilities: real containers can do every fault dqtest has.
func (b *Backend) Capabilities() []nemesis.Capability {
	return append(nemesis.CoreCapabilities(), nemesis.CapDisk, nemesis.CapPacket, nemesis.CapTxn, nemesis.CapStopPath, nemesis.CapUpgrade)
}

func (b *Backend) Up(ctx context.Context, spec harness.ClusterSpec) (harness.Cluster, error) {
	c, err := b.Start(ctx, spec)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Start is Up with the concrete type, for callers that want its extras
// (addresses, start-up timings).
func (b *Backend) Start(ctx context.Context, spec harness.ClusterSpec) (*Cluster, error) {
	log := b.Log
	if log == nil {
		log = slog.Default()
	}
	if err := checkSpec(spec); err != nil {
		return nil, err
	}
	docker, err := dockerClient(ctx)
	if err != nil {
		return nil, err
	}
	want := b.Engine
	if want == nil {
		if want, err = engineNamedByEnv(ctx); err != nil {
			_ = docker.Close()
			return nil, err
		}
	}
	if err := checkEngine(ctx, docker, want); err != nil {
		_ = docker.Close()
		return nil, err
	}
	reach, err := ParseReach(string(b.Reach))
	if err != nil {
		_ = docker.Close()
		return nil, fmt.Errorf("docker backend: %w", err)
	}
	published, err := publishedFor(docker)
	if err != nil {
		_ = docker.Close()
		return nil, fmt.Errorf("docker backend: %w", err)
	}
	images, err := imagesOfNodes(ctx, docker, spec)
	if err != nil {
		if errors.Is(err, ErrNoImage) && !published.Local {
			err = fmt.Errorf("%w; the engine is on another host (%s): copy the image there from the machine that built it: "+
				"`docker save IMAGE | docker -H %s load`", err, published.Host, docker.DaemonHost())
		}
		_ = docker.Close()
		return nil, err
	}
	c := newCluster(spec, docker, log, reach.Decide(published), published, b.onDial)
	if c.reach == ReachBridge && !published.Local {
		log.Warn("reach bridge on an engine on another host: its containers' bridge addresses are reachable from here only if this machine routes "+
			subnetRange.String()+" to that host; --reach ports (or auto) reaches them through published ports", "host", published.Host)
	}
	for _, n := range c.nodes {
		n.image = images[n.name]
	}
	began := time.Now()
	if err := c.up(ctx, b.readyTimeout()); err != nil {
		// Whatever was created goes, even when ctx is what failed.
		downCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if derr := c.Down(downCtx); derr != nil {
			err = errors.Join(err, fmt.Errorf("cleaning up after the failed start: %w", derr))
		}
		return nil, fmt.Errorf("docker backend: bring up %d nodes (run %s): %w", spec.Nodes, spec.RunID, err)
	}
	log.Info("cluster ready", "run", spec.RunID, "nodes", spec.Nodes, "subnet", c.subnet, "reach", c.reach,
		"leader", c.readyLeader, "total", time.Since(began).Round(time.Millisecond),
		"containers", c.timing.Containers.Round(time.Millisecond), "formed", c.timing.Formed.Round(time.Millisecond))
	return c, nil
}

func (b *Backend) readyTimeout() time.Duration {
	if b.ReadyTimeout > 0 {
		return b.ReadyTimeout
	}
	return 60 * time.Second
}

// runIDPattern keeps run ids usable in container and network names.
var runIDPattern = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,47}$`)

func checkSpec(spec harness.ClusterSpec) error {
	if !runIDPattern.MatchString(spec.RunID) {
		return fmt.Errorf("docker backend: run id %q: want 1-48 characters of letters, digits, '_', '.', '-', starting with a letter or digit", spec.RunID)
	}
	if spec.Nodes < 1 || spec.Nodes > mode.MaxNodes {
		return fmt.Errorf("docker backend: %d nodes: want 1 to %d", spec.Nodes, mode.MaxNodes)
	}
	if spec.DataDirSize != "" {
		if err := scenario.CheckDataDirSize(spec.DataDirSize); err != nil {
			return fmt.Errorf("docker backend: data dir size %w", err)
		}
	}
	if spec.StopMode != "" && !spec.StopMode.Valid() {
		return fmt.Errorf("docker backend: stop mode %q: want %s", spec.StopMode, mode.Names(mode.StopModes()))
	}
	for name := range spec.NodeArgs {
		if i, err := strconv.Atoi(strings.TrimPrefix(name, "n")); err != nil || name != nodeName(i) || i < 1 || i > spec.Nodes {
			return fmt.Errorf("docker backend: node args for %q: no such node in a %d-node cluster (n1..n%d)", name, spec.Nodes, spec.Nodes)
		}
	}
	return nil
}

var quietTestcontainers sync.Once

// dockerClient returns the Docker client testcontainers uses, after making
// sure its reaper stays off (it would need an image pull) and its chatter goes
// to slog at debug level. Both are process-wide settings of testcontainers,
// read on its first call.
func dockerClient(ctx context.Context) (*testcontainers.DockerClient, error) {
	quietTestcontainers.Do(func() {
		if v := os.Getenv("TESTCONTAINERS_RYUK_DISABLED"); v != "true" {
			if v != "" {
				slog.Warn("docker backend: overriding TESTCONTAINERS_RYUK_DISABLED: the reaper needs a registry", "was", v)
			}
			os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
		}
		tclog.SetDefault(slogPrintf{})
	})
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return nil, fmt.Errorf("docker backend: cannot reach Docker: %w", err)
	}
	return cli, nil
}

// slogPrintf routes testcontainers' log lines to slog at debug level.
type slogPrintf struct{}

func (slogPrintf) Printf(format string, args ...any) {
	slog.Debug("testcontainers: " + fmt.Sprintf(format, args...))
}

// ErrNoImage is returned (wrapped) when the node image is not available
// locally. dqtest never pulls.
var ErrNoImage = errors.New("node image not found locally")

func requireImage(ctx context.Context, docker client.APIClient, image string) error {
	_, err := docker.ImageInspect(ctx, image)
	if cerrdefs.IsNotFound(err) {
		return fmt.Errorf("docker backend: %w: %s; build it with `make image` (dqtest never pulls images)", ErrNoImage, image)
	}
	if err != nil {
		return fmt.Errorf("docker backend: inspect image %s: %w", image, err)
	}
	return nil
}

// startNode creates and starts node i's container with its static address.
// The container runs under Docker's init (tini), so dqtest is not PID 1 and
// its exit status is what the container reports: 128+n when a signal killed
// it. As PID 1 a process cannot die of a signal it raises itself without a
// handler (the kernel drops it): a C abort() there ends as SIGSEGV (139),
// not SIGABRT (134). (dqtest itself turns a fault in C into exit status 2
// and a Go fault report in its log, which the crash detector reads.)
//
// extra customises the container further (upgrade.go copies a data
// directory in before it starts).
func (c *Cluster) startNode(ctx context.Context, i int, extra ...testcontainers.ContainerCustomizer) (*testcontainers.DockerContainer, error) {
	n := c.nodes[i]
	args := []string{
		"--address", n.raftAddr(),
		"--control", n.controlAddr(), // the container's own address, not every interface
		"--data-dir", dataDir,
	}
	if i > 0 {
		// n1 forms the cluster (id 1, no --cluster); the others join through
		// any member, n1 first.
		var members []string
		for _, m := range c.nodes {
			members = append(members, m.raftAddr())
		}
		args = append(args, "--cluster", strings.Join(members, ","))
	}
	if c.spec.StopMode != "" {
		args = append(args, "--stop-mode", string(c.spec.StopMode))
	}
	args = append(args, c.spec.NodeArgs[n.name]...)
	labels := map[string]string{labelTestcontainers: "true", labelRun: c.spec.RunID, labelNode: n.name}
	exposed, bindings := portBindings(c.published.Bind)
	opts := []testcontainers.ContainerCustomizer{
		testcontainers.WithLogger(slogPrintf{}),
		testcontainers.WithName(c.containerName(n.name)),
		testcontainers.WithLabels(labels),
		testcontainers.WithCmd(args...),
		testcontainers.WithExposedPorts(exposed...),
		tcnetwork.WithNetworkName([]string{n.name}, c.network),
		testcontainers.WithEndpointSettingsModifier(func(eps map[string]*network.EndpointSettings) {
			ep := eps[c.network]
			if ep == nil {
				ep = &network.EndpointSettings{}
				eps[c.network] = ep
			}
			ep.IPAMConfig = &network.EndpointIPAMConfig{IPv4Address: n.ip}
		}),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			hc.CapAdd = []string{"NET_ADMIN"}
			hc.PortBindings = bindings
			hc.Mounts = c.dataMount(n.name)
			init := true
			hc.Init = &init
		}),
	}
	ctr, err := testcontainers.Run(ctx, n.image.Image, append(opts, extra...)...)
	if err != nil {
		return ctr, fmt.Errorf("start %s (%s): %w", n.name, n.ip, err)
	}
	if err := c.remap(ctx, n, ctr); err != nil {
		return ctr, fmt.Errorf("start %s: %w", n.name, err)
	}
	return ctr, nil
}
