package docker

import (
	"context"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/harness"
)

func TestParseReach(t *testing.T) {
	for in, want := range map[string]Reach{"": ReachAuto, "auto": ReachAuto, "bridge": ReachBridge, " ports ": ReachPorts} {
		got, err := ParseReach(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	_, err := ParseReach("nat")
	require.ErrorContains(t, err, `reach "nat": want auto, bridge or ports`)
}

// auto is ports exactly when the engine's published ports are on another
// machine: a tcp:// URL of a host that is not loopback, or the
// testcontainers-go host override naming one.
func TestAutoReachIsPortsForAnEngineOnAnotherMachine(t *testing.T) {
	for _, c := range []struct {
		url, override string
		host, bind    string
		reach         Reach
	}{
		{"unix:///var/run/docker.sock", "", "127.0.0.1", "127.0.0.1", ReachBridge},
		{"tcp://127.0.0.1:2375", "", "127.0.0.1", "127.0.0.1", ReachBridge},
		{"tcp://localhost:2375", "", "127.0.0.1", "127.0.0.1", ReachBridge},
		{"tcp://[::1]:2375", "", "127.0.0.1", "127.0.0.1", ReachBridge},
		{"tcp://10.250.7.2:2375", "", "10.250.7.2", "0.0.0.0", ReachPorts},
		{"https://docker.example:2376", "", "docker.example", "0.0.0.0", ReachPorts},
		{"unix:///tmp/tunnel.sock", "10.250.7.2", "10.250.7.2", "0.0.0.0", ReachPorts}, // ssh -L
		{"tcp://10.250.7.2:2375", "localhost", "127.0.0.1", "127.0.0.1", ReachBridge},
	} {
		p, err := PublishedHost(c.url, c.override)
		require.NoError(t, err, c.url)
		require.Equal(t, c.host, p.Host, c.url)
		require.Equal(t, c.bind, p.Bind, c.url)
		require.Equal(t, c.reach, ReachAuto.Decide(p), c.url)
		require.Equal(t, c.reach, Reach("").Decide(p), c.url)
		// An explicit choice is kept.
		require.Equal(t, ReachPorts, ReachPorts.Decide(p))
		require.Equal(t, ReachBridge, ReachBridge.Decide(p))
	}
	_, err := PublishedHost("ssh://user@host", "")
	require.ErrorContains(t, err, `scheme "ssh"`)
}

// In ports mode the direct client's addresses (the leader as the cluster
// names it: a bridge address) are translated to mapped ports; an address
// that is no node's is an error, never a dial of the bridge address.
func TestDqliteAddressesAreTranslatedAndAnUnknownOneIsAnError(t *testing.T) {
	var dialed []string
	c := newCluster(harness.ClusterSpec{RunID: "t", Nodes: 3}, nil, slog.New(slog.DiscardHandler), ReachPorts,
		Published{Host: "127.0.0.1", Bind: "127.0.0.1", Local: true}, func(_, a string) { dialed = append(dialed, a) })
	c.setSubnet(netip.MustParsePrefix("172.29.9.0/24"))
	c.nodes[0].mapped = mapped{control: "127.0.0.1:40001", raft: "127.0.0.1:40002"}
	c.nodes[1].mapped = mapped{control: "127.0.0.1:40003", raft: "127.0.0.1:40004"}

	got, err := c.dqliteTarget("172.29.9.11:9001")
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:40002", got)
	require.Equal(t, "127.0.0.1:40003", c.controlTarget(c.nodes[1]))
	require.Equal(t, "http://127.0.0.1:40001", c.ControlURL("n1"))

	_, err = c.dqliteTarget("172.29.9.99:9001")
	require.ErrorContains(t, err, "no node of this cluster has it")
	_, err = c.dqliteTarget("172.29.9.13:9001") // n3: not started yet
	require.ErrorContains(t, err, "no host port mapped")
	require.Equal(t, unmapped, c.controlTarget(c.nodes[2]))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = c.dialDqlite(ctx, "172.29.9.99:9001")
	require.Error(t, err)
	_, err = c.dialer(dialControl).DialContext(ctx, "tcp", c.controlTarget(c.nodes[2]))
	require.ErrorContains(t, err, "no published port")
	require.Equal(t, []string{unmapped}, dialed, "nothing but the refused sentinel reached the dialer")

	// A killed node's ports are forgotten until its container starts again.
	c.unmap(c.nodes[0])
	require.Equal(t, unmapped, c.controlTarget(c.nodes[0]))
	_, err = c.dqliteTarget("172.29.9.11:9001")
	require.ErrorContains(t, err, "its container is not running")

	// Bridge mode dials the cluster's own addresses.
	b := newCluster(harness.ClusterSpec{RunID: "t", Nodes: 1}, nil, slog.New(slog.DiscardHandler), ReachBridge, Published{}, nil)
	b.setSubnet(netip.MustParsePrefix("172.29.9.0/24"))
	got, err = b.dqliteTarget("172.29.9.11:9001")
	require.NoError(t, err)
	require.Equal(t, "172.29.9.11:9001", got)
	require.Equal(t, "172.29.9.11:8080", b.controlTarget(b.nodes[0]))
}

func TestPortBindingsPublishBothPortsOnTheBindAddress(t *testing.T) {
	exposed, bindings := portBindings("127.0.0.1")
	require.Equal(t, []string{"8080/tcp", "9001/tcp"}, exposed)
	require.Len(t, bindings, 2)
	for p, b := range bindings {
		require.Len(t, b, 1, p.String())
		require.Equal(t, "127.0.0.1", b[0].HostIP.String())
		require.Empty(t, b[0].HostPort, "a host port Docker picks")
	}
}

func TestParseIPAddrReadsEveryIPv4Prefix(t *testing.T) {
	out := "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever\n" +
		"4: eth0    inet 192.0.2.2/24 brd 192.0.2.255 scope global eth0\\       valid_lft forever\n" +
		"5: docker0    inet 172.17.0.1/16 brd 172.17.255.255 scope global docker0\n"
	require.Equal(t, []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("192.0.2.0/24"),
		netip.MustParsePrefix("172.17.0.0/16")}, parseIPAddr(out))
}
