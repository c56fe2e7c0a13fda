package docker

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/require"
	tcexec "github.com/testcontainers/testcontainers-go/exec"

	"github.com/dqtest/dqtest/detect"
	"github.com/dqtest/dqtest/harness"
	"github.com/dqtest/dqtest/node/control"
	"github.com/dqtest/dqtest/workloads"
)

// These tests start real containers from the node image. They need Docker and
// `make image`; without them they fail when CI=true and skip otherwise.

func requireDockerAndImage(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("a Docker test (make unit runs -short)")
	}
	missing := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf(format, args...)
		}
		t.Skipf(format, args...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	docker, err := dockerClient(ctx)
	if err != nil {
		missing("Docker is needed: %v", err)
	}
	defer docker.Close()
	if err := requireImage(ctx, docker, DefaultImage); err != nil {
		missing("%v", err)
	}
}

// testRunID names a test's run after the test process and a short tag, so
// parallel `go test` processes never share one.
func testRunID(tag string) string {
	return fmt.Sprintf("test%d-%s", os.Getpid(), tag)
}

// up brings up a cluster for t and removes it when t ends, whatever happened.
func up(t *testing.T, tag string, nodes int, args map[string][]string) *Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	spec := harness.ClusterSpec{RunID: testRunID(tag), Nodes: nodes, NodeArgs: args}
	c, err := (&Backend{}).Start(ctx, spec)
	require.NoError(t, err)
	t.Logf("cluster %s on %s: containers %v, formed %v, leader %s", spec.RunID, c.Subnet(), c.Timing().Containers, c.Timing().Formed, c.readyLeader)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		require.NoError(t, c.Down(ctx))
	})
	return c
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// eventually retries f until it returns nil or d passes, and fails with f's
// last error.
func eventually(t *testing.T, d time.Duration, what string, f func(ctx context.Context) error) {
	t.Helper()
	deadline := time.Now().Add(d)
	var err error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err = f(ctx)
		cancel()
		if err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: not within %v: %v", what, d, err)
}

func readValue(ctx context.Context, cl workloads.Client, key string) (int64, error) {
	rows, err := cl.Query(ctx, "SELECT v FROM kv WHERE k = ?", key)
	if err != nil {
		return 0, err
	}
	if len(rows) != 1 {
		return 0, fmt.Errorf("key %s: %d rows", key, len(rows))
	}
	v, ok := rows[0]["v"].(int64)
	if !ok {
		return 0, fmt.Errorf("key %s: value %#v is not an int64", key, rows[0]["v"])
	}
	return v, nil
}

func write(t *testing.T, c *Cluster, via, key string, v int64) {
	t.Helper()
	_, err := c.Client(via).Exec(ctxFor(t, 10*time.Second), "INSERT INTO kv(k, v) VALUES(?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v", key, v)
	require.NoError(t, err, "write %s=%d through %s", key, v, via)
}

// writeAndReadEverywhere writes key=v through n1 and reads it back through
// every node.
func writeAndReadEverywhere(t *testing.T, c *Cluster, key string, v int64) {
	t.Helper()
	write(t, c, "n1", key, v)
	for _, n := range c.Nodes() {
		got, err := readValue(ctxFor(t, 10*time.Second), c.Client(n), key)
		require.NoError(t, err, "read through %s", n)
		require.Equal(t, v, got, "read through %s", n)
	}
}

func otherThan(c *Cluster, node string) []string {
	var out []string
	for _, n := range c.Nodes() {
		if n != node {
			out = append(out, n)
		}
	}
	return out
}

// execIn runs a shell script in node's container and returns its exit code.
func execIn(t *testing.T, c *Cluster, node, script string) (int, string) {
	t.Helper()
	n, err := c.node(node)
	require.NoError(t, err)
	code, out, err := n.ctr.Exec(ctxFor(t, 20*time.Second), []string{"bash", "-c", script}, tcexec.Multiplexed())
	require.NoError(t, err)
	b, err := io.ReadAll(out)
	require.NoError(t, err)
	return code, string(b)
}

// TestThreeNodeCluster runs every fault on one cluster, in order; each step
// leaves the cluster healthy for the next.
func TestThreeNodeCluster(t *testing.T) {
	requireDockerAndImage(t)
	c := up(t, "three", 3, nil)
	_, err := c.Client("n1").Exec(ctxFor(t, 10*time.Second), "CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL)")
	require.NoError(t, err)

	t.Run("a row written through n1 is read back through every node", func(t *testing.T) {
		writeAndReadEverywhere(t, c, "replicated", 42)
	})

	t.Run("a statement SQLite refuses is a definite failure", func(t *testing.T) {
		_, err := c.Client("n2").Exec(ctxFor(t, 10*time.Second), "INSERT INTO no_such_table VALUES (1)")
		require.Error(t, err)
		require.True(t, workloads.IsDefinite(err), "%v", err)
		_, err = c.Client("n9").Query(ctxFor(t, time.Second), "SELECT 1")
		require.ErrorContains(t, err, `no node "n9"`)
		require.True(t, workloads.IsDefinite(err))
	})

	t.Run("a stopped node refuses statements and rejoins after start", func(t *testing.T) {
		require.NoError(t, c.Stop(ctxFor(t, 30*time.Second), "n3"))
		st, err := c.Status(ctxFor(t, 5*time.Second), "n3")
		require.NoError(t, err)
		require.False(t, st.Running)
		_, err = c.Client("n3").Exec(ctxFor(t, 5*time.Second), "INSERT INTO kv(k, v) VALUES('stopped', 1)")
		require.Error(t, err)
		require.True(t, workloads.IsDefinite(err), "%v", err)
		write(t, c, "n1", "while-stopped", 3)
		require.NoError(t, c.Start(ctxFor(t, 60*time.Second), "n3"))
		eventually(t, 30*time.Second, "n3 reads the write it missed", func(ctx context.Context) error {
			_, err := readValue(ctx, c.Client("n3"), "while-stopped")
			return err
		})
	})

	t.Run("a removed node leaves the membership and comes back with add", func(t *testing.T) {
		members := func(ctx context.Context) (int, error) {
			leader, err := c.Leader(ctx)
			if err != nil {
				return 0, err
			}
			st, err := c.Status(ctx, leader)
			return len(st.Members), err
		}
		victim := "n3"
		if leader, err := c.Leader(ctxFor(t, 10*time.Second)); err == nil && leader == victim {
			victim = "n2"
		}
		require.NoError(t, c.Remove(ctxFor(t, 30*time.Second), victim))
		eventually(t, 15*time.Second, "two members", func(ctx context.Context) error {
			if n, err := members(ctx); err != nil || n != 2 {
				return fmt.Errorf("%d members, %v", n, err)
			}
			return nil
		})
		require.NoError(t, c.Add(ctxFor(t, 30*time.Second), victim))
		eventually(t, 15*time.Second, "three members", func(ctx context.Context) error {
			if n, err := members(ctx); err != nil || n != 3 {
				return fmt.Errorf("%d members, %v", n, err)
			}
			return nil
		})
	})

	t.Run("handover moves leadership to another node", func(t *testing.T) {
		before, err := c.Leader(ctxFor(t, 10*time.Second))
		require.NoError(t, err)
		require.NoError(t, c.Handover(ctxFor(t, 30*time.Second), before))
		eventually(t, 15*time.Second, "a new leader", func(ctx context.Context) error {
			after, err := c.Leader(ctx)
			if err == nil && after == before {
				err = fmt.Errorf("%s still leads", after)
			}
			return err
		})
	})

	t.Run("transfer moves leadership to the chosen node", func(t *testing.T) {
		before, err := c.Leader(ctxFor(t, 10*time.Second))
		require.NoError(t, err)
		to := otherThan(c, before)[0]
		require.NoError(t, c.Transfer(ctxFor(t, 30*time.Second), to))
		eventually(t, 15*time.Second, to+" leads", func(ctx context.Context) error {
			after, err := c.Leader(ctx)
			if err == nil && after != to {
				err = fmt.Errorf("%s leads", after)
			}
			return err
		})
	})

	t.Run("a paused node stops answering and answers again after resume", func(t *testing.T) {
		api := c.ctl.client(c.byName["n3"])
		require.NoError(t, c.Pause(ctxFor(t, 10*time.Second), "n3"))
		_, err := api.Status(ctxFor(t, time.Second))
		var ce *control.Error
		require.ErrorAs(t, err, &ce, "a paused node answered")
		require.Equal(t, control.KindIndeterminate, ce.Kind, "%v", err)
		_, err = c.Client("n3").Exec(ctxFor(t, time.Second), "INSERT INTO kv(k, v) VALUES('paused', 1)")
		require.Error(t, err)
		require.False(t, workloads.IsDefinite(err), "a write with no answer was called definite: %v", err)
		require.NoError(t, c.Resume(ctxFor(t, 10*time.Second), "n3"))
		_, err = api.Status(ctxFor(t, 5*time.Second))
		require.NoError(t, err)
	})

	t.Run("a partitioned leader cannot reach its peers and can again after heal", func(t *testing.T) {
		old, err := c.Leader(ctxFor(t, 10*time.Second))
		require.NoError(t, err)
		peers := otherThan(c, old)
		peer := c.byName[peers[0]]

		// An established connection from the old leader to a peer, opened
		// before the partition: it must stop delivering once the partition
		// is in force.
		code, out := execIn(t, c, old, fmt.Sprintf(`rm -f /tmp/go /tmp/out; nohup bash -c '
exec 3<>/dev/tcp/%s/%d || exit 1
while [ ! -e /tmp/go ]; do sleep 0.05; done
printf "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" >&3
timeout 3 cat <&3 >/tmp/out; echo $? >/tmp/done' >/dev/null 2>&1 &
sleep 0.3; ls /proc/$!/fd/3 >/dev/null && echo open`, peer.ip, controlPort))
		require.Equal(t, 0, code, out)
		require.Contains(t, out, "open")

		grudge := map[string][]string{old: peers}
		for _, p := range peers {
			grudge[p] = []string{old}
		}
		require.NoError(t, c.Partition(ctxFor(t, 20*time.Second), grudge))

		code, out = execIn(t, c, old, `touch /tmp/go; for i in $(seq 100); do [ -e /tmp/done ] && break; sleep 0.1; done; cat /tmp/out /tmp/done`)
		require.Equal(t, 0, code, out)
		require.NotContains(t, out, "HTTP/1.1", "an established connection still delivered across the partition")

		code, out = execIn(t, c, old, fmt.Sprintf(`timeout 2 bash -c '</dev/tcp/%s/%d'`, peer.ip, raftPort))
		require.NotEqual(t, 0, code, "the partitioned node connected to %s: %s", peer.name, out)

		eventually(t, 30*time.Second, "the majority elects a leader of its own", func(ctx context.Context) error {
			now, err := c.Leader(ctx)
			if err == nil && now == old {
				err = fmt.Errorf("%s still leads", now)
			}
			return err
		})
		_, err = c.Client(old).Exec(ctxFor(t, 3*time.Second), "INSERT INTO kv(k, v) VALUES('cut-off', 1)")
		require.Error(t, err, "a write through the cut-off node succeeded")

		require.NoError(t, c.Heal(ctxFor(t, 20*time.Second)))
		code, out = execIn(t, c, old, fmt.Sprintf(`timeout 2 bash -c '</dev/tcp/%s/%d'`, peer.ip, raftPort))
		require.Equal(t, 0, code, "after heal the node cannot connect to %s: %s", peer.name, out)
		eventually(t, 30*time.Second, "a write through the healed node", func(ctx context.Context) error {
			_, err := c.Client(old).Exec(ctx, "INSERT INTO kv(k, v) VALUES('healed', 1) ON CONFLICT(k) DO NOTHING")
			return err
		})
	})

	t.Run("partition rules follow a node through pause and restart", func(t *testing.T) {
		rules := func() string {
			code, out := execIn(t, c, "n3", "iptables -w -S "+ruleChain)
			require.Equal(t, 0, code, out)
			return out
		}
		n1 := c.byName["n1"].ip.String()
		require.NoError(t, c.Pause(ctxFor(t, 10*time.Second), "n3"))
		require.NoError(t, c.Partition(ctxFor(t, 20*time.Second), map[string][]string{"n3": {"n1"}}))
		require.NoError(t, c.Resume(ctxFor(t, 10*time.Second), "n3"))
		require.Contains(t, rules(), n1, "the partition made while n3 was paused is not in force")

		require.NoError(t, c.Kill(ctxFor(t, 10*time.Second), "n3"))
		require.NoError(t, c.Restart(ctxFor(t, 30*time.Second), "n3"))
		require.Contains(t, rules(), n1, "the restarted node lost the partition")

		require.NoError(t, c.Heal(ctxFor(t, 20*time.Second)))
		require.NotContains(t, rules(), n1)
		eventually(t, 30*time.Second, "n3 serves again", func(ctx context.Context) error {
			_, err := readValue(ctx, c.Client("n3"), "replicated")
			return err
		})
	})

	t.Run("a SIGKILLed node restarts with its data", func(t *testing.T) {
		victim, err := c.Leader(ctxFor(t, 10*time.Second))
		require.NoError(t, err)
		restartsBefore := map[string]int{}
		for _, n := range c.Nodes() {
			e, err := c.Exit(ctxFor(t, 10*time.Second), n)
			require.NoError(t, err)
			restartsBefore[n] = e.Restarts
		}
		write(t, c, victim, "before-kill", 1)
		require.NoError(t, c.Kill(ctxFor(t, 10*time.Second), victim))
		exit, err := c.Exit(ctxFor(t, 10*time.Second), victim)
		require.NoError(t, err)
		require.Equal(t, detect.NodeExit{Running: false, ExitCode: 137, Signal: "SIGKILL", Restarts: restartsBefore[victim]}, exit)

		survivor := otherThan(c, victim)[0]
		eventually(t, 30*time.Second, "a write while "+victim+" is down", func(ctx context.Context) error {
			_, err := c.Client(survivor).Exec(ctx, "INSERT INTO kv(k, v) VALUES('while-down', 2) ON CONFLICT(k) DO NOTHING")
			return err
		})

		require.NoError(t, c.Restart(ctxFor(t, 30*time.Second), victim))
		exit, err = c.Exit(ctxFor(t, 10*time.Second), victim)
		require.NoError(t, err)
		require.Equal(t, detect.NodeExit{Running: true, Restarts: restartsBefore[victim] + 1}, exit)
		for _, key := range []string{"before-kill", "while-down"} {
			eventually(t, 30*time.Second, key+" through "+victim, func(ctx context.Context) error {
				_, err := readValue(ctx, c.Client(victim), key)
				return err
			})
		}
	})

	t.Run("every node SIGKILLed at once comes back with the data from its disk", func(t *testing.T) {
		write(t, c, "n1", "before-power-cut", 7)
		for _, n := range c.Nodes() {
			require.NoError(t, c.Kill(ctxFor(t, 10*time.Second), n))
		}
		for _, n := range c.Nodes() {
			require.NoError(t, c.Restart(ctxFor(t, 30*time.Second), n))
		}
		eventually(t, 60*time.Second, "the data after the power cut", func(ctx context.Context) error {
			v, err := readValue(ctx, c.Client("n2"), "before-power-cut")
			if err == nil && v != 7 {
				err = fmt.Errorf("read %d", v)
			}
			return err
		})
	})

	t.Run("logs span every run of the container", func(t *testing.T) {
		logs, err := c.Logs(ctxFor(t, 10*time.Second), "n1")
		require.NoError(t, err)
		// n1 ran twice: before and after the power cut.
		require.GreaterOrEqual(t, strings.Count(string(logs), `msg="dqtest node"`), 2, "%s", logs)
	})

	t.Run("down leaves no container or network of the run, twice", func(t *testing.T) {
		ctx := ctxFor(t, time.Minute)
		require.NoError(t, c.Down(ctx))
		require.NoError(t, c.Down(ctx))
		requireNoLeftovers(t, c.spec.RunID)
	})
}

func requireNoLeftovers(t *testing.T, runID string) {
	t.Helper()
	ctx := ctxFor(t, 10*time.Second)
	docker, err := dockerClient(ctx)
	require.NoError(t, err)
	defer docker.Close()
	filter := make(client.Filters).Add("label", labelRun+"="+runID)
	ctrs, err := docker.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filter})
	require.NoError(t, err)
	require.Empty(t, ctrs.Items, "containers of run %s left", runID)
	nets, err := docker.NetworkList(ctx, client.NetworkListOptions{Filters: filter})
	require.NoError(t, err)
	require.Empty(t, nets.Items, "networks of run %s left", runID)
}

func TestUpFailsFastWithTheLogOfANodeThatExitsAndLeavesNothing(t *testing.T) {
	requireDockerAndImage(t)
	spec := harness.ClusterSpec{RunID: testRunID("badflag"), Nodes: 3, NodeArgs: map[string][]string{"n2": {"--no-such-flag"}}}
	began := time.Now()
	_, err := (&Backend{ReadyTimeout: time.Minute}).Up(ctxFor(t, 90*time.Second), spec)
	require.Error(t, err)
	require.Contains(t, err.Error(), "n2 exited")
	require.Contains(t, err.Error(), "no-such-flag")
	require.Less(t, time.Since(began), 30*time.Second, "Up waited for the whole ready timeout")
	requireNoLeftovers(t, spec.RunID)
}

func TestUpRefusesAMissingImageWithoutPulling(t *testing.T) {
	requireDockerAndImage(t)
	spec := harness.ClusterSpec{RunID: testRunID("noimage"), Nodes: 1, Image: "dqtest-node:no-such-tag-" + strconv.Itoa(os.Getpid())}
	_, err := (&Backend{}).Up(ctxFor(t, 30*time.Second), spec)
	require.ErrorIs(t, err, ErrNoImage)
	require.Contains(t, err.Error(), "make image")
	requireNoLeftovers(t, spec.RunID)
}

func TestCleanupRemovesARunsLeftovers(t *testing.T) {
	requireDockerAndImage(t)
	c := up(t, "cleanup", 1, nil)
	require.NoError(t, Cleanup(ctxFor(t, time.Minute), c.spec.RunID))
	requireNoLeftovers(t, c.spec.RunID)
}
