package harness_test

// Integration tests: harness.Run against real dqlite nodes in containers
// (the docker backend and the node image from `make image`). They fail
// when CI=true and Docker or the image is missing, and skip otherwise.
// Run them with:
//
//	build/inroot.sh go test -tags "libsqlite3 netgo osusergo" ./harness/ -run Integration

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/stretchr/testify/require"
	"github.com/testcontainers/testcontainers-go"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/harness"
	"github.com/dqtest/dqtest/harness/docker"
	"github.com/dqtest/dqtest/history"
	"github.com/dqtest/dqtest/scenario"
	"github.com/dqtest/dqtest/verdict"
)

// requireDocker skips (or, in CI, fails) a test that needs Docker and the
// node image.
func requireDocker(t *testing.T) *testcontainers.DockerClient {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test (-short)")
	}
	unavailable := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf(format, args...)
		}
		t.Skipf(format, args...)
	}
	os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		unavailable("Docker is not reachable: %v", err)
	}
	if _, err := cli.Ping(ctx, client.PingOptions{}); err != nil {
		unavailable("Docker is not reachable: %v", err)
	}
	if _, err := cli.ImageInspect(ctx, docker.DefaultImage); err != nil {
		unavailable("node image %s missing (run `make image`): %v", docker.DefaultImage, err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// leftovers lists the containers and networks still labelled with runID.
func leftovers(t *testing.T, cli *testcontainers.DockerClient, runID string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// "dqtest.run" is the docker backend's run label.
	f := client.Filters{}.Add("label", "dqtest.run="+runID)
	var left []string
	cs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	require.NoError(t, err)
	for _, c := range cs.Items {
		left = append(left, "container "+strings.Join(c.Names, ","))
	}
	ns, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	require.NoError(t, err)
	for _, n := range ns.Items {
		left = append(left, "network "+n.Name)
	}
	return left
}

func runScenario(t *testing.T, src string) (*verdict.Result, []history.Event) {
	t.Helper()
	sc, err := scenario.Parse(t.Name()+".yaml", []byte(src))
	require.NoError(t, err)
	sc.Name = strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(t.Name(), "Test")), "/", "-")
	if len(sc.Name) > 24 {
		sc.Name = sc.Name[:24]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := harness.Run(ctx, sc, harness.Options{
		Backend: &docker.Backend{},
		RunsDir: t.TempDir(),
		Log:     slog.Default(),
	})
	require.NoError(t, err)
	for _, f := range []string{verdict.ScenarioFile, verdict.HistoryFile, verdict.ResultsFile} {
		require.FileExists(t, filepath.Join(res.Dir, f))
	}
	for _, n := range scenario.NodeNames(sc.Nodes) {
		require.FileExists(t, filepath.Join(res.Dir, verdict.NodesDir, n+".log"))
	}
	events, torn, err := history.ReadFile(filepath.Join(res.Dir, verdict.HistoryFile))
	require.NoError(t, err)
	require.Zero(t, torn)
	return res, events
}

func TestIntegrationShortRunUnderKillsIsValid(t *testing.T) {
	cli := requireDocker(t)
	res, events := runScenario(t, `
nodes: 3
workload: {name: register}
concurrency: 6
rate: 50
time_limit: 10s
seed: 11
nemesis:
  faults: [kill]
  schedule: {kind: fixed, interval: 3s, duration: 2s}
`)
	t.Logf("phases %+v ops %+v reasons %v", res.Phases, res.Ops, res.Reasons)
	require.Equal(t, checker.Valid, res.Verdict, "reasons: %v", res.Reasons)
	require.Equal(t, checker.Valid, res.Outcome)
	require.Equal(t, "docker", res.Backend)
	require.Empty(t, res.Crashes)
	require.Greater(t, res.Ops.OK, 100, "the cluster served operations")
	require.True(t, res.Recovery.Recovered, "the cluster recovered after healing: %+v", res.Recovery)

	var faults []string
	for _, e := range events {
		if !e.IsClient() {
			faults = append(faults, e.F+" "+strings.Join(e.Nodes, ","))
			require.Empty(t, e.Error, "fault %s failed", e.F)
		}
	}
	require.GreaterOrEqual(t, len(faults), 4, "the nemesis killed and restarted nodes: %v", faults)
	require.True(t, slices.ContainsFunc(faults, func(f string) bool { return strings.HasPrefix(f, "start-kill n") }), "%v", faults)
	require.Empty(t, leftovers(t, cli, res.RunID), "every container and network is removed")
}

func TestIntegrationStaleReadsFromASelfTestNodeAreInvalid(t *testing.T) {
	cli := requireDocker(t)
	// n2 answers reads from a stale copy (a documented self-test flag of
	// `dqtest node`, off by default). Clients bound to n2 read through it.
	res, _ := runScenario(t, `
nodes: 3
node_args:
  n2: [--self-test-stale-reads=3s]
workload:
  name: register
  mix: {read: 2, write: 1, cas: 1}
concurrency: 6
rate: 60
time_limit: 10s
seed: 5
`)
	t.Logf("reasons %v", res.Reasons)
	require.Equal(t, checker.Invalid, res.Verdict)
	require.Equal(t, checker.Invalid, res.Outcome, "nothing was expected, so the anomaly fails the run")
	var anomalies []checker.Anomaly
	for _, r := range res.Checkers {
		anomalies = append(anomalies, r.Anomalies...)
	}
	require.NotEmpty(t, anomalies)
	namesN2Read := false
	for _, a := range anomalies {
		require.Equal(t, "nonlinearizable", a.Kind)
		for _, op := range a.Ops {
			if op.Node == "n2" && op.F == "read" {
				namesN2Read = true
			}
		}
	}
	require.True(t, namesN2Read, "an anomaly names a read served by n2: %+v", anomalies)
	require.Empty(t, leftovers(t, cli, res.RunID))
}

func TestIntegrationCancelledRunRemovesTheClusterAndKeepsTheHistory(t *testing.T) {
	cli := requireDocker(t)
	sc, err := scenario.Parse("cancel.yaml", []byte("nodes: 3\ntime_limit: 60s\nseed: 3\n"))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	// Cancel a few seconds into the workload, as Ctrl-C would.
	go func() {
		time.Sleep(25 * time.Second)
		cancel()
	}()
	res, err := harness.Run(ctx, sc, harness.Options{Backend: &docker.Backend{}, RunsDir: t.TempDir()})
	require.Error(t, err)
	require.ErrorIs(t, err, context.Canceled)
	require.NotNil(t, res)
	require.Equal(t, checker.Unknown, res.Outcome)
	events, _, rerr := history.ReadFile(filepath.Join(res.Dir, verdict.HistoryFile))
	require.NoError(t, rerr)
	require.NotEmpty(t, events, "the history of the interrupted run stays on disk")
	require.FileExists(t, filepath.Join(res.Dir, verdict.ResultsFile))
	require.Empty(t, leftovers(t, cli, res.RunID))
}
