package docker

import (
	"context"
	"fmt"
	"hash/fnv"
	"net"
	"net/netip"
	"strings"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// subnetRange is the project's address range: each run gets one /24 of it,
// 172.29.<n>.0/24, with the gateway (the host's side of the bridge) at .1 and
// node i at .10+i. Static addresses let a node keep its address across a kill
// and restart, which dqlite needs: a member is its address.
var subnetRange = netip.MustParsePrefix("172.29.0.0/16")

// createNetwork creates the run's bridge network on a /24 that overlaps no
// existing Docker network and no address of this machine. The search starts
// at a /24 derived from the run id, so parallel runs rarely collide, and
// moves on when Docker reports an overlap anyway (a run that got there
// first).
func (c *Cluster) createNetwork(ctx context.Context) error {
	used, err := usedPrefixes(ctx, c.docker)
	if err != nil {
		return err
	}
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

// usedPrefixes lists the IPv4 subnets of every Docker network and of every
// interface of this machine.
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
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("list this machine's addresses: %w", err)
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			used = append(used, p.Masked())
		}
	}
	return used, nil
}

func overlapsAny(p netip.Prefix, used []netip.Prefix) bool {
	for _, u := range used {
		if p.Overlaps(u) {
			return true
		}
	}
	return false
}
