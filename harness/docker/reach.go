package docker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/moby/moby/api/types/network"
	"github.com/testcontainers/testcontainers-go"

	"github.com/dqtest/dqtest/mode"
)

// Reach is how dqtest's process reaches the nodes' control APIs (and, in
// the direct client mode, their dqlite ports).
type Reach string

const (
	// ReachAuto is ReachPorts for an engine on another machine (a tcp://
	// URL of a host that is not a loopback address, or
	// TESTCONTAINERS_HOST_OVERRIDE naming one), ReachBridge otherwise.
	ReachAuto Reach = "auto"
	// ReachBridge dials every node at its address on the run's bridge
	// network, which only the engine's own machine reaches.
	ReachBridge Reach = "bridge"
	// ReachPorts dials every node through the host ports Docker maps its
	// control and dqlite ports to, on the engine's host, as testcontainers-go
	// reaches a container: host (PublishedHost) plus MappedPort, read again
	// whenever a container starts again (Docker may map new host ports).
	ReachPorts Reach = "ports"
)

// Reaches are the values of --reach.
var Reaches = []Reach{ReachAuto, ReachBridge, ReachPorts}

// ParseReach reads a --reach value; "" is ReachAuto.
func ParseReach(s string) (Reach, error) {
	switch r := Reach(strings.TrimSpace(s)); r {
	case "", ReachAuto:
		return ReachAuto, nil
	case ReachBridge, ReachPorts:
		return r, nil
	}
	return "", fmt.Errorf("reach %q: want %s", s, mode.Names(Reaches))
}

// hostOverrideEnv is testcontainers-go's setting of the host the
// containers' published ports are reached at (for an engine reached through
// a tunnel, or from inside a container).
const hostOverrideEnv = "TESTCONTAINERS_HOST_OVERRIDE"

// Published is where the containers' published ports are, as seen from
// this process.
type Published struct {
	// Host is the address dialed with a mapped port: 127.0.0.1 for an
	// engine on this machine, else the engine's host.
	Host string
	// Bind is the host address ports are published on: 127.0.0.1 when
	// Host is a loopback address, 0.0.0.0 (every IPv4 interface of the
	// engine's host) otherwise.
	Bind string
	// Local is whether the engine runs on this machine (its bridge
	// addresses are this machine's).
	Local bool
}

// PublishedHost says where the containers' published ports are for the
// engine at daemonURL (a DOCKER_HOST URL), given override (the value of
// TESTCONTAINERS_HOST_OVERRIDE, "" for none). It is testcontainers-go's
// DockerContainer.Host, with one difference: for a unix socket
// testcontainers-go says "localhost", or, when this process runs in a
// container (/.dockerenv), the default bridge's gateway, guessing that the
// engine is the host's; dqtest publishes on 127.0.0.1 and dials that, which
// is right whenever the socket's engine runs on this machine (a machine
// that is itself a container with its own dockerd included). A socket
// forwarded from another machine (ssh -L) needs the override.
func PublishedHost(daemonURL, override string) (Published, error) {
	if override = strings.TrimSpace(override); override != "" {
		if isLoopback(override) {
			return Published{Host: "127.0.0.1", Bind: "127.0.0.1", Local: true}, nil
		}
		return Published{Host: override, Bind: "0.0.0.0"}, nil
	}
	u, err := url.Parse(daemonURL)
	if err != nil || u.Scheme == "" {
		return Published{}, fmt.Errorf("docker host %q: want a URL such as unix:///var/run/docker.sock or tcp://HOST:2375", daemonURL)
	}
	switch u.Scheme {
	case "unix", "npipe":
		return Published{Host: "127.0.0.1", Bind: "127.0.0.1", Local: true}, nil
	case "tcp", "http", "https":
		h := u.Hostname()
		if h == "" {
			return Published{}, fmt.Errorf("docker host %q: no host name", daemonURL)
		}
		if isLoopback(h) {
			return Published{Host: "127.0.0.1", Bind: "127.0.0.1", Local: true}, nil
		}
		return Published{Host: h, Bind: "0.0.0.0"}, nil
	}
	return Published{}, fmt.Errorf("docker host %q: scheme %q: want unix:// or tcp://", daemonURL, u.Scheme)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// Decide resolves ReachAuto: ports for an engine not on this machine,
// bridge otherwise. Other values are returned as they are.
func (r Reach) Decide(p Published) Reach {
	if r == "" || r == ReachAuto {
		if p.Local {
			return ReachBridge
		}
		return ReachPorts
	}
	return r
}

// portBindings publishes the control and dqlite ports on bind with host
// ports Docker picks. The node image EXPOSEs both, and testcontainers-go
// publishes an image's exposed ports when a request names none, on every
// interface; so the bindings are always given, in bridge mode too (where
// the harness does not use them), to keep them on the address chosen.
func portBindings(bind string) (exposed []string, bindings network.PortMap) {
	bindings = network.PortMap{}
	for _, p := range []uint16{controlPort, raftPort} {
		port, _ := network.PortFrom(p, network.TCP)
		exposed = append(exposed, port.String())
		bindings[port] = []network.PortBinding{{HostIP: netip.MustParseAddr(bind), HostPort: ""}}
	}
	return exposed, bindings
}

// mapped is where a node's ports are reached in ports mode.
type mapped struct {
	control, raft string // host:port
}

// remap reads node n's mapped ports again (ports mode; nothing in bridge
// mode). Call it after anything that starts its container.
func (c *Cluster) remap(ctx context.Context, n *node, ctr *testcontainers.DockerContainer) error {
	if c.reach != ReachPorts {
		return nil
	}
	var m mapped
	for _, p := range []struct {
		port int
		to   *string
	}{{controlPort, &m.control}, {raftPort, &m.raft}} {
		mp, err := ctr.MappedPort(ctx, strconv.Itoa(p.port)+"/tcp")
		if err != nil {
			return fmt.Errorf("%s: the host port of %d/tcp: %w", n.name, p.port, err)
		}
		if mp.Num() == 0 {
			return fmt.Errorf("%s: Docker mapped %d/tcp to no host port", n.name, p.port)
		}
		*p.to = net.JoinHostPort(c.published.Host, strconv.Itoa(int(mp.Num())))
	}
	c.mu.Lock()
	old := n.mapped
	n.mapped = m
	c.mu.Unlock()
	if old != m {
		c.log.Debug("node ports mapped", "node", n.name, "control", m.control, "dqlite", m.raft, "was", old.control+" "+old.raft)
	}
	return nil
}

// unmap forgets n's mapped ports once its container stopped (kill, the old
// container of an upgrade): Docker frees them, and another container (of
// another run on the engine) may get them, so until n's container starts
// again and remap reads its new ports, dials to n are refused here instead
// of reaching whatever holds its old ports now.
func (c *Cluster) unmap(n *node) {
	if c.reach != ReachPorts {
		return
	}
	c.mu.Lock()
	n.mapped = mapped{}
	c.mu.Unlock()
}

// unmapped is the target of a node whose ports are not mapped (yet, or
// any more): the dialer refuses it, so nothing is sent anywhere.
const unmapped = "127.0.0.1:0"

// controlTarget is where this process dials n's control API: the bridge
// address, or in ports mode the mapped host port (unmapped while its
// container is not running: the dial fails, never goes to the bridge).
func (c *Cluster) controlTarget(n *node) string {
	if c.reach != ReachPorts {
		return n.controlAddr()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if n.mapped.control == "" {
		return unmapped
	}
	return n.mapped.control
}

// dqliteTarget translates a dqlite address the cluster names (a node's
// ip:9001 on the run's network, as leaders and members are named) into
// where this process dials it. In ports mode an address that is no node's
// is an error, never a dial of the bridge address.
func (c *Cluster) dqliteTarget(addr string) (string, error) {
	if c.reach != ReachPorts {
		return addr, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.nodes {
		if n.raftAddr() == addr {
			if n.mapped.raft == "" {
				return "", fmt.Errorf("dqlite address %s (%s): no host port mapped (its container is not running)", addr, n.name)
			}
			return n.mapped.raft, nil
		}
	}
	return "", fmt.Errorf("dqlite address %s: no node of this cluster has it, so it has no published port (reach %s)", addr, ReachPorts)
}

// dialDqlite is the direct client's dial function: the address translated
// by dqliteTarget, then go-dqlite's dial.
func (c *Cluster) dialDqlite(ctx context.Context, addr string) (net.Conn, error) {
	target, err := c.dqliteTarget(addr)
	if err != nil {
		return nil, err
	}
	return c.dialer(dialDqlite).DialContext(ctx, "tcp", target)
}

// What a dial is for, as the dial hook is told.
const (
	dialControl = "control" // a node's control API: JSON or frames
	dialDqlite  = "dqlite"  // a node's dqlite port (direct client mode)
)

// dialer is the dialer of every connection to a node: control API,
// frames and (direct mode) dqlite. It reports each address it connects to
// to the backend's dial hook (tests), with what for.
func (c *Cluster) dialer(what string) *net.Dialer {
	hook := c.onDial
	return &net.Dialer{Timeout: 3 * time.Second, KeepAlive: 15 * time.Second,
		ControlContext: func(_ context.Context, _, address string, _ syscall.RawConn) error {
			if hook != nil {
				hook(what, address)
			}
			if address == unmapped {
				return errors.New("the node has no published port mapped (its container is not running)")
			}
			return nil
		}}
}

// logReach says how the cluster's nodes are reached.
func (c *Cluster) logReach(log *slog.Logger) {
	if c.reach == ReachPorts {
		log.Info("nodes reached through published ports", "host", c.published.Host, "bind", c.published.Bind)
	}
}

// publishedFor is PublishedHost for the engine docker reaches, with the
// process's override.
func publishedFor(docker *testcontainers.DockerClient) (Published, error) {
	return PublishedHost(docker.DaemonHost(), os.Getenv(hostOverrideEnv))
}
