package docker

import (
	"bytes"
	"context"
	"fmt"
	"hash/fnv"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// subnetRange is the project's address range: each run gets one /24 of it,
// 172.29.<n>.0/24, with the gateway (the host's side of the bridge) at .1 and
// node i at .10+i. Static addresses let a node keep its address across a kill
// and restart, which dqlite needs: a member is its address.
var subnetRange = netip.MustParsePrefix("172.29.0.0/16")

// createNetwork creates the run's bridge network on a /24 that overlaps no
// existing Docker network and no address of the engine's host (this
// machine's, or for an engine on another machine, that machine's). The search starts
// at a /24 derived from the run id, so parallel runs rarely collide, and
// moves on when Docker reports an overlap anyway (a run that got there
// first).
func (c *Cluster) createNetwork(ctx context.Context) error {
	used, err := usedPrefixes(ctx, c.docker)
	if err != nil {
		return err
	}
	var hostAddrs []netip.Prefix
	if c.published.Local {
		hostAddrs, err = localPrefixes()
	} else {
		// Another machine's engine: its host's interfaces count, not
		// this machine's.
		hostAddrs, err = c.engineHostPrefixes(ctx)
	}
	if err != nil {
		return err
	}
	used = append(used, hostAddrs...)
	h := fnv.New32a()
	h.Write([]byte(c.spec.RunID))
	start := int(h.Sum32() % 256)
	base := subnetRange.Addr().As4()
	var lastErr error
	for k := range 256 {
		subnet := netip.PrefixFrom(netip.AddrFrom4([4]byte{base[0], base[1], byte((start + k) % 256), 0}), 24)
		if overlapsAny(subnet, used) {
			continue
		}
		_, err := c.docker.NetworkCreate(ctx, c.network, client.NetworkCreateOptions{
			Driver: "bridge",
			IPAM:   &network.IPAM{Config: []network.IPAMConfig{{Subnet: subnet}}},
			Labels: map[string]string{labelTestcontainers: "true", labelRun: c.spec.RunID},
		})
		if err == nil {
			c.setSubnet(subnet)
			return nil
		}
		if !strings.Contains(err.Error(), "overlap") {
			return fmt.Errorf("create network %s on %s: %w", c.network, subnet, err)
		}
		lastErr = err
		used = append(used, subnet)
	}
	return fmt.Errorf("create network %s: no free /24 in %s (last error: %v)", c.network, subnetRange, lastErr)
}

// setSubnet gives every node its address on subnet.
func (c *Cluster) setSubnet(subnet netip.Prefix) {
	c.subnet = subnet
	a := subnet.Addr().As4()
	for i, n := range c.nodes {
		a[3] = byte(11 + i)
		n.ip = netip.AddrFrom4(a)
	}
}

// usedPrefixes lists the IPv4 subnets of every Docker network of the
// engine.
func usedPrefixes(ctx context.Context, docker client.APIClient) ([]netip.Prefix, error) {
	nets, err := docker.NetworkList(ctx, client.NetworkListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list networks: %w", err)
	}
	var used []netip.Prefix
	for _, n := range nets.Items {
		for _, cfg := range n.IPAM.Config {
			if cfg.Subnet.IsValid() {
				used = append(used, cfg.Subnet)
			}
		}
	}
	return used, nil
}

// localPrefixes lists the subnets of every interface of this machine (the
// engine's host, when the engine runs here).
func localPrefixes() ([]netip.Prefix, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("list this machine's addresses: %w", err)
	}
	var used []netip.Prefix
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			used = append(used, p.Masked())
		}
	}
	return used, nil
}

// engineHosts caches engineHostPrefixes per engine URL for the process.
var engineHosts sync.Map // daemon URL -> []netip.Prefix

// engineHostPrefixes lists the IPv4 subnets of the engine host's
// interfaces, as `ip -o -4 addr show` in a container of the node image on
// the host's network sees them (once per engine and process; a run's
// container, labelled with the run, removed at once).
func (c *Cluster) engineHostPrefixes(ctx context.Context) ([]netip.Prefix, error) {
	key := c.docker.DaemonHost()
	if v, ok := engineHosts.Load(key); ok {
		return v.([]netip.Prefix), nil
	}
	out, err := c.runOnEngineHost(ctx, []string{"ip", "-o", "-4", "addr", "show"})
	if err != nil {
		return nil, fmt.Errorf("list the engine host's addresses: %w", err)
	}
	prefixes := parseIPAddr(out)
	c.log.Debug("engine host's addresses", "prefixes", prefixes)
	engineHosts.Store(key, prefixes)
	return prefixes, nil
}

// parseIPAddr reads the prefixes of `ip -o -4 addr show`: "4: eth0 inet
// 192.0.2.2/24 brd ...".
func parseIPAddr(out string) []netip.Prefix {
	var prefixes []netip.Prefix
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "inet" {
				if p, err := netip.ParsePrefix(f[i+1]); err == nil {
					prefixes = append(prefixes, p.Masked())
				}
			}
		}
	}
	return prefixes
}

// runOnEngineHost runs cmd in a throwaway container of the first node's
// image on the engine host's network and returns its output.
func (c *Cluster) runOnEngineHost(ctx context.Context, cmd []string) (string, error) {
	ctx, cancel := withDefaultTimeout(ctx, 30*time.Second)
	defer cancel()
	created, err := c.docker.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name: c.containerName("hostaddrs"),
		Config: &container.Config{
			Image: c.nodes[0].image.Image, Entrypoint: cmd,
			Labels: map[string]string{labelTestcontainers: "true", labelRun: c.spec.RunID},
		},
		HostConfig: &container.HostConfig{NetworkMode: "host"},
	})
	if err != nil {
		return "", err
	}
	defer func() {
		rmCtx, rmCancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer rmCancel()
		if _, err := c.docker.ContainerRemove(rmCtx, created.ID, client.ContainerRemoveOptions{Force: true}); err != nil {
			c.log.Warn("removing the host-address container", "error", err) // removeRun finds it by label
		}
	}()
	if _, err := c.docker.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		return "", err
	}
	wait := c.docker.ContainerWait(ctx, created.ID, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case res := <-wait.Result:
		if res.StatusCode != 0 {
			return "", fmt.Errorf("%s exited with %d", strings.Join(cmd, " "), res.StatusCode)
		}
	case err := <-wait.Error:
		return "", err
	case <-ctx.Done():
		return "", ctx.Err()
	}
	rc, err := c.docker.ContainerLogs(ctx, created.ID, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		return "", err
	}
	defer rc.Close()
	var buf bytes.Buffer
	if _, err := stdcopy.StdCopy(&buf, &buf, rc); err != nil {
		return "", err
	}
	return buf.String(), nil
}

func overlapsAny(p netip.Prefix, used []netip.Prefix) bool {
	for _, u := range used {
		if p.Overlaps(u) {
			return true
		}
	}
	return false
}

// defaultNetworkMu serialises ensureDefaultNetwork within this process.
var defaultNetworkMu sync.Mutex

// ensureDefaultNetwork makes sure the engine has the network
// testcontainers-go attaches a container to by default: "bridge", or, on
// an engine without one (dockerd --bridge none), the "reaper_default" it
// creates itself. testcontainers-go makes that one under a lock of each
// provider, and every node's container start has a provider of its own:
// three nodes starting at once on such an engine created three networks of
// that name, and the starts failed with "network reaper_default is
// ambiguous". So it is made here, once, before the nodes start.
func ensureDefaultNetwork(ctx context.Context, docker client.APIClient) error {
	defaultNetworkMu.Lock()
	defer defaultNetworkMu.Unlock()
	nets, err := docker.NetworkList(ctx, client.NetworkListOptions{})
	if err != nil {
		return fmt.Errorf("docker backend: listing networks: %w", err)
	}
	for _, n := range nets.Items {
		if n.Name == testcontainers.Bridge || n.Name == testcontainers.ReaperDefault {
			return nil
		}
	}
	_, err = docker.NetworkCreate(ctx, testcontainers.ReaperDefault, client.NetworkCreateOptions{
		Driver: testcontainers.Bridge, Attachable: true, Labels: testcontainers.GenericLabels(),
	})
	if err != nil {
		return fmt.Errorf("docker backend: creating the default network %s on an engine without a bridge network: %w", testcontainers.ReaperDefault, err)
	}
	return nil
}
