package matrix

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/harness"
	"github.com/dqtest/dqtest/harness/sim"
	"github.com/dqtest/dqtest/history"
	"github.com/dqtest/dqtest/mode"
	"github.com/dqtest/dqtest/nemesis"
	"github.com/dqtest/dqtest/report"
	"github.com/dqtest/dqtest/scenario"
	"github.com/dqtest/dqtest/verdict"
)

// simSpec is the dqlite team's 39 cells (3 workloads x 13 nemeses) on
// the simulator, short, with one seed for every cell.
func simSpec(t *testing.T) Spec {
	t.Helper()
	base := scenario.Default()
	base.Backend = mode.Sim
	// A fault every 2 s for 1 s: every cell's faults fit in its 10 s (a
	// fault that never fits is refused: nemesis.UnplannedError).
	base.Nemesis.Schedule = nemesis.Schedule{Kind: nemesis.Fixed, Interval: 2 * time.Second, Duration: time.Second}
	return Spec{Name: "sim39", Workloads: []string{"append", "bank", "set"}, Nemeses: nemesis.Combinations,
		Base: &base, TimeLimit: 10 * time.Second, Seed: 11, Backend: "sim",
		ExpectFail: map[string]string{"bank/none": "a mark to honour (the bug)", "set/kill": "a stale mark"}}
}

// simOpts runs cells on the simulator with a bug that some of the
// matrix's cells find (non-atomic transactions: bank and append, not set),
// and no report pages (speed).
func simOpts() harness.Options {
	return harness.Options{Simulate: sim.Simulator(sim.BugNonAtomicTxn), SimBug: sim.BugNonAtomicTxn,
		WriteReport: func(string) error { return nil }}
}

func TestParseShard(t *testing.T) {
	s, err := ParseShard("3/8")
	require.NoError(t, err)
	require.Equal(t, Shard{K: 3, N: 8}, s)
	require.Equal(t, "3/8", s.String())
	for _, bad := range []string{"", "3", "0/8", "9/8", "3/0", "a/b", "-1/2", "1/2/3"} {
		_, err := ParseShard(bad)
		require.ErrorContains(t, err, "want k/N with 1 <= k <= N", bad)
	}
}

// The weight table: disk and non-recovering cells weigh more, and the
// split balances them: no shard of the 39 cells as 4 or 8 expects more
// than the heaviest cell above the mean.
func TestAssignBalancesByExpectedTimeAndIsAPartition(t *testing.T) {
	spec := simSpec(t)
	spec.TimeLimit = 60 * time.Second
	cells, err := Cells(spec)
	require.NoError(t, err)
	byKey := func(k string) Cell { return cells[slices.IndexFunc(cells, func(c Cell) bool { return c.Key() == k })] }
	require.Equal(t, 65*time.Second, Weight(byKey("bank/none")))
	require.Equal(t, 155*time.Second, Weight(byKey("bank/disk")), "a disk cell waits out the recovery and final-read timeouts")
	require.Greater(t, Weight(byKey("set/pause+disk")), Weight(byKey("set/pause")))
	require.Greater(t, Weight(byKey("set/kill")), Weight(byKey("set/none")))

	var heaviest, total time.Duration
	for _, c := range cells {
		heaviest, total = max(heaviest, Weight(c)), total+Weight(c)
	}
	for _, n := range []int{1, 2, 3, 4, 7, 8, 39, 40} {
		parts := Assign(cells, n)
		require.Len(t, parts, n)
		var seen []int
		for _, p := range parts {
			require.True(t, slices.IsSorted(p), "a part is in matrix order")
			seen = append(seen, p...)
			require.LessOrEqual(t, Expected(cells, p), total/time.Duration(n)+heaviest, "n=%d: a part expects at most the mean plus one cell", n)
		}
		slices.Sort(seen)
		require.Len(t, seen, len(cells), "n=%d: every cell once", n)
		require.Equal(t, len(cells), len(slices.Compact(seen)), "n=%d: no cell twice", n)
		require.Equal(t, parts, Assign(cells, n), "n=%d: the same split every time", n)
	}
	// 8 shards of the 39 one-minute cells: the three 155 s disk cells go to
	// three different shards.
	parts := Assign(cells, 8)
	disk := map[int]bool{}
	for p, idx := range parts {
		for _, i := range idx {
			if cells[i].Nemesis == "disk" {
				require.False(t, disk[p], "two disk cells in shard %d", p+1)
				disk[p] = true
			}
		}
	}
	require.Len(t, disk, 3)
}

// The requirement of issue 15: the union of --shard k/N for k = 1..N is the
// unsharded matrix, cell for cell (status, outcome and seed), for N = 1, 2,
// 3, 7, 39 and 40, on the simulator; the shard directories merge into the
// same matrix.
func TestShardsUnionIsTheUnshardedMatrixCellForCell(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	spec := simSpec(t)
	spec.Parallel = 2
	whole, err := Run(ctx, spec, t.TempDir(), simOpts(), nil)
	require.NoError(t, err)
	require.Len(t, whole.Cells, 39)
	n := Counts(whole.Cells)
	t.Logf("unsharded: %v, outcome %s, %.1fs", n, whole.Outcome, whole.Wall)
	// The matrix is not trivially green: the simulator's lost-write bug
	// fails some cells, the disk and packet cells are beyond the simulator
	// (unsupported: refused before they run), a marked cell is judged by
	// its mark.
	require.Positive(t, n[Failed]+n[ExpectedFail], "some cell found the bug")
	require.Positive(t, n[Passed])
	require.Positive(t, n[Unsupported], "the simulator refuses disk cells")
	cell := func(key string) Cell {
		return whole.Cells[slices.IndexFunc(whole.Cells, func(c Cell) bool { return c.Key() == key })]
	}
	require.Equal(t, ExpectedFail, cell("bank/none").Status)
	require.Equal(t, UnexpectedPass, cell("set/kill").Status)
	for _, c := range whole.Cells {
		if c.Status != Unknown && c.Status != Unsupported { // refused before a seed was used
			require.Equal(t, int64(11), c.Run.Seed, c.Key())
		}
	}

	for _, shards := range []int{1, 2, 3, 7, 39, 40} {
		t.Run(fmt.Sprint(shards), func(t *testing.T) {
			root := t.TempDir()
			got := map[string]Cell{}
			var dirs []string
			for k := 1; k <= shards; k++ {
				s := spec
				s.Shard = Shard{K: k, N: shards}
				s.Parallel = 1
				dir := filepath.Join(root, fmt.Sprintf("shard-%d", k))
				res, err := Run(ctx, s, dir, simOpts(), nil)
				require.NoError(t, err)
				require.NoError(t, WriteFiles(res, ""))
				require.Equal(t, whole.Plan.Fingerprint, res.Plan.Fingerprint, "every shard records the same whole matrix")
				require.Len(t, res.Plan.Cells, 39)
				require.Equal(t, s.Shard, res.Plan.Shard)
				for _, c := range res.Cells {
					_, dup := got[c.Key()]
					require.False(t, dup, "%s in two shards", c.Key())
					got[c.Key()] = c
				}
				dirs = append(dirs, dir)
			}
			require.Len(t, got, len(whole.Cells))
			for _, w := range whole.Cells {
				c, ok := got[w.Key()]
				require.True(t, ok, "%s is in a shard", w.Key())
				require.Equal(t, w.Status, c.Status, w.Key())
				require.Equal(t, w.Run.Outcome, c.Run.Outcome, w.Key())
				require.Equal(t, w.Run.Seed, c.Run.Seed, w.Key())
				require.Equal(t, w.Run.Ops.Invoked, c.Run.Ops.Invoked, "%s: the same run", w.Key())
			}

			out := filepath.Join(root, "merged")
			merged, err := Merge(out, dirs)
			require.NoError(t, err)
			require.NoError(t, os.MkdirAll(out, 0o755))
			require.NoError(t, WriteFiles(merged, ""))
			require.Equal(t, whole.Outcome, merged.Outcome)
			require.Len(t, merged.Cells, len(whole.Cells))
			linked := 0
			for i, w := range whole.Cells {
				c := merged.Cells[i]
				require.Equal(t, w.Key(), c.Key(), "merged cells are in matrix order")
				require.Equal(t, w.Status, c.Status, w.Key())
				require.Equal(t, w.Run.Seed, c.Run.Seed, w.Key())
				if _, err := os.Stat(filepath.Join(whole.Dir, w.Path, "results.json")); err == nil {
					linked++
					require.FileExists(t, filepath.Join(out, filepath.FromSlash(c.Path), "results.json"), "%s links its run directory", c.Key())
				}
			}
			require.Equal(t, 39-n[Unknown]-n[Unsupported], linked, "every cell that ran links its run directory (a refused cell never had one)")
			require.Len(t, merged.Parts, shards)
		})
	}
}

// Merging: a missing shard's cells are named and unknown, a duplicate is
// an error, shards of another matrix are refused, expected-to-fail marks
// are honoured, and the page links every cell's report.
func TestMergeNamesMissingCellsAndRefusesDuplicatesAndOtherMatrices(t *testing.T) {
	ctx := context.Background()
	spec := simSpec(t)
	spec.Workloads, spec.Nemeses = []string{"bank", "set"}, []string{"none", "kill", "partition"}
	// The bug fails bank (non-atomic transactions), marked as expected.
	spec.ExpectFail = map[string]string{"bank/none": "the bug", "bank/kill": "the bug", "bank/partition": "the bug"}
	root := t.TempDir()
	var dirs []string
	for k := 1; k <= 3; k++ {
		s := spec
		s.Shard = Shard{K: k, N: 3}
		dir := filepath.Join(root, fmt.Sprint("s", k))
		opts := simOpts()
		opts.WriteReport = report.WriteDir
		res, err := Run(ctx, s, dir, opts, nil)
		require.NoError(t, err)
		require.NoError(t, WriteFiles(res, ""))
		dirs = append(dirs, dir)
	}
	out := filepath.Join(root, "merged")
	all, err := Merge(out, dirs)
	require.NoError(t, err)
	require.Len(t, all.Cells, 6)
	require.Empty(t, MissingCells(all))
	n := Counts(all.Cells)
	require.Positive(t, n[ExpectedFail], "the bug was found where marked")
	require.Equal(t, 3, n[Passed], "set has no transactions to split")
	require.Equal(t, checker.Valid, all.Outcome, "expected failures are not regressions")
	require.NoError(t, os.MkdirAll(out, 0o755))
	require.NoError(t, WriteFiles(all, ""))
	page, err := os.ReadFile(filepath.Join(out, SummaryFile))
	require.NoError(t, err)
	for _, c := range all.Cells {
		require.Contains(t, string(page), `href="`+c.Path+`/report.html"`, c.Key())
		require.FileExists(t, filepath.Join(out, filepath.FromSlash(c.Path), report.File))
	}

	// One shard directory left out: its cells are MISSING, the whole unknown.
	partial, err := Merge(filepath.Join(root, "partial"), dirs[:2])
	require.NoError(t, err)
	third, err := ReadResult(dirs[2])
	require.NoError(t, err)
	var want []string
	for _, c := range third.Cells {
		want = append(want, c.Key())
	}
	require.NotEmpty(t, want)
	require.ElementsMatch(t, want, MissingCells(partial))
	require.Equal(t, checker.Unknown, partial.Outcome)
	var table bytes.Buffer
	require.NoError(t, WriteTable(&table, partial))
	require.Contains(t, table.String(), fmt.Sprintf("%d MISSING (no shard reported them: %s)", len(want), strings.Join(want, ", ")))
	var junit bytes.Buffer
	require.NoError(t, report.WriteJUnit(&junit, []report.Suite{JUnit(partial)}))
	doc := parseJUnit(t, junit.Bytes())
	require.Equal(t, 6, doc.Tests)
	require.GreaterOrEqual(t, doc.Errors, len(want), "every missing cell is a JUnit error")

	// A shard given twice.
	_, err = Merge(out, []string{dirs[0], dirs[1], dirs[0]})
	require.ErrorContains(t, err, "is in two shard directories")

	// A shard of another matrix (another time limit).
	other := spec
	other.TimeLimit = 9 * time.Second
	other.Shard = Shard{K: 1, N: 3}
	odir := filepath.Join(root, "other")
	ores, err := Run(ctx, other, odir, simOpts(), nil)
	require.NoError(t, err)
	require.NoError(t, WriteFiles(ores, ""))
	_, err = Merge(out, []string{dirs[0], odir})
	require.ErrorContains(t, err, "is a shard of another matrix")

	// Not a matrix directory at all.
	_, err = Merge(out, []string{dirs[0], t.TempDir()})
	require.ErrorContains(t, err, "no matrix.json")
	_, err = Merge(out, nil)
	require.ErrorContains(t, err, "no shard directories")
}

// An empty shard (more shards than cells) runs nothing, is valid, and
// still records the whole matrix.
func TestAShardWithNoCellsRecordsThePlan(t *testing.T) {
	spec := simSpec(t)
	spec.Nemeses = []string{"none"}
	spec.ExpectFail = map[string]string{"set/none": "x"}
	spec.Shard = Shard{K: 5, N: 5}
	dir := t.TempDir()
	res, err := Run(context.Background(), spec, dir, simOpts(), nil)
	require.NoError(t, err)
	require.Empty(t, res.Cells)
	require.Equal(t, checker.Valid, res.Outcome)
	require.NoError(t, WriteFiles(res, ""))
	back, err := ReadResult(dir)
	require.NoError(t, err)
	require.Len(t, back.Plan.Cells, 3)

	_, err = Run(context.Background(), Spec{Workloads: []string{"bank"}, Nemeses: []string{"none"}, Base: spec.Base,
		Only: []string{"bank/kill"}}, t.TempDir(), simOpts(), nil)
	require.ErrorContains(t, err, "cell bank/kill: not in this matrix")
}

// Ctrl-C on a parallel matrix: every running cell is cancelled and waited
// for, the cells that had not started are skipped, and none is left
// running when Run returns.
func TestParallelRunCancelsAndWaitsForEveryCell(t *testing.T) {
	spec := simSpec(t)
	spec.Nemeses = []string{"none", "kill"}
	spec.Parallel = 3
	var running, peak, started int
	var mu = make(chan struct{}, 1)
	mu <- struct{}{}
	ctx, cancel := context.WithCancel(context.Background())
	opts := simOpts()
	opts.Backend = nil
	opts.Simulate = blockingSim{inner: sim.Simulator(""), onStart: func() {
		<-mu
		running++
		started++
		peak = max(peak, running)
		if started == 3 {
			cancel()
		}
		mu <- struct{}{}
	}, onEnd: func() { <-mu; running--; mu <- struct{}{} }}
	res, err := Run(ctx, spec, t.TempDir(), opts, nil)
	require.ErrorIs(t, err, context.Canceled)
	<-mu
	require.Zero(t, running, "every cell ended before Run returned")
	require.Equal(t, 3, peak, "three cells at once")
	require.Equal(t, 3, started)
	n := Counts(res.Cells)
	require.Equal(t, 3, n[Skipped], "the three cells that had not started are skipped")
	require.Equal(t, checker.Unknown, res.Outcome)
}

// blockingSim is a simulator whose runs wait for ctx's end.
type blockingSim struct {
	inner          harness.Simulator
	onStart, onEnd func()
}

func (b blockingSim) Supports(sc scenario.Scenario) error { return b.inner.Supports(sc) }

func (b blockingSim) Simulate(ctx context.Context, rs *scenario.Resolved, record func(history.Event) error) (verdict.Observations, error) {
	b.onStart()
	defer b.onEnd()
	<-ctx.Done()
	return verdict.Observations{}, ctx.Err()
}

// What the 39-cell matrix of 60 s cells costs as 1, 4 and 8 shards, from
// the first full run's per-cell times (docs/matrix.md: 64.9 s a cell on
// average, 155 s for the three cells whose cluster did not recover:
// bank/disk, set/disk, set/pause+disk). The split is made from the fixed
// weights; the longest shard is what a CI run waits for.
func TestShardCostsOfThe39CellMatrix(t *testing.T) {
	spec := simSpec(t)
	spec.TimeLimit = 60 * time.Second
	spec.ExpectFail = nil
	cells, err := Cells(spec)
	require.NoError(t, err)
	measured := func(c Cell) float64 {
		switch c.Key() {
		case "bank/disk", "set/disk", "set/pause+disk":
			return 155
		}
		return 64.9
	}
	var total float64
	for _, c := range cells {
		total += measured(c)
	}
	require.InDelta(t, 46*60+42, total, 30, "the model adds up to the measured 46 min 42 s")
	for _, n := range []int{1, 2, 4, 8} {
		var longest float64
		for _, p := range Assign(cells, n) {
			var s float64
			for _, i := range p {
				s += measured(cells[i])
			}
			longest = max(longest, s)
		}
		t.Logf("%d shards: longest shard %.0f s (%.1f min), %d-%d cells a shard; total %.0f s", n, longest, longest/60,
			len(cells)/n, (len(cells)+n-1)/n, total)
		require.LessOrEqual(t, longest, total/float64(n)+155, "n=%d: within one cell of the ideal", n)
	}
}

// RunSpread's distribution without Docker: a shard's cells over three
// "engines" (in-process simulator runs), balanced, each cell once, one
// result linking into the engine directories; a part whose launch fails
// leaves its cells missing and says which engine.
func TestRunSpreadSplitsAShardOverEnginesAndReportsAFailedPart(t *testing.T) {
	ctx := context.Background()
	spec := simSpec(t)
	spec.Shard = Shard{K: 2, N: 3}
	var mu = make(chan struct{}, 1)
	mu <- struct{}{}
	got := map[int][]string{}
	launch := func(fail int) Launch {
		return func(ctx context.Context, engine int, keys []string, dir string) error {
			<-mu
			got[engine] = keys
			mu <- struct{}{}
			if engine == fail {
				return errors.New("engine refused")
			}
			s := spec
			s.Only = keys
			res, err := Run(ctx, s, dir, simOpts(), nil)
			if err != nil {
				return err
			}
			return WriteFiles(res, "")
		}
	}
	dir := t.TempDir()
	res, err := RunSpread(ctx, spec, dir, 3, launch(-1))
	require.NoError(t, err)
	all, err := Cells(spec)
	require.NoError(t, err)
	mine := ShardCells(all, spec.Shard)
	require.Len(t, res.Cells, len(mine))
	require.Len(t, got, 3, "every engine got a part")
	var keys []string
	for e := range 3 {
		require.NotEmpty(t, got[e])
		keys = append(keys, got[e]...)
	}
	var want []string
	for _, i := range mine {
		want = append(want, all[i].Key())
	}
	require.ElementsMatch(t, want, keys, "each cell of the shard on exactly one engine")
	for _, c := range res.Cells {
		require.NotEqual(t, Missing, c.Status, c.Key())
		e := slices.IndexFunc([]int{0, 1, 2}, func(e int) bool { return slices.Contains(got[e], c.Key()) })
		require.True(t, strings.HasPrefix(c.Path, EngineDir(e)+"/"), "%s links into engine %d's directory: %s", c.Key(), e+1, c.Path)
	}
	require.Equal(t, spec.Shard, res.Plan.Shard)
	require.NoError(t, WriteFiles(res, ""))
	back, err := ReadResult(dir)
	require.NoError(t, err)
	require.Len(t, back.Cells, len(mine))

	// Engine 2's part fails: its cells are missing, the others ran.
	got = map[int][]string{}
	res, err = RunSpread(ctx, spec, t.TempDir(), 3, launch(1))
	require.ErrorContains(t, err, "engine 2: engine refused")
	require.ElementsMatch(t, got[1], MissingCells(res))
	require.Equal(t, checker.Unknown, Outcome(missingOnly(res.Cells)))
}

func missingOnly(cells []Cell) []Cell {
	return slices.DeleteFunc(slices.Clone(cells), func(c Cell) bool { return c.Status != Missing })
}
