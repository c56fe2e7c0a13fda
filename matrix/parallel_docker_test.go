package matrix

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/harness"
	"github.com/dqtest/dqtest/harness/docker"
	"github.com/dqtest/dqtest/nemesis"
	"github.com/dqtest/dqtest/scenario"
	"github.com/dqtest/dqtest/verdict"
)

// shortDockerSpec is two short cells with no faults: bank and set under
// "none", 10 s each, light load (other suites share the machine's Docker).
func shortDockerSpec() Spec {
	base := scenario.Default()
	base.Rate, base.Concurrency = 40, 3
	base.Nemesis = nemesis.Spec{}
	return Spec{Name: "short", Workloads: []string{"bank", "set"}, Nemeses: []string{"none"}, Base: &base,
		TimeLimit: 10 * time.Second, Seed: 5, Backend: "docker"}
}

// syncBuffer is a bytes.Buffer for several goroutines' log lines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// readyLines are the docker backend's "cluster ready" log lines: run id
// and subnet of every cluster that came up.
func readyLines(t *testing.T, log string) map[string]string {
	t.Helper()
	subnets := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(log))
	for sc.Scan() {
		var l struct {
			Msg, Run, Subnet string
		}
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "cluster ready" {
			subnets[l.Run] = l.Subnet
		}
	}
	return subnets
}

func runIDOf(t *testing.T, dir string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, verdict.ResultsFile))
	require.NoError(t, err)
	var r struct {
		RunID string `json:"run_id"`
	}
	require.NoError(t, json.Unmarshal(data, &r))
	require.NotEmpty(t, r.RunID)
	return r.RunID
}

// --parallel 2 on one engine: two cells at once, each on its own cluster,
// network and /24, both reaching their verdicts, nothing left behind.
func TestParallelTwoCellsOnDockerOverlapWithoutColliding(t *testing.T) {
	requireDocker(t)
	var log syncBuffer
	logger := slog.New(slog.NewJSONHandler(&log, nil))
	spec := shortDockerSpec()
	spec.Parallel = 2
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	began := time.Now()
	res, err := Run(ctx, spec, dir, harness.Options{Backend: &docker.Backend{Log: logger}, Log: logger}, nil)
	require.NoError(t, err)
	wall := time.Since(began)
	var sum float64
	var runs []string
	for _, c := range res.Cells {
		t.Logf("%s: %s in %.1fs (start-up %.1fs, teardown %.1fs)", c.Key(), c.Status, c.Wall, c.Run.Phases.Startup, c.Run.Phases.Teardown)
		require.Equal(t, Passed, c.Status, "%s: %s %v", c.Key(), c.Run.Error, c.Run.Reasons)
		sum += c.Wall
		runs = append(runs, runIDOf(t, filepath.Join(dir, c.Path)))
	}
	t.Logf("P=2: %s for two cells of %.1fs and %.1fs (%.1fs one after another)", wall.Round(100*time.Millisecond),
		res.Cells[0].Wall, res.Cells[1].Wall, sum)
	require.Less(t, wall.Seconds(), sum-5, "the two cells overlapped")
	require.Equal(t, checker.Valid, res.Outcome)

	subnets := readyLines(t, log.String())
	require.NotEqual(t, runs[0], runs[1])
	require.Contains(t, subnets, runs[0])
	require.Contains(t, subnets, runs[1])
	a, b := netip.MustParsePrefix(subnets[runs[0]]), netip.MustParsePrefix(subnets[runs[1]])
	require.False(t, a.Overlaps(b), "the two clusters' networks do not overlap: %s, %s", a, b)
	for _, run := range runs {
		left, err := docker.Leftovers(context.Background(), run)
		require.NoError(t, err)
		require.Empty(t, left, "run %s left nothing behind", run)
	}
}

// Ctrl-C on a parallel matrix on Docker: both running cells are
// cancelled, each tears its cluster down before Run returns.
func TestParallelInterruptOnDockerTearsEveryClusterDown(t *testing.T) {
	requireDocker(t)
	var log syncBuffer
	logger := slog.New(slog.NewJSONHandler(&log, nil))
	spec := shortDockerSpec()
	spec.TimeLimit = 60 * time.Second
	spec.Parallel = 2
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		// Cancel once both clusters are up (or after 60 s at the latest).
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) && len(readyLines(t, log.String())) < 2 {
			time.Sleep(200 * time.Millisecond)
		}
		time.Sleep(2 * time.Second)
		cancel()
	}()
	res, err := Run(ctx, spec, dir, harness.Options{Backend: &docker.Backend{Log: logger}, Log: logger}, nil)
	require.ErrorIs(t, err, context.Canceled)
	subnets := readyLines(t, log.String())
	require.Len(t, subnets, 2, "both cells were running")
	for run := range subnets {
		left, err := docker.Leftovers(context.Background(), run)
		require.NoError(t, err)
		require.Empty(t, left, "interrupted run %s left nothing behind", run)
	}
	for _, c := range res.Cells {
		require.Less(t, c.Wall, 50.0, "%s stopped early", c.Key())
	}
}

// The child side of the engine tests: TestMain runs it when the test
// binary is started as one engine's process (childEnv set).
const childEnv = "DQTEST_MATRIX_TEST_CHILD"

type childArgs struct {
	Keys   []string      `json:"keys"`
	Dir    string        `json:"dir"`
	Engine docker.Engine `json:"engine"`
}

func TestMain(m *testing.M) {
	if v := os.Getenv(childEnv); v != "" {
		os.Exit(runChild(v))
	}
	os.Exit(m.Run())
}

// runChild is what `dqtest matrix --only KEYS --engine E` does: check the
// engine testcontainers-go reaches, then run the cells on it.
func runChild(arg string) int {
	var a childArgs
	if err := json.Unmarshal([]byte(arg), &a); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	ctx := context.Background()
	if err := docker.CheckReached(ctx, a.Engine); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	spec := shortDockerSpec()
	spec.Only = a.Keys
	res, err := Run(ctx, spec, a.Dir, harness.Options{Backend: &docker.Backend{Engine: &a.Engine}}, nil)
	if err == nil {
		err = WriteFiles(res, "")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	return 0
}

// testLaunch starts this test binary as each engine's process, with the
// engine's DOCKER_HOST, as the CLI starts dqtest.
func testLaunch(t *testing.T, engines []docker.Engine, dockerHost []string) Launch {
	exe, err := os.Executable()
	require.NoError(t, err)
	return ProcessLaunch(func(i int, keys []string, dir string) (*exec.Cmd, error) {
		arg, err := json.Marshal(childArgs{Keys: keys, Dir: dir, Engine: engines[i]})
		if err != nil {
			return nil, err
		}
		c := exec.Command(exe)
		c.Env = append(os.Environ(), childEnv+"="+string(arg), "DOCKER_HOST="+dockerHost[i])
		c.Stdout, c.Stderr = &testWriter{t: t, prefix: fmt.Sprintf("[engine %d] ", i+1)}, &testWriter{t: t, prefix: fmt.Sprintf("[engine %d] ", i+1)}
		return c, nil
	}, time.Minute)
}

type testWriter struct {
	t      *testing.T
	prefix string
}

func (w *testWriter) Write(p []byte) (int, error) {
	for _, l := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		if strings.Contains(l, "ERROR") || strings.Contains(l, "engine") || strings.Contains(l, "refusing") || !strings.Contains(l, "level=") {
			w.t.Log(w.prefix + l)
		}
	}
	return len(p), nil
}

// secondEngine starts a second dockerd on this machine (its own socket,
// data root, exec root, pid file, a default bridge of its own, no iptables or
// masquerading of its own: it must not touch the first daemon's rules),
// loads the node images into it, and stops it and removes its files at the
// end. The first daemon's FORWARD policy drops bridged traffic it has no
// rule for, so one rule lets same-bridge traffic inside dqtest's own range
// through (removed at the end). It returns the engine's URL, or "" and what
// failed when this environment cannot run a second daemon (inside the
// build root of make test there is no dockerd).
func secondEngine(t *testing.T) (string, string) {
	t.Helper()
	dockerd, err := exec.LookPath("dockerd")
	if err != nil {
		return "", fmt.Sprintf("no dockerd here: %v", err)
	}
	if _, err := exec.LookPath("docker"); err != nil {
		return "", fmt.Sprintf("no docker CLI here to copy the node images: %v", err)
	}
	root, err := os.MkdirTemp("", "dqtest-engine2-")
	require.NoError(t, err)
	sock := filepath.Join(root, "docker.sock")
	cfg := filepath.Join(root, "daemon.json")
	// The first daemon's storage driver here (fuse-overlayfs: the machine's
	// root is itself an overlay) and MTU.
	require.NoError(t, os.WriteFile(cfg, []byte(`{"storage-driver":"fuse-overlayfs","mtu":1400}`), 0o644))
	logf, err := os.Create(filepath.Join(root, "dockerd.log"))
	require.NoError(t, err)
	// Its default network on a bridge of its own: with --bridge none a
	// dockerd deletes the interface docker0 at start, which is the first
	// daemon's default bridge (seen: `docker run` on the first engine then
	// failed with "could not find bridge docker0").
	const bridge = "dqt-e2br"
	_ = exec.Command("ip", "link", "del", bridge).Run() // left by a test killed hard
	for _, args := range [][]string{
		{"link", "add", bridge, "type", "bridge"}, {"addr", "add", "10.251.254.1/24", "dev", bridge}, {"link", "set", bridge, "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			_ = exec.Command("ip", "link", "del", bridge).Run()
			return "", fmt.Sprintf("making the second engine's bridge: ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	cmd := exec.Command(dockerd, "--config-file", cfg, "--host", "unix://"+sock,
		"--data-root", filepath.Join(root, "data"), "--exec-root", filepath.Join(root, "exec"),
		"--pidfile", filepath.Join(root, "docker.pid"), "--bridge", bridge, "--iptables=false", "--ip-masq=false")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		_ = exec.Command("ip", "link", "del", bridge).Run()
		return "", fmt.Sprintf("starting dockerd: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	rule := []string{"DOCKER-USER", "-m", "physdev", "--physdev-is-bridged", "-s", "172.29.0.0/16", "-d", "172.29.0.0/16", "-j", "ACCEPT"}
	t.Cleanup(func() {
		_ = exec.Command("iptables", append([]string{"-D"}, rule...)...).Run()
		// Its networks' Linux bridges outlive the daemon (dockerd leaves
		// them on shutdown): left, each held a 172.x/16 of this machine
		// until later runs found no free subnet. Remove the networks while
		// it runs, and any bridge of theirs still there after it stopped.
		var bridges []string
		if out, err := exec.Command("docker", "-H", "unix://"+sock, "network", "ls", "-q", "--no-trunc",
			"--filter", "type=custom").Output(); err == nil {
			for _, id := range strings.Fields(string(out)) {
				bridges = append(bridges, "br-"+id[:min(12, len(id))])
				_ = exec.Command("docker", "-H", "unix://"+sock, "network", "rm", id).Run()
			}
		}
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		for _, b := range append(bridges, bridge) {
			if exec.Command("ip", "link", "show", b).Run() == nil {
				_ = exec.Command("ip", "link", "del", b).Run()
			}
		}
		_ = exec.Command("umount", "-R", filepath.Join(root, "exec")).Run()
		if err := os.RemoveAll(root); err != nil {
			t.Logf("removing the second engine's files: %v", err)
		}
	})
	host := "unix://" + sock
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := docker.EngineAt(ctx, host)
		cancel()
		if err == nil {
			break
		}
		select {
		case werr := <-exited:
			log, _ := os.ReadFile(logf.Name())
			return "", fmt.Sprintf("the second dockerd exited: %v: %s", werr, lastLines(string(log), 5))
		default:
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logf.Name())
			return "", fmt.Sprintf("the second dockerd did not answer in 30 s: %v: %s", err, lastLines(string(log), 5))
		}
		time.Sleep(300 * time.Millisecond)
	}
	if out, err := exec.Command("iptables", append([]string{"-I"}, rule...)...).CombinedOutput(); err != nil {
		return "", fmt.Sprintf("letting bridged traffic of the second engine through: %v: %s", err, out)
	}
	// The node images (every dqlite version's tag), from the first engine
	// (dqtest never pulls).
	began := time.Now()
	load := exec.Command("sh", "-c", `docker save $(docker images --format '{{.Repository}}:{{.Tag}}' dqtest-node | grep -v '<none>') | docker -H `+host+" load -q")
	if out, err := load.CombinedOutput(); err != nil {
		return "", fmt.Sprintf("loading the node images into the second engine: %v: %s", err, out)
	}
	t.Logf("second engine at %s up, node images loaded in %s", host, time.Since(began).Round(100*time.Millisecond))
	return host, ""
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// --docker-host with two engines: a second dockerd on this machine, the
// cells spread over both (one process per engine, each checked to reach
// its engine), one result linking both engines' run directories. Where a
// second daemon cannot run (make test runs the tests inside the build
// root, which has no dockerd), the one engine named twice, as the issue
// allows. Then the trap: an engine process whose DOCKER_HOST names a socket
// that does not exist (testcontainers-go falls back to the default socket)
// is refused, its cells missing, never run elsewhere.
func TestDockerHostSpreadsCellsOverTwoEnginesAndRefusesAWrongOne(t *testing.T) {
	requireDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	first := "unix:///var/run/docker.sock"
	second, why := secondEngine(t)
	twice := second == ""
	if twice {
		t.Logf("no second Docker engine (%s): the distribution is tested against the one engine named twice", why)
		second = first
	}
	e1, err := docker.EngineAt(ctx, first)
	require.NoError(t, err)
	e2, err := docker.EngineAt(ctx, second)
	require.NoError(t, err)
	t.Logf("engine 1: %s; engine 2: %s", e1, e2)
	if !twice {
		require.Equal(t, e1.ID, e2.ID, "dockerd 20.10 keeps its ID in /etc/docker/key.json: two daemons here share it")
		require.NotEqual(t, e1.Identity(), e2.Identity(), "the data root tells them apart")
	}

	engines := []docker.Engine{e1, e2}
	dir := t.TempDir()
	res, err := RunSpread(ctx, shortDockerSpec(), dir, 2, testLaunch(t, engines, []string{first, second}))
	require.NoError(t, err)
	require.Len(t, res.Cells, 2)
	for i, c := range res.Cells {
		t.Logf("%s: %s in %.1fs, %s", c.Key(), c.Status, c.Wall, c.Path)
		require.Equal(t, Passed, c.Status, "%s: %s", c.Key(), c.Run.Error)
		require.True(t, strings.HasPrefix(c.Path, EngineDir(i)+"/"), "%s ran on engine %d", c.Key(), i+1)
		require.FileExists(t, filepath.Join(dir, c.Path, verdict.ResultsFile))
	}
	require.NoError(t, WriteFiles(res, ""))
	page, err := os.ReadFile(filepath.Join(dir, SummaryFile))
	require.NoError(t, err)
	require.Contains(t, string(page), `href="engine-2/set-none/report.html"`)
	back, err := ReadResult(dir)
	require.NoError(t, err)
	require.Len(t, back.Plan.Cells, 2)

	// Engine 2's process told DOCKER_HOST=a socket that does not exist:
	// testcontainers-go reaches the default socket instead, the identity
	// check sees engine 1, and the part is refused. (With one engine, engine
	// 2 stands for another engine: the same ID and name, another data root.)
	if twice {
		engines[1].RootDir = "/var/lib/another-docker"
	}
	bad := []string{first, "unix:///nonexistent.sock"}
	dir2 := t.TempDir()
	res, err = RunSpread(ctx, shortDockerSpec(), dir2, 2, testLaunch(t, engines, bad))
	require.Error(t, err)
	require.ErrorContains(t, err, "engine 2")
	require.Equal(t, []string{"set/none"}, MissingCells(res), "engine 2's cell is missing, not run elsewhere")
	require.Equal(t, checker.Unknown, res.Outcome)
	require.Equal(t, Passed, res.Cells[0].Status)

	// And the parent refuses a missing socket or an ssh:// engine before
	// anything runs (a tcp:// engine on another host is accepted and
	// reached through published ports: harness/docker's remote test).
	_, err = docker.EngineAt(ctx, "unix:///nonexistent.sock")
	require.ErrorContains(t, err, "would silently use the default socket instead")
	_, err = docker.EngineAt(ctx, "ssh://user@192.0.2.1")
	require.ErrorContains(t, err, "ssh:// is not supported")
	wrong := docker.CheckReached(ctx, engines[1])
	require.True(t, errors.Is(wrong, docker.ErrWrongEngine), "this process reaches engine 1, not 2: %v", wrong)
}
