package verdict

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/history"
)

// writeHistory writes events with the real Writer, as a run would.
func writeHistory(t *testing.T, path string, events ...history.Event) {
	t.Helper()
	w, err := history.Create(path)
	require.NoError(t, err)
	for _, e := range events {
		_, err := w.Write(e)
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())
}

func op(p history.Process, typ history.Type, t int64, f, key string, v any) history.Event {
	return history.Event{Time: t, Process: p, Type: typ, F: f, Key: key, Value: v, Node: "n1"}
}

// staleRead is a register history with one stale read on key k.
func staleRead() []history.Event {
	return []history.Event{
		op(0, history.Invoke, 1, "write", "k", 1), op(0, history.OK, 2, "write", "k", 1),
		op(0, history.Invoke, 3, "write", "k", 2), op(0, history.OK, 4, "write", "k", 2),
		op(1, history.Invoke, 5, "read", "k", nil), op(1, history.OK, 6, "read", "k", 1),
	}
}

func TestCheckAHistoryFileInfersTheWorkload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.jsonl")
	writeHistory(t, path, op(0, history.Invoke, 1, "write", "k", 1), op(0, history.OK, 2, "write", "k", 1))
	rep, err := Check(context.Background(), Request{Path: path})
	require.NoError(t, err)
	require.Equal(t, checker.Valid, rep.Result.Verdict)
	require.Equal(t, "register", rep.Workload)
	require.Equal(t, "inferred from the operations", rep.WorkloadFrom)
	require.Equal(t, TimeBudget, rep.TimeBudget)
	require.Equal(t, 2, rep.Events)
}

func TestCheckFindsAnAnomalyAndWritesTheVisualization(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "h.jsonl")
	writeHistory(t, path, staleRead()...)
	rep, err := Check(context.Background(), Request{Path: path, Workload: "register", TimeBudget: time.Minute})
	require.NoError(t, err)
	require.Equal(t, checker.Invalid, rep.Result.Verdict)
	require.Equal(t, "--workload", rep.WorkloadFrom)

	var text bytes.Buffer
	require.NoError(t, rep.WriteText(&text))
	require.Contains(t, text.String(), "INVALID: "+path)
	require.Contains(t, text.String(), "not written: linearizability.html")

	out := filepath.Join(dir, "out")
	require.NoError(t, rep.WriteArtifacts(out))
	require.Equal(t, []string{filepath.Join(out, "linearizability.html")}, rep.Artifacts)
	require.FileExists(t, rep.Artifacts[0])
	text.Reset()
	require.NoError(t, rep.WriteText(&text))
	s := text.String()
	require.Contains(t, s, "1 anomaly:")
	require.Contains(t, s, "1. nonlinearizable (key k)")
	require.Contains(t, s, `"type":"ok","f":"read","key":"k","value":1,"node":"n1"`, "the evidence, as history lines")
	require.Contains(t, s, "wrote "+rep.Artifacts[0])

	var js bytes.Buffer
	require.NoError(t, rep.WriteJSON(&js))
	var back map[string]any
	require.NoError(t, json.Unmarshal(js.Bytes(), &back))
	require.Equal(t, "invalid", back["result"].(map[string]any)["verdict"])
	require.Equal(t, "1m0s", back["time_budget"])
}

func TestCheckARunDirectoryUsesItsScenario(t *testing.T) {
	dir := t.TempDir()
	writeHistory(t, filepath.Join(dir, "history.jsonl"),
		op(0, history.Invoke, 1, "read", "", nil), op(0, history.OK, 2, "read", "", map[string]any{"0": 10, "1": 10}),
	)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "scenario.yaml"),
		[]byte("workload:\n  name: bank\n  accounts: 2\n  total: 30\nchecker:\n  time_budget: 7s\n"), 0o644))
	rep, err := Check(context.Background(), Request{Path: dir})
	require.NoError(t, err)
	require.Equal(t, dir, rep.RunDir)
	require.Equal(t, "bank", rep.Workload)
	require.Equal(t, "scenario.yaml", rep.WorkloadFrom)
	require.Equal(t, 7*time.Second, rep.TimeBudget)
	require.Equal(t, checker.Invalid, rep.Result.Verdict, "the scenario's total is 30, the read adds up to 20")
	require.Equal(t, "wrong-total", rep.Result.Anomalies[0].Kind)
	require.NotContains(t, rep.Result.Stats, "inferred")

	require.NoError(t, os.Remove(filepath.Join(dir, "scenario.yaml")))
	rep, err = Check(context.Background(), Request{Path: dir})
	require.NoError(t, err)
	require.Equal(t, checker.Valid, rep.Result.Verdict)
	var text bytes.Buffer
	require.NoError(t, rep.WriteText(&text))
	require.Contains(t, text.String(), "note: no scenario given: 2 accounts and a total of 20, taken from the first ok read")
}

func TestCheckRefusesWhatItCannotRead(t *testing.T) {
	dir := t.TempDir()
	good := `{"index":0,"time":1,"process":0,"type":"invoke","f":"write","key":"k","value":1}`
	cases := map[string]struct {
		content string
		want    string
	}{
		"malformed line": {good + "\n" + `{"index":1,"time":2,"process":0,"type":"ok"}` + "\n", `line 2: missing field "f"`},
		"not well formed": {good + "\n" + `{"index":1,"time":2,"process":3,"type":"ok","f":"write","key":"k","value":1}` + "\n",
			"line 2: index 1: ok write of process 3 matches no open invoke"},
		"no workload": {`{"index":0,"time":1,"process":"nemesis","type":"info","f":"start-kill"}` + "\n", "cannot tell the workload"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".jsonl")
			require.NoError(t, os.WriteFile(path, []byte(c.content), 0o644))
			_, err := Check(context.Background(), Request{Path: path})
			require.ErrorContains(t, err, c.want)
		})
	}
	_, err := Check(context.Background(), Request{Path: filepath.Join(dir, "missing")})
	require.ErrorIs(t, err, os.ErrNotExist)
	_, err = Check(context.Background(), Request{Path: dir})
	require.ErrorIs(t, err, os.ErrNotExist, "a directory without history.jsonl")
	path := filepath.Join(dir, "ok.jsonl")
	require.NoError(t, os.WriteFile(path, []byte(good+"\n"), 0o644))
	_, err = Check(context.Background(), Request{Path: path, Workload: "queue"})
	require.ErrorContains(t, err, `no checker for workload "queue"`)
}

func TestCheckToleratesATornLastLineAndSaysSo(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.jsonl")
	writeHistory(t, path, op(0, history.Invoke, 1, "write", "k", 1), op(0, history.OK, 2, "write", "k", 1))
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"index":2,"time":3,"pro`)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	rep, err := Check(context.Background(), Request{Path: path})
	require.NoError(t, err)
	require.Equal(t, 3, rep.TornLine)
	require.Equal(t, checker.Valid, rep.Result.Verdict)
	var text bytes.Buffer
	require.NoError(t, rep.WriteText(&text))
	require.Contains(t, text.String(), "note: line 3 was torn")
}

func TestCheckIsUnknownWhenTheTimeBudgetIsSpent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.jsonl")
	writeHistory(t, path, staleRead()...)
	rep, err := Check(context.Background(), Request{Path: path, TimeBudget: time.Nanosecond})
	require.NoError(t, err)
	require.Equal(t, checker.Unknown, rep.Result.Verdict)
	require.Contains(t, rep.Result.Reason, "deadline passed")
}
