package harness

// Unit tests of Run's plumbing (run directory, results.json, cleanup on
// panic and cancellation, crash findings, expect) against an in-memory stub
// cluster that keeps the register workload's rows in a map. The stub is no
// model of dqlite and these tests claim nothing about one: the integration
// tests (integration_test.go) run the real thing.

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/detect"
	"github.com/dqtest/dqtest/history"
	"github.com/dqtest/dqtest/nemesis"
	"github.com/dqtest/dqtest/scenario"
	"github.com/dqtest/dqtest/verdict"
	"github.com/dqtest/dqtest/workloads"
)

type stubBackend struct {
	cluster *stubCluster
	upErr   error
}

func (b *stubBackend) Name() string                       { return "stub" }
func (b *stubBackend) Capabilities() []nemesis.Capability { return nemesis.CoreCapabilities() }

func (b *stubBackend) Up(ctx context.Context, spec ClusterSpec) (Cluster, error) {
	if b.upErr != nil {
		return nil, b.upErr
	}
	b.cluster.nodes = scenario.NodeNames(spec.Nodes)
	return b.cluster, nil
}

// stubCluster is a sequential register store behind every node.
type stubCluster struct {
	nodes []string
	mu    sync.Mutex
	rows  map[string]int64
	// panicOnWrite makes a client's write panic (a harness-side bug).
	panicOnWrite bool
	logs         map[string]string
	// slowFaults makes every fault action take this long.
	slowFaults time.Duration
	exits      map[string]detect.NodeExit
	downs      atomic.Int32
	faults     []string
}

func newStubCluster() *stubCluster {
	return &stubCluster{rows: map[string]int64{}, logs: map[string]string{}, exits: map[string]detect.NodeExit{}}
}

func (c *stubCluster) Nodes() []string                        { return c.nodes }
func (c *stubCluster) Leader(context.Context) (string, error) { return c.nodes[0], nil }
func (c *stubCluster) fault(f, n string) error {
	time.Sleep(c.slowFaults)
	c.faults = append(c.faults, f+" "+n)
	return nil
}
func (c *stubCluster) Kill(_ context.Context, n string) error    { return c.fault("kill", n) }
func (c *stubCluster) Restart(_ context.Context, n string) error { return c.fault("restart", n) }
func (c *stubCluster) Pause(_ context.Context, n string) error   { return c.fault("pause", n) }
func (c *stubCluster) Resume(_ context.Context, n string) error  { return c.fault("resume", n) }
func (c *stubCluster) Stop(_ context.Context, n string) error    { return c.fault("stop", n) }
func (c *stubCluster) Start(_ context.Context, n string) error   { return c.fault("start", n) }
func (c *stubCluster) Partition(context.Context, map[string][]string) error {
	return c.fault("partition", "")
}
func (c *stubCluster) Heal(context.Context) error                 { return c.fault("heal", "") }
func (c *stubCluster) Handover(_ context.Context, n string) error { return c.fault("handover", n) }
func (c *stubCluster) Transfer(_ context.Context, n string) error { return c.fault("transfer", n) }
func (c *stubCluster) Remove(_ context.Context, n string) error   { return c.fault("remove", n) }
func (c *stubCluster) Add(_ context.Context, n string) error      { return c.fault("add", n) }
func (c *stubCluster) Client(node string) workloads.Client        { return stubClient{c} }
func (c *stubCluster) Logs(_ context.Context, n string) ([]byte, error) {
	return []byte("time=2026-11-24T15:42:58.101Z level=INFO msg=\"node started\"\n" + c.logs[n]), nil
}
func (c *stubCluster) Exit(_ context.Context, n string) (detect.NodeExit, error) {
	if e, ok := c.exits[n]; ok {
		return e, nil
	}
	return detect.NodeExit{Running: true}, nil
}
func (c *stubCluster) Down(context.Context) error { c.downs.Add(1); return nil }

type stubClient struct{ c *stubCluster }

func (s stubClient) Exec(ctx context.Context, sql string, args ...any) (workloads.StmtResult, error) {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	switch {
	case strings.HasPrefix(sql, "CREATE"), sql == "SELECT 1":
		return workloads.StmtResult{}, nil
	case strings.HasPrefix(sql, "INSERT INTO registers"):
		if s.c.panicOnWrite {
			panic("stub: write exploded")
		}
		s.c.rows[args[0].(string)] = args[1].(int64)
		return workloads.StmtResult{RowsAffected: 1}, nil
	case strings.HasPrefix(sql, "UPDATE registers"):
		k, old, nu := args[1].(string), args[2].(int64), args[0].(int64)
		if v, ok := s.c.rows[k]; ok && v == old {
			s.c.rows[k] = nu
			return workloads.StmtResult{RowsAffected: 1}, nil
		}
		return workloads.StmtResult{}, nil
	}
	return workloads.StmtResult{}, &workloads.DefiniteError{Err: errors.New("stub: unknown statement " + sql)}
}

func (s stubClient) Query(ctx context.Context, sql string, args ...any) ([]map[string]any, error) {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	if sql == "SELECT 1" {
		return []map[string]any{{"1": int64(1)}}, nil
	}
	if v, ok := s.c.rows[args[0].(string)]; ok {
		return []map[string]any{{"v": v}}, nil
	}
	return nil, nil
}

func (s stubClient) Txn(context.Context, []workloads.Stmt) ([]workloads.StmtResult, error) {
	return nil, &workloads.DefiniteError{Err: errors.New("stub: no transactions")}
}

var quiet = slog.New(slog.DiscardHandler)

func stubScenario(t *testing.T, src string) scenario.Scenario {
	t.Helper()
	sc, err := scenario.Parse("stub.yaml", []byte("time_limit: 1s\nrate: 200\nseed: 9\n"+src))
	require.NoError(t, err)
	return sc
}

func readResults(t *testing.T, dir string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, verdict.ResultsFile))
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	return m
}

func TestRunWritesTheRunDirectoryAndJudgesTheRun(t *testing.T) {
	c := newStubCluster()
	sc := stubScenario(t, "nemesis: {faults: [kill], schedule: {interval: 300ms, duration: 200ms}}\n")
	root := t.TempDir()
	res, err := Run(context.Background(), sc, Options{Backend: &stubBackend{cluster: c}, RunsDir: root, Log: quiet})
	require.NoError(t, err)
	require.Equal(t, checker.Valid, res.Verdict, "a sequential register is linearizable: %v", res.Reasons)
	require.Equal(t, checker.Valid, res.Outcome)
	require.Equal(t, int32(1), c.downs.Load(), "the cluster is removed once")
	require.NotEmpty(t, c.faults)
	require.True(t, strings.HasPrefix(c.faults[0], "kill n"), "the nemesis ran: %v", c.faults)

	latest, err := os.Readlink(filepath.Join(root, "stub", verdict.LatestLink))
	require.NoError(t, err)
	require.Equal(t, filepath.Base(res.Dir), latest)
	for _, n := range []string{"n1", "n2", "n3"} {
		require.FileExists(t, filepath.Join(res.Dir, verdict.NodesDir, n+".log"))
	}
	resolved, err := scenario.Load(filepath.Join(res.Dir, verdict.ScenarioFile))
	require.NoError(t, err)
	require.Equal(t, int64(9), resolved.Seed)

	m := readResults(t, res.Dir)
	require.Equal(t, "valid", m["verdict"])
	require.Equal(t, "stub", m["backend"], "results name the backend")
	phases := m["phases"].(map[string]any)
	for _, p := range []string{"startup_s", "workload_s", "recovery_s", "teardown_s", "check_s", "total_s"} {
		require.Contains(t, phases, p)
	}
	require.InDelta(t, 1.0, phases["workload_s"], 0.5)
	ops := m["ops"].(map[string]any)
	require.Greater(t, ops["ok"], 50.0)

	events, _, err := history.ReadFile(filepath.Join(res.Dir, verdict.HistoryFile))
	require.NoError(t, err)
	require.NoError(t, history.Validate(events))
	var faults []string
	for _, e := range events {
		if !e.IsClient() {
			faults = append(faults, e.F)
		}
	}
	require.Equal(t, []string{"start-kill", "stop-kill", "start-kill", "stop-kill"}, faults)
}

func TestRunFindsACrashInANodeLogAndHonoursExpect(t *testing.T) {
	assertion, err := os.ReadFile(filepath.Join("..", "detect", "testdata", "crash", "assertion.log"))
	require.NoError(t, err)
	for _, tt := range []struct {
		name    string
		expect  string
		outcome checker.Verdict
	}{
		{"an unexpected crash fails the run", "", checker.Invalid},
		{"an expected crash passes it", "expect: {crash: dqlite_node_stop}\n", checker.Valid},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newStubCluster()
			c.logs["n3"] = string(assertion)
			c.exits["n3"] = detect.NodeExit{ExitCode: 2}
			res, err := Run(context.Background(), stubScenario(t, tt.expect), Options{Backend: &stubBackend{cluster: c}, RunsDir: t.TempDir(), Log: quiet})
			require.NoError(t, err)
			require.Equal(t, checker.Invalid, res.Verdict, "a crash makes the run invalid")
			require.Equal(t, tt.outcome, res.Outcome, "reasons: %v", res.Reasons)
			require.Len(t, res.Crashes, 1)
			require.Equal(t, "n3", res.Crashes[0].Node)
			require.Equal(t, detect.NodeExit{ExitCode: 2}, res.Nodes["n3"])
		})
	}
}

func TestRunCleansUpAfterAPanicInAClient(t *testing.T) {
	c := newStubCluster()
	c.panicOnWrite = true
	res, err := Run(context.Background(), stubScenario(t, ""), Options{Backend: &stubBackend{cluster: c}, RunsDir: t.TempDir(), Log: quiet})
	require.Error(t, err)
	require.Contains(t, err.Error(), "stub: write exploded")
	require.Equal(t, int32(1), c.downs.Load(), "the cluster is removed after a panic")
	require.Equal(t, checker.Unknown, res.Outcome)
	m := readResults(t, res.Dir)
	require.Contains(t, m["error"], "panic in client")
	require.FileExists(t, filepath.Join(res.Dir, verdict.HistoryFile))
}

func TestRunCleansUpWhenCancelled(t *testing.T) {
	c := newStubCluster()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	sc := stubScenario(t, "")
	sc.TimeLimit = 30 * time.Second
	res, err := Run(ctx, sc, Options{Backend: &stubBackend{cluster: c}, RunsDir: t.TempDir(), Log: quiet})
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, int32(1), c.downs.Load())
	require.Equal(t, checker.Unknown, res.Outcome)
	require.Less(t, res.Phases.Total, 10.0, "cancellation ends the run promptly")
	events, _, err := history.ReadFile(filepath.Join(res.Dir, verdict.HistoryFile))
	require.NoError(t, err)
	require.NotEmpty(t, events, "the history so far stays on disk")
	require.Greater(t, res.Ops.Invoked, 0, "results count the operations of the interrupted run")
}

func TestRunReportsABackendThatCannotStart(t *testing.T) {
	res, err := Run(context.Background(), stubScenario(t, ""), Options{Backend: &stubBackend{upErr: errors.New("no docker")}, RunsDir: t.TempDir(), Log: quiet})
	require.ErrorContains(t, err, "no docker")
	require.Equal(t, checker.Unknown, res.Outcome)
	require.Contains(t, readResults(t, res.Dir)["error"], "no docker")
}

func TestRunRefusesASimScenarioWithoutASimulator(t *testing.T) {
	_, err := Run(context.Background(), stubScenario(t, "backend: sim\n"), Options{RunsDir: t.TempDir(), Log: quiet})
	require.ErrorContains(t, err, "no simulator")
}

func TestRunWithTheSameSeedRepeatsFaultsAndEachSlotsOperations(t *testing.T) {
	type op struct {
		F, Key string
		Value  any
	}
	trace := func(seed int64) (map[int][]op, []string) {
		c := newStubCluster()
		sc := stubScenario(t, "nemesis: {faults: [partition-halves, kill, pause], schedule: {interval: 200ms, duration: 100ms}}\n")
		sc.Seed = seed
		res, err := Run(context.Background(), sc, Options{Backend: &stubBackend{cluster: c}, RunsDir: t.TempDir(), Log: quiet})
		require.NoError(t, err)
		events, _, err := history.ReadFile(filepath.Join(res.Dir, verdict.HistoryFile))
		require.NoError(t, err)
		slots := map[int][]op{}
		var faults []string
		for _, e := range events {
			switch {
			case !e.IsClient():
				faults = append(faults, e.F+" "+strings.Join(e.Nodes, ","))
			case e.Type == history.Invoke:
				slot := int(e.Process) % sc.Concurrency
				slots[slot] = append(slots[slot], op{e.F, e.Key, e.Value})
			}
		}
		return slots, faults
	}
	a, faultsA := trace(21)
	b, faultsB := trace(21)
	require.Equal(t, faultsA, faultsB, "same faults against the same nodes")
	require.NotEmpty(t, faultsA)
	for slot, opsA := range a {
		opsB := b[slot]
		n := min(len(opsA), len(opsB))
		require.Greater(t, n, 10)
		require.Equal(t, opsA[:n], opsB[:n], "slot %d issues the same operations", slot)
	}
	c, _ := trace(22)
	require.NotEqual(t, a[0][:10], c[0][:10], "another seed, other operations")
}

func TestRunDoesNotApplyLateFaultsAfterTheWorkload(t *testing.T) {
	c := newStubCluster()
	c.slowFaults = 1500 * time.Millisecond
	// Steps at 200, 300, 400, 500 ... ms; the first takes 1.5 s, so all
	// the others are late when the 1 s workload ends.
	sc := stubScenario(t, "nemesis: {faults: [kill], schedule: {interval: 200ms, duration: 100ms}}\n")
	res, err := Run(context.Background(), sc, Options{Backend: &stubBackend{cluster: c}, RunsDir: t.TempDir(), Log: quiet})
	require.NoError(t, err)
	require.Less(t, res.Phases.Workload, 2.5, "the workload phase ends with the step in progress, not the whole plan")
	events, _, err := history.ReadFile(filepath.Join(res.Dir, verdict.HistoryFile))
	require.NoError(t, err)
	var faults []string
	for _, e := range events {
		if !e.IsClient() {
			faults = append(faults, e.F)
		}
	}
	// The one step applied, then HealAll's undo of it.
	require.Equal(t, []string{"start-kill", "stop-kill"}, faults)
}
