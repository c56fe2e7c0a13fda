package verdict

// The streaming verdict path must give the same verdicts, byte for byte, as
// the in-memory one it replaced. The golden files under testdata/golden were
// recorded with the in-memory implementation (commit 5b42c6e, before the
// check streamed) by `go test -run TestGolden -update-golden ./verdict/`,
// and every run compares against them: the report `dqtest check` prints
// (JSON and text), results.json as a run writes it, and the checker's
// artifacts (porcupine's visualization, by SHA-256). Re-record only for an
// intended change of output, and say so in the commit.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/detect"
	"github.com/dqtest/dqtest/history"
	"github.com/dqtest/dqtest/scenario"
)

var updateGolden = flag.Bool("update-golden", false, "record testdata/golden from the current implementation")

// goldenCase is one `dqtest check` of a path.
type goldenCase struct {
	name string
	req  Request
}

func TestGoldenCheckOutputs(t *testing.T) {
	if testing.Short() {
		t.Skip("converts and checks porcupine's 103 etcd histories")
	}
	tmp := t.TempDir()
	var cases []goldenCase
	add := func(name string, req Request) { cases = append(cases, goldenCase{name, req}) }

	files, err := filepath.Glob("../checker/testdata/*.jsonl")
	require.NoError(t, err)
	more, err := filepath.Glob("../checker/testdata/append/*.jsonl")
	require.NoError(t, err)
	files = append(files, more...)
	more, err = filepath.Glob("../checker/testdata/append/elle/*.jsonl")
	require.NoError(t, err)
	files = append(files, more...)
	require.Greater(t, len(files), 50)
	for _, f := range files {
		name := strings.ReplaceAll(strings.TrimPrefix(f, "../checker/testdata/"), "/", "_")
		add(name, Request{Path: f, TimeBudget: time.Minute})
		if strings.Contains(f, "/append/") {
			add(name+"-serializable", Request{Path: f, Workload: "append", Consistency: checker.Serializable, TimeBudget: time.Minute})
		}
	}
	add("docker-stale-reads", Request{Path: "../report/testdata/docker-stale-reads"})

	for _, h := range porcupineHistories(t, tmp) {
		add("porcupine_"+strings.TrimSuffix(filepath.Base(h), ".jsonl"), Request{Path: h, Workload: "register", TimeBudget: time.Minute})
	}
	for name, content := range syntheticHistories() {
		path := filepath.Join(tmp, name+".jsonl")
		require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
		add("synthetic_"+name, Request{Path: path, TimeBudget: time.Minute})
	}
	multi := filepath.Join(tmp, "multikey.jsonl")
	writeHistory(t, multi, multiKeyRegister(7)...)
	add("synthetic_multikey", Request{Path: multi, TimeBudget: time.Minute})
	add("synthetic_multikey-as-set", Request{Path: multi, Workload: "set", TimeBudget: time.Minute})
	add("synthetic_multikey-as-queue", Request{Path: multi, Workload: "queue", TimeBudget: time.Minute})

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := goldenOfCheck(t, c.req, tmp)
			compareGolden(t, c.name, got)
		})
	}
}

// TestGoldenComputeOutputs covers what `dqtest check` of a bare history
// does not: a live run's observations (crashes with their in-flight
// evidence, hangs, dead exits), a scenario's plan (faults that never took
// effect) and its workload span, through Compute with the events given as
// a slice and as the file they were written to.
func TestGoldenComputeOutputs(t *testing.T) {
	dir := t.TempDir()
	events := multiKeyRegister(11)
	writeHistory(t, filepath.Join(dir, HistoryFile), events...)
	sc, err := scenario.Load("../scenarios/default.yaml")
	require.NoError(t, err)
	sc.Seed = 42
	rs, err := sc.Resolve()
	require.NoError(t, err)
	crashLog, err := os.ReadFile("../detect/testdata/crash/assertion.log")
	require.NoError(t, err)
	start, err := time.Parse(time.RFC3339Nano, "2026-11-24T15:42:58.000Z")
	require.NoError(t, err)
	last := events[len(events)-1].Time
	obs := Observations{
		Nodes: []detect.NodeReport{
			{Node: "n1", Exit: detect.NodeExit{ExitCode: 134, Signal: "SIGABRT"}, Log: crashLog},
			{Node: "n2", Exit: detect.NodeExit{ExitCode: 137, Signal: "SIGKILL"}},
			{Node: "n3", Exit: detect.NodeExit{Running: true}},
		},
		DeadExits:     map[string]detect.NodeExit{"n1": {ExitCode: 134, Signal: "SIGABRT", Restarts: 1}},
		Hangs:         []detect.Crash{{Node: "n3", Kind: "hang", Signature: "stop did not return", LogTime: "2026-11-24T15:42:58.500Z"}},
		HistoryStart:  start,
		StepTimeout:   2 * time.Second,
		WorkloadStart: last / 10,
		WorkloadEnd:   last - last/10,
		Recovery:      &Recovery{Recovered: false, Seconds: 30, Error: "no leader", Node: "n1", Answer: "503"},
	}
	cases := map[string]Input{
		"compute_live":       {Scenario: rs, Events: events, Obs: obs, Dir: "runs/x"},
		"compute_bare":       {Checker: checker.NewRegister(checker.RegisterOptions{}), Events: events},
		"compute_torn":       {Scenario: rs, Events: events, TornLine: len(events) + 1, Obs: obs},
		"compute_read_error": {Scenario: rs, ReadErr: fmt.Errorf("history.jsonl: line 3: bad"), Obs: obs, Dir: "runs/x"},
		"compute_nothing":    {Scenario: rs, Obs: obs},
	}
	names := make([]string, 0, len(cases))
	for n := range cases {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			out := Compute(context.Background(), cases[name])
			compareGolden(t, name, goldenOfOutput(t, out))
		})
	}
	// The same verdicts with the history streamed from its file.
	for _, name := range []string{"compute_live", "compute_bare"} {
		t.Run(name+"_from_file", func(t *testing.T) {
			in := cases[name]
			in.Events, in.Source = nil, history.FileSource(filepath.Join(dir, HistoryFile))
			out := Compute(context.Background(), in)
			require.Equal(t, len(events), out.Events)
			compareGolden(t, name, goldenOfOutput(t, out))
		})
	}
}

func goldenOfCheck(t *testing.T, req Request, tmp string) string {
	t.Helper()
	rep, err := Check(context.Background(), req)
	var b strings.Builder
	if err != nil {
		fmt.Fprintf(&b, "error: %s\n", strings.ReplaceAll(err.Error(), tmp, "$TMP"))
		return b.String()
	}
	maskDurations(rep.Checkers)
	var js bytes.Buffer
	require.NoError(t, rep.WriteJSON(&js))
	b.WriteString("report.json:\n" + strings.ReplaceAll(js.String(), tmp, "$TMP"))
	var text bytes.Buffer
	require.NoError(t, rep.WriteText(&text))
	b.WriteString("text:\n" + strings.ReplaceAll(text.String(), tmp, "$TMP"))
	b.WriteString(goldenOfOutput(t, rep.output))
	return b.String()
}

func goldenOfOutput(t *testing.T, out Output) string {
	t.Helper()
	maskDurations(out.Checkers)
	var res Result
	out.Apply(&res)
	js, err := json.MarshalIndent(res, "", "  ")
	require.NoError(t, err)
	var b strings.Builder
	b.WriteString("results.json:\n" + string(js) + "\n")
	names := make([]string, 0, len(out.Artifacts))
	for n := range out.Artifacts {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "artifact %s: %d bytes, sha256 %x\n", n, len(out.Artifacts[n]), sha256.Sum256(out.Artifacts[n]))
	}
	return b.String()
}

// maskDurations zeroes the checkers' own timings, the one thing that
// differs between two checks of a history.
func maskDurations(rs []checker.Result) {
	for _, r := range rs {
		for k := range r.Stats {
			if strings.HasSuffix(k, "_ms") {
				r.Stats[k] = 0
			}
		}
	}
}

func compareGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name+".golden")
	if *updateGolden {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "no golden output recorded for %s", name)
	require.Equal(t, string(want), got, "%s differs from the output recorded with the in-memory implementation", name)
}

// porcupineHistories converts porcupine's etcd register logs (its
// test_data/jepsen, from the module cache) with checker/testdata's
// converter, into dir.
func porcupineHistories(t *testing.T, dir string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/anishathalye/porcupine").Output()
	require.NoError(t, err)
	logs, err := filepath.Glob(filepath.Join(strings.TrimSpace(string(out)), "test_data", "jepsen", "etcd_*.log"))
	require.NoError(t, err)
	require.Len(t, logs, 103, "porcupine's etcd histories")
	conv := filepath.Join(dir, "convert_jepsen")
	build := exec.Command("go", "build", "-o", conv, "../checker/testdata/convert_jepsen.go")
	build.Stderr = os.Stderr
	require.NoError(t, build.Run())
	var paths []string
	for _, l := range logs {
		p := filepath.Join(dir, strings.TrimSuffix(filepath.Base(l), ".log")+".jsonl")
		data, err := exec.Command(conv, l).Output()
		require.NoError(t, err, l)
		require.NoError(t, os.WriteFile(p, data, 0o644))
		paths = append(paths, p)
	}
	return paths
}

// syntheticHistories are small histories for the paths real ones rarely
// take: malformed lines, broken rules, a torn line, values of the wrong
// shape, f values no workload knows.
func syntheticHistories() map[string]string {
	l := func(i, t int, p any, typ, f, key, v string) string {
		pj, _ := json.Marshal(p)
		s := fmt.Sprintf(`{"index":%d,"time":%d,"process":%s,"type":"%s","f":"%s"`, i, t, pj, typ, f)
		if key != "" {
			s += fmt.Sprintf(`,"key":"%s"`, key)
		}
		return s + `,"value":` + v + "}\n"
	}
	w := l(0, 1, 0, "invoke", "write", "k", "1") + l(1, 2, 0, "ok", "write", "k", "1")
	return map[string]string{
		"malformed":           w + `{"index":2,"time":3,"process":0,"type":"ok"}` + "\n",
		"malformed-after-bad": l(0, 1, 0, "invoke", "write", "k", "1") + l(1, 2, 3, "ok", "write", "k", "1") + `{"index":2,"time":3,"process":0,"type":"ok"}` + "\n",
		"unpaired":            w + l(2, 3, 3, "ok", "write", "k", "1"),
		"time-backwards":      w + l(2, 1, 1, "invoke", "read", "k", "null") + l(3, 4, 1, "ok", "read", "k", "1"),
		"torn":                w + `{"index":2,"time":3,"pro`,
		"no-workload":         l(0, 1, "nemesis", "info", "start-kill", "", "null"),
		"mixed":               w + l(2, 3, 1, "invoke", "add", "", "1") + l(3, 4, 1, "ok", "add", "", "1"),
		"bad-values": w + l(2, 3, 1, "invoke", "write", "j", `"x"`) + l(3, 4, 1, "ok", "write", "j", `"x"`) +
			l(4, 5, 2, "invoke", "cas", "k", "[1]") + l(5, 6, 2, "info", "cas", "k", "[1]") +
			l(6, 7, 3, "invoke", "read", "k", "null") + l(7, 8, 3, "ok", "read", "k", "1"),
		"unknown-f": w + l(2, 3, 1, "invoke", "frob", "k", "null") + l(3, 4, 1, "ok", "frob", "k", "null"),
		"only-fails": l(0, 1, 0, "invoke", "write", "k", "1") + l(1, 2, 0, "fail", "write", "k", "1") +
			l(2, 3, 1, "invoke", "read", "k", "null") + l(3, 4, 1, "info", "read", "k", "null"),
		"empty": "",
	}
}

// multiKeyRegister is a register history over 15 keys with faults, info
// and fail outcomes, operations never completed, and stale reads on 12 of
// the keys (more than the checker explains).
func multiKeyRegister(seed int64) []history.Event {
	rng := rand.New(rand.NewSource(seed))
	var out []history.Event
	var now int64
	emit := func(p history.Process, typ history.Type, f, key string, v any, node string) {
		now += 1 + rng.Int63n(1000)
		out = append(out, history.Event{Index: int64(len(out)), Time: now, Process: p, Type: typ, F: f, Key: key, Value: v, Node: node})
	}
	nemesis := func(f string, nodes ...string) {
		now += 1 + rng.Int63n(1000)
		out = append(out, history.Event{Index: int64(len(out)), Time: now, Process: history.Nemesis, Type: history.Info, F: f, Nodes: nodes})
	}
	nodes := []string{"n1", "n2", "n3"}
	proc := history.Process(0)
	for round := range 40 {
		switch round {
		case 5:
			nemesis("start-partition", "n1", "n2")
		case 12:
			nemesis("stop-partition", "n1", "n2")
		case 20:
			nemesis("start-kill", "n2")
		case 25:
			nemesis("stop-kill", "n2")
		case 30:
			nemesis("start-pause", "n3")
		}
		for k := range 15 {
			key := fmt.Sprintf("k%d", k)
			node := nodes[rng.Intn(3)]
			v := int64(round*100 + k)
			emit(proc, history.Invoke, "write", key, v, node)
			switch rng.Intn(10) {
			case 0:
				emit(proc, history.Info, "write", key, v, node)
				proc++
			case 1:
				emit(proc, history.Fail, "write", key, v, node)
			default:
				emit(proc, history.OK, "write", key, v, node)
			}
			emit(proc+100, history.Invoke, "cas", key, []any{v, v + 1}, node)
			emit(proc+100, history.OK, "cas", key, []any{v, v + 1}, node)
			read := v + 1
			if round == 33 && k < 12 {
				read = v - 99 // an old value: stale
			}
			emit(proc+200, history.Invoke, "read", key, nil, node)
			emit(proc+200, history.OK, "read", key, read, node)
		}
	}
	emit(proc, history.Invoke, "write", "k0", int64(9999), "n1")
	emit(proc+300, history.Invoke, "read", "k1", nil, "n2")
	return out
}
