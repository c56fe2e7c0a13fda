package docker

import (
	"context"
	"log/slog"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/harness"
	"github.com/dqtest/dqtest/scenario"
)

// dialLog records every address a cluster's dialer connected to, by what
// for (dialControl, dialDqlite).
type dialLog struct {
	mu    sync.Mutex
	addrs map[string][]netip.AddrPort
	bad   []string
}

func (d *dialLog) record(what, address string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		d.bad = append(d.bad, what+" "+address)
		return
	}
	if d.addrs == nil {
		d.addrs = map[string][]netip.AddrPort{}
	}
	d.addrs[what] = append(d.addrs[what], ap)
}

// ports lists the distinct ports dialed for what.
func (d *dialLog) ports(what string) []uint16 {
	d.mu.Lock()
	defer d.mu.Unlock()
	var ps []uint16
	for _, ap := range d.addrs[what] {
		if ap.Port() != 0 && !slices.Contains(ps, ap.Port()) { // 0: unmapped, refused
			ps = append(ps, ap.Port())
		}
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	return ps
}

// notTo lists every dial whose address is not want.
func (d *dialLog) notTo(want netip.Addr) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := slices.Clone(d.bad)
	for what, aps := range d.addrs {
		for _, ap := range aps {
			if ap.Addr() != want {
				out = append(out, what+" "+ap.String())
			}
		}
	}
	return out
}

// runReached runs src on the docker backend with the given reach,
// recording every dial.
func runReached(t *testing.T, name, src string, reach Reach) (checker.Verdict, []string, *dialLog) {
	t.Helper()
	return runReachedWith(t, name, src, &Backend{Reach: reach})
}

// runReachedWith is runReached with a backend of the caller's.
func runReachedWith(t *testing.T, name, src string, b *Backend) (checker.Verdict, []string, *dialLog) {
	t.Helper()
	dials := &dialLog{}
	b.onDial = dials.record
	sc, err := scenario.Parse(name+".yaml", []byte(src))
	require.NoError(t, err)
	sc.Name = name
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := harness.Run(ctx, sc, harness.Options{Backend: b, RunsDir: t.TempDir(), Log: slog.Default()})
	require.NoError(t, err)
	t.Logf("%s: outcome %s, ops %+v, reasons %v", name, res.Outcome, res.Ops, res.Reasons)
	require.Empty(t, leftoversOf(t, res.RunID), "every container and network is removed")
	return res.Outcome, res.Reasons, dials
}

func leftoversOf(t *testing.T, runID string) []Leftover {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	left, err := Leftovers(ctx, runID)
	require.NoError(t, err)
	return left
}

// Reach ports against the local engine: a short register cell with a kill
// and a restart, through the nodes (control API, frames) and then with
// direct clients (dqlite connections), is valid, and every address the
// harness dialed was a host port on 127.0.0.1, never a bridge address.
// The restarted node is dialed at the new host port Docker gave it.
func TestReachPortsDialsOnlyPublishedPortsOnLoopback(t *testing.T) {
	requireDockerAndImage(t)
	const src = `
nodes: 3
workload: {name: register}
concurrency: 6
rate: 50
time_limit: 10s
seed: 21
nemesis:
  faults: [kill]
  targets: leader
  schedule: {kind: fixed, interval: 4s, duration: 2s}
`
	loopback := netip.MustParseAddr("127.0.0.1")
	for _, client := range []string{"node", "direct"} {
		t.Run(client, func(t *testing.T) {
			outcome, reasons, dials := runReached(t, "reach-ports-"+client, src+"client: "+client+"\n", ReachPorts)
			require.Equal(t, checker.Valid, outcome, "reasons: %v", reasons)
			require.Empty(t, dials.notTo(loopback), "dials not to a published port on 127.0.0.1")
			control := dials.ports(dialControl)
			t.Logf("control ports dialed: %v; dqlite ports dialed: %v", control, dials.ports(dialDqlite))
			// 3 nodes, and the killed leader again at the port of its
			// restarted container (Docker maps ports anew on each start).
			require.GreaterOrEqual(t, len(control), 4, "the restarted node's new control port was dialed: %v", control)
			if client == "direct" {
				require.NotEmpty(t, dials.ports(dialDqlite), "the direct clients dialed dqlite ports")
			} else {
				require.Empty(t, dials.ports(dialDqlite))
			}
		})
	}
}

// Reach bridge (the default on this machine) dials the nodes at their
// bridge addresses, the run's /24 of 172.29.0.0/16.
func TestReachBridgeDialsTheBridgeAddresses(t *testing.T) {
	requireDockerAndImage(t)
	outcome, reasons, dials := runReached(t, "reach-bridge", `
nodes: 3
workload: {name: register}
concurrency: 3
rate: 30
time_limit: 3s
seed: 22
`, ReachAuto)
	require.Equal(t, checker.Valid, outcome, "reasons: %v", reasons)
	dials.mu.Lock()
	defer dials.mu.Unlock()
	require.NotEmpty(t, dials.addrs[dialControl])
	for _, ap := range dials.addrs[dialControl] {
		require.True(t, subnetRange.Contains(ap.Addr()), "%s is a bridge address", ap)
		require.Equal(t, uint16(controlPort), ap.Port())
	}
	require.Empty(t, dials.bad, strings.Join(dials.bad, ", "))
}
