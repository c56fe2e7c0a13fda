package docker

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/harness"
)

// upSpec is up with a whole spec (data volumes, say).
func upSpec(t *testing.T, spec harness.ClusterSpec) *Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c, err := (&Backend{}).Start(ctx, spec)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		require.NoError(t, c.Down(ctx))
	})
	return c
}

// The disk fault fills the leader's data volume to the byte (the
// preallocated tails of its raft segments included), and the leader's next
// write fails with SQLITE_IOERR: dqlite's append got ENOSPC (without the
// holes, the same shows as SQLITE_IOERR_WRITE, 778, once the 24 MiB of
// preallocated segments are used up). After FreeDisk the cluster takes
// writes again and the node catches up. The data volume also survives a
// kill and restart of the node (the keeper holds it mounted).
func TestDiskFullMakesTheLeaderFailWritesAndTheClusterRecoversAfterFree(t *testing.T) {
	requireDockerAndImage(t)
	c := upSpec(t, harness.ClusterSpec{RunID: testRunID("disk"), Nodes: 3, DataDirSize: "64m"})
	ctx := ctxFor(t, 4*time.Minute)
	leader, err := c.Leader(ctx)
	require.NoError(t, err)
	_, err = c.Client(leader).Exec(ctx, "CREATE TABLE blobs (id INTEGER PRIMARY KEY, b BLOB)")
	require.NoError(t, err)

	used, free, err := c.DiskUsage(ctx, leader)
	require.NoError(t, err)
	require.Positive(t, free)
	t.Logf("%s's volume before: %d bytes used (dqlite's preallocated segments), %d free", leader, used, free)
	require.NoError(t, c.FillDisk(ctx, leader))
	_, free, err = c.DiskUsage(ctx, leader)
	require.NoError(t, err)
	require.Zero(t, free, "the balloon leaves no byte free")

	// 64 KiB a write: were the preallocated segments left as they are, their
	// 24 MiB would last ~400 writes.
	blob := strings.Repeat("x", 64<<10)
	var diskErr error
	writes := 0
	for ; writes < 1500 && diskErr == nil; writes++ {
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := c.Client(leader).Exec(wctx, "INSERT INTO blobs(b) VALUES(?)", blob)
		cancel()
		if err != nil {
			diskErr = err
		}
	}
	require.Error(t, diskErr, "%d writes of 64 KiB through %s with its disk full all succeeded", writes, leader)
	t.Logf("write %d through %s failed: %v", writes, leader, diskErr)
	require.Regexp(t, `database error 10 \(extended (10|778)\)`, diskErr.Error(),
		"the node reports the full disk as SQLITE_IOERR (10; 778 is SQLITE_IOERR_WRITE)")

	require.NoError(t, c.FreeDisk(ctx, leader))
	_, free, err = c.DiskUsage(ctx, leader)
	require.NoError(t, err)
	require.Positive(t, free)

	// Recovery: a leader takes writes, and every node, the one whose disk
	// was full included, ends up with the same rows.
	eventually(t, time.Minute, "a write after the disk is freed", func(ctx context.Context) error {
		l, err := c.Leader(ctx)
		if err != nil {
			return err
		}
		_, err = c.Client(l).Exec(ctx, "INSERT INTO blobs(b) VALUES('after')")
		return err
	})
	eventually(t, time.Minute, "every node has the rows", func(ctx context.Context) error {
		var counts []any
		for _, n := range c.Nodes() {
			rows, err := c.Client(n).Query(ctx, "SELECT count(*) AS n FROM blobs")
			if err != nil {
				return fmt.Errorf("%s: %w", n, err)
			}
			counts = append(counts, rows[0]["n"])
		}
		if slices.ContainsFunc(counts, func(v any) bool { return v != counts[0] }) {
			return fmt.Errorf("row counts differ: %v", counts)
		}
		return nil
	})
	exit, err := c.Exit(ctx, leader)
	require.NoError(t, err)
	require.True(t, exit.Running, "%s survived its full disk: %+v", leader, exit)

	// The volume outlives a kill: the node restarts on its data (on an
	// empty data directory n1 would form a new cluster of its own, and
	// have no rows).
	require.NoError(t, c.Kill(ctx, leader))
	require.NoError(t, c.Restart(ctx, leader))
	eventually(t, time.Minute, "the restarted node serves the rows", func(ctx context.Context) error {
		rows, err := c.Client(leader).Query(ctx, "SELECT count(*) AS n FROM blobs")
		if err != nil {
			return err
		}
		if n, _ := rows[0]["n"].(int64); n == 0 {
			return fmt.Errorf("%s has no rows", leader)
		}
		return nil
	})
}

// One short phase of writes through n1: how many succeeded and how long
// each took.
type writePhase struct {
	ok, failed int
	latencies  []time.Duration
}

func (p writePhase) mean() time.Duration {
	if len(p.latencies) == 0 {
		return 0
	}
	var sum time.Duration
	for _, l := range p.latencies {
		sum += l
	}
	return sum / time.Duration(len(p.latencies))
}

// slow counts writes that took longer than Linux's smallest TCP
// retransmission timeout (200 ms): each waited for a lost segment.
func (p writePhase) slow() int {
	n := 0
	for _, l := range p.latencies {
		if l >= 200*time.Millisecond {
			n++
		}
	}
	return n
}

func writeFor(ctx context.Context, c *Cluster, d time.Duration) writePhase {
	var p writePhase
	end := time.Now().Add(d)
	for i := 0; time.Now().Before(end); i++ {
		wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		began := time.Now()
		_, err := c.Client("n1").Exec(wctx, "INSERT INTO kv(k, v) VALUES(?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v", i%10, i)
		cancel()
		if err != nil {
			p.failed++
			time.Sleep(20 * time.Millisecond)
			continue
		}
		p.ok++
		p.latencies = append(p.latencies, time.Since(began))
	}
	return p
}

// Packet loss between nodes (20%, Jepsen's default) measurably lowers the
// throughput of a client writing as fast as it can and raises its
// latency; the same writes before and after, on the same cluster, are the
// baseline. The margins are wide (measured: 3900 vs 80 writes in 8 s; mean
// 2 ms vs 100 ms), so load on the machine cannot flip the result.
func TestPacketLossLowersThroughputAndRaisesLatency(t *testing.T) {
	requireDockerAndImage(t)
	c := upSpec(t, harness.ClusterSpec{RunID: testRunID("packet"), Nodes: 3})
	ctx := ctxFor(t, 3*time.Minute)
	leader, err := c.Leader(ctx)
	require.NoError(t, err)
	_, err = c.Client(leader).Exec(ctx, "CREATE TABLE kv (k INTEGER PRIMARY KEY, v INTEGER)")
	require.NoError(t, err)

	clean := writeFor(ctx, c, 6*time.Second)
	for _, n := range c.Nodes() {
		require.NoError(t, c.LosePackets(ctx, n, 0.2))
	}
	lossy := writeFor(ctx, c, 6*time.Second)
	for _, n := range c.Nodes() {
		require.NoError(t, c.LosePackets(ctx, n, 0))
	}
	healed := writeFor(ctx, c, 6*time.Second)
	for name, p := range map[string]writePhase{"clean": clean, "20% loss": lossy, "healed": healed} {
		t.Logf("%s: %d ok, %d failed, mean %v, %d slower than 200 ms", name, p.ok, p.failed, p.mean(), p.slow())
	}
	require.Positive(t, clean.ok)
	require.Less(t, lossy.ok*3, clean.ok, "loss cuts throughput to under a third")
	require.Greater(t, lossy.mean(), 3*clean.mean(), "loss triples the mean latency at least")
	require.Greater(t, lossy.slow(), clean.slow()+3, "loss makes writes wait for retransmissions")
	require.Greater(t, healed.ok*3, clean.ok, "without loss the throughput comes back")
}
