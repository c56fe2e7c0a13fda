package harness

// Unit tests of the run loop's bookkeeping (process numbers, the recorder,
// the expect logic, throughput accounting) with in-memory stubs. They make
// no claim about a real cluster: the integration tests in
// integration_test.go do that against real containers.

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/history"
	"github.com/dqtest/dqtest/verdict"
	"github.com/dqtest/dqtest/workloads"
)

// scriptedWorkload answers its operations from a script of completion
// types, in order, and generates numbered writes.
type scriptedWorkload struct {
	script []history.Type
	calls  int
}

type countingGen struct{ n int }

func (g *countingGen) Next() (workloads.Op, bool) {
	g.n++
	return workloads.Op{F: "write", Key: "k0", Value: g.n}, true
}

func (w *scriptedWorkload) Name() string                                       { return "scripted" }
func (w *scriptedWorkload) Setup(context.Context, workloads.Client) error      { return nil }
func (w *scriptedWorkload) Generator(seed int64, slot int) workloads.Generator { return &countingGen{} }
func (w *scriptedWorkload) FinalOps() []workloads.Op                           { return nil }
func (w *scriptedWorkload) Checker() checker.Checker                           { return nil }
func (w *scriptedWorkload) Invoke(ctx context.Context, c workloads.Client, op workloads.Op) workloads.Completion {
	t := history.OK
	if w.calls < len(w.script) {
		t = w.script[w.calls]
	}
	w.calls++
	return workloads.Completion{Type: t, Value: op.Value}
}

func newTestRecorder(t *testing.T) (*recorder, *bytes.Buffer) {
	var buf bytes.Buffer
	return &recorder{w: history.NewWriter(&buf), start: time.Now()}, &buf
}

func readBack(t *testing.T, rec *recorder, buf *bytes.Buffer) []history.Event {
	t.Helper()
	require.NoError(t, rec.w.Close())
	events, torn, err := history.ReadAll(buf)
	require.NoError(t, err)
	require.Zero(t, torn)
	return events
}

func TestClientContinuesAsANewProcessAfterInfo(t *testing.T) {
	rec, buf := newTestRecorder(t)
	wl := &scriptedWorkload{script: []history.Type{history.OK, history.Info, history.Fail, history.Info, history.OK}}
	c := client{slot: 1, concurrency: 3, node: "n2", gen: wl.Generator(1, 1), wl: wl, rec: rec, opTimeout: time.Second}
	// The generator never runs dry; stop after five operations.
	ctx, cancel := context.WithCancel(context.Background())
	c.gen = &stoppingGen{Generator: c.gen, left: 5, stop: cancel}
	last := c.loop(ctx, context.Background(), time.Now(), time.Now().Add(time.Minute))

	events := readBack(t, rec, buf)
	require.NoError(t, history.Validate(events), "the history must be well formed")
	var procs []history.Process
	for _, e := range events {
		require.Equal(t, "n2", e.Node)
		if e.Type == history.Invoke {
			procs = append(procs, e.Process)
		}
	}
	// ok as 1; info as 1 -> 4; fail as 4 (a fail keeps the process); info as 4 -> 7; ok as 7.
	require.Equal(t, []history.Process{1, 1, 4, 4, 7}, procs)
	require.Equal(t, 7, last)
}

// stoppingGen cancels the client's stop context after `left` operations.
type stoppingGen struct {
	workloads.Generator
	left int
	stop func()
}

func (g *stoppingGen) Next() (workloads.Op, bool) {
	g.left--
	if g.left == 0 {
		g.stop()
	}
	return g.Generator.Next()
}

func TestClientStopsAtTheEndOfTheWorkload(t *testing.T) {
	rec, buf := newTestRecorder(t)
	wl := &scriptedWorkload{}
	c := client{slot: 0, concurrency: 1, node: "n1", gen: wl.Generator(1, 0), wl: wl, rec: rec, opTimeout: time.Second}
	c.loop(context.Background(), context.Background(), time.Now(), time.Now().Add(-time.Second))
	require.Empty(t, readBack(t, rec, buf), "no operation starts after the time limit")
}

func TestClientPacesItselfToTheRate(t *testing.T) {
	rec, buf := newTestRecorder(t)
	wl := &scriptedWorkload{}
	c := client{slot: 0, concurrency: 1, node: "n1", gen: wl.Generator(1, 0), wl: wl, rec: rec,
		opTimeout: time.Second, interval: 20 * time.Millisecond}
	start := time.Now()
	c.loop(context.Background(), context.Background(), start, start.Add(200*time.Millisecond))
	invokes := 0
	for _, e := range readBack(t, rec, buf) {
		if e.Type == history.Invoke {
			invokes++
		}
	}
	// 200 ms at one op per 20 ms is at most 10 (11 with the one at 0);
	// unpaced, the stub would do thousands.
	require.LessOrEqual(t, invokes, 11)
	require.GreaterOrEqual(t, invokes, 3)
}

func TestInvokeRecordsAnUnknownCompletionTypeAsInfo(t *testing.T) {
	rec, buf := newTestRecorder(t)
	wl := &scriptedWorkload{script: []history.Type{"maybe"}}
	comp := invoke(context.Background(), wl, nil, rec, 0, "n1", workloads.Op{F: "write", Key: "k", Value: 1}, time.Second)
	require.Equal(t, history.Info, comp.Type)
	events := readBack(t, rec, buf)
	require.Len(t, events, 2)
	require.Equal(t, history.Info, events[1].Type)
	require.Contains(t, events[1].Error, `"maybe"`)
}

func TestNewRunDirPointsLatestAtTheNewestRun(t *testing.T) {
	root := t.TempDir()
	now := time.Date(2026, 11, 24, 15, 0, 0, 0, time.UTC)
	first, err := newRunDir(root, "default", now)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(root, "default", "20261124T150000Z"), first)
	second, err := newRunDir(root, "default", now)
	require.NoError(t, err)
	require.Equal(t, first+"-2", second, "two runs in the same second do not share a directory")
	target, err := os.Readlink(filepath.Join(root, "default", verdict.LatestLink))
	require.NoError(t, err)
	require.Equal(t, "20261124T150000Z-2", target)
	require.DirExists(t, filepath.Join(second, verdict.NodesDir))
}
