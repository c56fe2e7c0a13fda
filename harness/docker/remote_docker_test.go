package docker

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/harness"
)

// The remote-engine test: a second dockerd in a network namespace of its
// own (build/netns-engine.sh), reached at tcp://10.250.77.2:2375 over a
// veth pair. From this namespace its containers' bridge addresses are not
// routed anywhere near it (as a remote host's are not), so only the ports
// it publishes reach the nodes. testcontainers-go resolves the Docker host
// once per process, so each run is a child process of this test binary
// under its own DOCKER_HOST (the way `dqtest matrix --docker-host` runs an
// engine's cells).

const (
	netnsEngineURL  = "tcp://10.250.77.2:2375"
	netnsEngineHost = "10.250.77.2"
	netnsEngineSock = "unix:///run/dqtest-remote/docker.sock"
	netnsHostIf     = "dqr-host"
	// remoteChildEnv makes this test binary a child run (JSON remoteChild).
	remoteChildEnv = "DQTEST_REMOTE_CHILD"
)

type remoteChild struct {
	Engine Engine `json:"engine"`
	// Host is where the published ports must be dialed.
	Host string `json:"host"`
	// Faults: the run's faults (a short partition and kill schedule), or
	// none.
	Faults bool `json:"faults"`
}

// netnsEngine starts the namespaced engine and removes it (namespace,
// veth, dockerd, its data root) when t ends, or says why it cannot run
// here: inside make test's build root there is no dockerd (and no ip).
func netnsEngine(t *testing.T) (string, string) {
	t.Helper()
	if os.Getenv("DQTEST_IN_ROOT") != "" {
		return "", "inside the build root (make test): no dockerd there to start a second engine; run `go test ./harness/docker/ -run TestRemoteEngine` on the host"
	}
	for _, tool := range []string{"dockerd", "ip", "nsenter", "docker"} {
		if _, err := exec.LookPath(tool); err != nil {
			return "", fmt.Sprintf("no %s here: %v", tool, err)
		}
	}
	if os.Geteuid() != 0 {
		return "", "not root: network namespaces and a dockerd need root"
	}
	script, err := filepath.Abs("../../build/netns-engine.sh")
	require.NoError(t, err)
	// A namespace left by a test killed hard goes first.
	if out, err := exec.Command(script, "down").CombinedOutput(); err != nil {
		t.Logf("netns-engine down before: %v: %s", err, out)
	}
	t.Cleanup(func() {
		out, err := exec.Command(script, "down").CombinedOutput()
		t.Logf("netns-engine down: %v: %s", err, strings.TrimSpace(string(out)))
		// Nothing of it is left.
		if out, _ := exec.Command("ip", "netns", "list").Output(); strings.Contains(string(out), "dqtest-remote") {
			t.Errorf("namespace dqtest-remote is left: %s", out)
		}
		if err := exec.Command("ip", "link", "show", netnsHostIf).Run(); err == nil {
			t.Errorf("veth %s is left", netnsHostIf)
		}
		if _, err := os.Stat("/var/lib/dqtest-remote"); err == nil {
			t.Errorf("/var/lib/dqtest-remote is left")
		}
	})
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, script, "up").CombinedOutput()
	if err != nil {
		return "", fmt.Sprintf("build/netns-engine.sh up failed: %v: %s", err, lastLinesOf(string(out), 6))
	}
	t.Logf("namespaced engine up in %s: %s", time.Since(began).Round(100*time.Millisecond), strings.TrimSpace(string(out)))
	return netnsEngineURL, ""
}

func lastLinesOf(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// An engine on "another machine": --docker-host tcp://10.250.77.2:2375 is
// accepted, reach auto picks ports, the nodes' bridge addresses are not
// reachable from here, and runs are valid with every dial going to the
// engine's host: a bank cell under partitions and a kill (the partition
// rules drop peers by address; the harness's traffic comes from
// 10.250.77.1 and gets through), then, through the engine's unix socket with
// TESTCONTAINERS_HOST_OVERRIDE (what an ssh -L tunnel needs), a short run
// without faults.
func TestRemoteEngineInANetworkNamespaceIsReachedThroughPublishedPorts(t *testing.T) {
	requireDockerAndImage(t)
	url, why := netnsEngine(t)
	if url == "" {
		t.Skip(why)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	require.NoError(t, CheckHost(url))
	require.True(t, IsRemote(url), "a tcp:// engine on a host that is not loopback is remote")
	e, err := EngineAt(ctx, url)
	require.NoError(t, err)
	require.Equal(t, "/var/lib/dqtest-remote", e.RootDir)
	t.Logf("engine: %s, Docker %s", e, e.Version)

	child := func(name string, env []string, arg remoteChild) {
		t.Helper()
		a, err := json.Marshal(arg)
		require.NoError(t, err)
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestRemoteEngineChild$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), append(env, remoteChildEnv+"="+string(a))...)
		began := time.Now()
		out, err := cmd.CombinedOutput()
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, "remote_docker_test.go") || strings.Contains(l, "FAIL") || strings.Contains(l, "cluster ready") {
				t.Logf("[%s] %s", name, strings.TrimSpace(l))
			}
		}
		require.NoError(t, err, "child %s failed:\n%s", name, lastLinesOf(string(out), 40))
		t.Logf("[%s] %s", name, time.Since(began).Round(100*time.Millisecond))
	}
	child("tcp", []string{"DOCKER_HOST=" + url, hostOverrideEnv + "="}, remoteChild{Engine: e, Host: netnsEngineHost, Faults: true})

	// The engine's socket with the override naming its host: what a
	// forwarded socket (ssh -NL /tmp/e.sock:/var/run/docker.sock HOST)
	// needs, since a unix socket alone says "this machine".
	es, err := EngineAt(ctx, netnsEngineSock)
	require.NoError(t, err)
	require.Equal(t, e.Identity(), es.Identity())
	t.Setenv(hostOverrideEnv, netnsEngineHost)
	require.True(t, IsRemote(netnsEngineSock), "the override says the ports are on another host")
	child("socket+override", []string{"DOCKER_HOST=" + netnsEngineSock, hostOverrideEnv + "=" + netnsEngineHost},
		remoteChild{Engine: es, Host: netnsEngineHost})
}

// TestRemoteEngineChild is one run of the remote-engine test, in a process
// of its own (it skips unless remoteChildEnv is set).
func TestRemoteEngineChild(t *testing.T) {
	v := os.Getenv(remoteChildEnv)
	if v == "" {
		t.Skip("a child of TestRemoteEngineInANetworkNamespaceIsReachedThroughPublishedPorts")
	}
	var arg remoteChild
	require.NoError(t, json.Unmarshal([]byte(v), &arg))
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	require.NoError(t, CheckReached(ctx, arg.Engine), "this process reaches the namespaced engine")
	host := netip.MustParseAddr(arg.Host)

	// A cluster: reach auto is ports, published on every interface of the
	// engine's host; its bridge addresses are not routed here, and its
	// control APIs answer at the published ports.
	dials := &dialLog{}
	b := &Backend{Engine: &arg.Engine, onDial: dials.record}
	c, err := b.Start(ctx, harness.ClusterSpec{RunID: fmt.Sprintf("remote%d", os.Getpid()), Nodes: 3})
	require.NoError(t, err)
	defer func() {
		downCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		require.NoError(t, c.Down(downCtx))
	}()
	require.Equal(t, ReachPorts, c.Reach())
	for _, name := range c.Nodes() {
		n := c.byName[name]
		res, err := c.docker.ContainerInspect(ctx, n.ctr.GetContainerID(), client.ContainerInspectOptions{})
		require.NoError(t, err)
		for port, bs := range res.Container.NetworkSettings.Ports {
			require.NotEmpty(t, bs, "%s %s is published", name, port)
			require.Equal(t, "0.0.0.0", bs[0].HostIP.String(), "%s %s: a remote engine publishes on every interface", name, port)
		}
		st, err := c.Status(ctx, name)
		require.NoError(t, err)
		require.True(t, st.Running)
		t.Logf("%s: bridge %s, control reached at %s; %s", name, c.Address(name), c.ControlURL(name), routeTo(t, n.ip))
		requireNotRoutedHere(t, n.ip)
	}
	require.Empty(t, dials.notTo(host), "every dial went to the engine's host")
	require.NoError(t, c.Down(ctx))

	// A whole run with the harness: valid, every dial to the engine's host.
	src := `
nodes: 3
workload: {name: bank}
concurrency: 6
rate: 40
time_limit: 8s
seed: 31
`
	if arg.Faults {
		src = strings.Replace(src, "time_limit: 8s", "time_limit: 16s", 1) + `
nemesis:
  faults: [partition-halves, kill]
  schedule: {kind: fixed, interval: 4s, duration: 2s}
`
	}
	outcome, reasons, runDials := runReachedWith(t, "remote", src, &Backend{Engine: &arg.Engine})
	require.Equal(t, checker.Valid, outcome, "reasons: %v", reasons)
	require.Empty(t, runDials.notTo(host), "every dial went to the engine's host")
	t.Logf("control ports dialed: %v", runDials.ports(dialControl))
}

// routeTo is the kernel's route from here to ip (`ip route get`): asking
// sends nothing.
func routeTo(t *testing.T, ip netip.Addr) string {
	t.Helper()
	out, err := exec.Command("ip", "-o", "route", "get", ip.String()).CombinedOutput()
	require.NoError(t, err, "%s", out)
	return strings.Join(strings.Fields(string(out)), " ")
}

// requireNotRoutedHere fails when ip, a container's address on the remote
// engine's bridge, is reachable from this namespace: routed to the veth
// toward the engine, or to any link of this machine. A route through the
// default gateway (another machine, which knows nothing of the engine's
// bridges) is what a remote engine's bridge address looks like. The test
// does not dial it: the packets would leave this machine.
func requireNotRoutedHere(t *testing.T, ip netip.Addr) {
	t.Helper()
	r := routeTo(t, ip)
	require.NotContains(t, r, "dev "+netnsHostIf, "the bridge address is routed to the engine's namespace: %s", r)
	if !strings.Contains(r, " via ") {
		// On a link of this machine: a local Docker network has the same
		// /24 (the engine chose its subnet by its own host's networks).
		t.Logf("%s is on a link of this machine (%s): another container here has it, not the engine's", ip, r)
	}
}
