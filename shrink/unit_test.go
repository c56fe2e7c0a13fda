package shrink

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/detect"
	"github.com/dqtest/dqtest/harness/sim"
	"github.com/dqtest/dqtest/history"
	"github.com/dqtest/dqtest/mode"
	"github.com/dqtest/dqtest/nemesis"
	"github.com/dqtest/dqtest/scenario"
	"github.com/dqtest/dqtest/verdict"
)

// Findings are keyed by signature parts only: the node, the file and line
// of an assertion, deeper frames and free text do not matter.
func TestFindingKeys(t *testing.T) {
	for _, tc := range []struct {
		crash       detect.Crash
		key, expect string
	}{
		{detect.Crash{Node: "n2", Kind: "assertion", Signal: "SIGABRT", Signature: "SIGABRT: src/server.c:779: dqlite_node_stop: Assertion `rv == 0' failed."},
			"crash SIGABRT dqlite_node_stop: Assertion `rv == 0' failed", "dqlite_node_stop: Assertion `rv == 0' failed"},
		{detect.Crash{Node: "n4", Kind: "assertion", Signal: "SIGABRT", Signature: "SIGABRT: src/server.c:924: dqlite_node_stop: Assertion `rv == 0' failed."},
			"crash SIGABRT dqlite_node_stop: Assertion `rv == 0' failed", "dqlite_node_stop: Assertion `rv == 0' failed"},
		{detect.Crash{Kind: "assertion", Signal: "SIGABRT", Signature: "SIGABRT: raft.c:12: Assertion `x' failed"},
			"crash SIGABRT Assertion `x' failed", "Assertion `x' failed"},
		{detect.Crash{Kind: "signal", Signal: "SIGSEGV", Signature: "SIGSEGV: segmentation violation at github.com/dqtest/dqtest/node._Cfunc_dqlite_node_stop < github.com/dqtest/dqtest/node.(*Node).Stop"},
			"crash SIGSEGV: segmentation violation at github.com/dqtest/dqtest/node._Cfunc_dqlite_node_stop",
			"SIGSEGV: segmentation violation at github.com/dqtest/dqtest/node._Cfunc_dqlite_node_stop"},
		{detect.Crash{Kind: "go-panic", Signal: "", Signature: "panic: self-test: panic on stop at main.stop < main.run"},
			"crash panic: self-test: panic on stop at main.stop", "panic: self-test: panic on stop at main.stop"},
		{detect.Crash{Kind: "signal", Signal: "SIGABRT", Signature: "killed by SIGABRT"}, "crash SIGABRT killed by SIGABRT", "killed by SIGABRT"},
		{detect.Crash{Kind: "hang", Signature: "hang: handover exceeded its deadline", Lines: []string{"took 20s"}},
			"hang handover", "hang: handover exceeded its deadline"},
		{detect.Crash{Kind: "open-connections", Signature: "connections left open after stop"}, "hang open-connections", "open-connections"},
	} {
		f := CrashFinding(tc.crash)
		require.Equal(t, tc.key, f.Key)
		require.Equal(t, tc.expect, f.Expect.Crash)
		// The expect text names this crash for the verdict's judge.
		res := &verdict.Result{Crashes: []detect.Crash{tc.crash}}
		require.True(t, Shows(res, f))
	}
	a := AnomalyFinding("nonlinearizable")
	require.Equal(t, []string{"nonlinearizable"}, a.Expect.Anomalies)
	res := &verdict.Result{Checkers: []checker.Result{{Checker: "register", Verdict: checker.Invalid,
		Anomalies: []checker.Anomaly{{Kind: "nonlinearizable", Explanation: "one text"}}}}}
	require.True(t, Shows(res, a))
	require.False(t, Shows(res, AnomalyFinding("lost")))
	require.False(t, Shows(nil, a))
	require.Empty(t, Findings(&verdict.Result{Checkers: []checker.Result{{Checker: "x", Verdict: checker.Unknown, Reason: "timed out"}}}),
		"a checker that could not decide is not a finding")
}

func TestPick(t *testing.T) {
	fs := []Finding{
		CrashFinding(detect.Crash{Kind: "hang", Signature: "hang: stop exceeded its deadline"}),
		AnomalyFinding("did-not-recover"), AnomalyFinding("nonlinearizable"),
	}
	f, err := Pick(fs, "")
	require.NoError(t, err)
	require.Equal(t, "hang stop", f.Key, "crashes and hangs come first")
	for _, want := range []string{"anomaly nonlinearizable", "nonlinearizable"} {
		f, err = Pick(fs, want)
		require.NoError(t, err)
		require.Equal(t, "anomaly nonlinearizable", f.Key)
	}
	f, err = Pick(fs, "stop")
	require.NoError(t, err)
	require.Equal(t, "hang stop", f.Key)
	_, err = Pick(fs, "linearizable")
	require.ErrorContains(t, err, "names 0 of the run's findings")
	_, err = Pick(nil, "")
	require.ErrorIs(t, err, ErrNothingToShrink)
}

// A plan becomes episodes and back without a step lost or moved.
func TestEpisodesRoundTrip(t *testing.T) {
	for seed := int64(1); seed <= 20; seed++ {
		spec := nemesis.Spec{Faults: []string{"partition", "kill", "handover", "pause"}, Targets: "minority",
			Schedule: nemesis.Schedule{Kind: nemesis.Random, Min: 2 * time.Second, Max: 6 * time.Second, Duration: 4 * time.Second}}
		plan, err := nemesis.Plan(spec, scenario.NodeNames(5), time.Minute, seed)
		require.NoError(t, err)
		eps := Episodes(plan)
		steps := Steps(eps)
		require.Len(t, steps, len(plan))
		require.Equal(t, len(plan), StepCount(eps))
		// As a timeline the steps plan to themselves.
		tl := nemesis.Spec{Targets: spec.Targets, Schedule: nemesis.Schedule{Kind: nemesis.Timeline, Timeline: steps}}
		again, err := nemesis.Plan(tl, scenario.NodeNames(5), time.Minute, seed)
		require.NoError(t, err)
		require.Equal(t, Episodes(again), eps)
	}
}

func TestRemapTargets(t *testing.T) {
	for _, tc := range []struct {
		ep   Episode
		spec string
		m    int
		want []string
	}{
		{Episode{Fault: "double-stop", Targets: []string{"n4"}}, "one", 3, []string{"n1"}},
		{Episode{Fault: "kill", Targets: []string{"n2"}}, "one", 3, []string{"n2"}},
		{Episode{Fault: "kill", Targets: []string{"n4", "n5"}}, "minority", 3, []string{"n1"}},
		{Episode{Fault: "pause", Targets: []string{"n1", "n4", "n5"}}, "majority", 3, []string{"n1", "n2"}},
		{Episode{Fault: "partition-halves", Targets: []string{"n2", "n5"}}, "one", 3, []string{"n2"}},
		{Episode{Fault: "partition-ring", Targets: []string{"n4", "n1", "n3", "n5", "n2"}}, "one", 3, []string{"n1", "n3", "n2"}},
		{Episode{Fault: "packet", Targets: []string{"n1", "n2", "n3", "n4", "n5"}}, "one", 3, []string{"n1", "n2", "n3"}},
		{Episode{Fault: "stop-two", Targets: []string{"n4", "n1"}}, "one", 3, []string{"n1", "n2"}},
		{Episode{Fault: "partition-leader"}, "one", 3, nil},
		{Episode{Fault: "transfer", Targets: []string{"n7"}}, "one", 5, []string{"n2"}},
	} {
		got, ok := RemapTargets(tc.ep, tc.m, tc.spec)
		require.True(t, ok)
		require.Equal(t, tc.want, got, "%s", tc.ep)
		// The remapped episode is a valid timeline on the smaller cluster.
		ep := tc.ep
		ep.Targets = got
		ep.Start, ep.Stop, ep.HasStop = time.Second, 2*time.Second, !instant(ep.Fault)
		spec := nemesis.Spec{Targets: tc.spec, Schedule: nemesis.Schedule{Kind: nemesis.Timeline, Timeline: Steps([]Episode{ep})}}
		_, err := nemesis.Plan(spec, scenario.NodeNames(tc.m), 10*time.Second, 1)
		require.NoError(t, err, "%s on %d nodes", ep, tc.m)
	}
	_, ok := RemapTargets(Episode{Fault: "no-such", Targets: []string{"n1"}}, 3, "one")
	require.False(t, ok)
	require.Equal(t, map[string][]string{"n1": {"--no-start"}, "n3": {"--x"}}, remapNodeArgs(map[string][]string{"n4": {"--no-start"}, "n3": {"--x"}}, 3))
	require.Equal(t, map[string]string{"n1": "1.18.1", "n2": "1.18.7", "n3": "1.18.7"}, remapVersions(map[string]string{"n4": "1.18.1", "n3": "1.18.7", "n5": "1.18.7"}, 3),
		"a removed node's dqlite version goes to the node it maps to, unless that one has its own")
	require.Nil(t, remapVersions(nil, 3))
}

func instant(f string) bool { return f == "transfer" || f == "handover" || f == "stop-start-loop" }

func TestSplit(t *testing.T) {
	require.Equal(t, [][2]int{{0, 5}, {5, 10}}, split(10, 2))
	require.Equal(t, [][2]int{{0, 2}, {2, 4}, {4, 7}, {7, 10}}, split(10, 4))
	require.Equal(t, [][2]int{{0, 1}, {1, 2}, {2, 3}}, split(3, 8))
}

// On a live backend a candidate runs up to Tries times with fresh seeds
// and reproduces when any run shows the finding. Here the "live" backend
// is the simulator with a random seed per run, under a docker run
// directory: a rare finding reproduces in some runs and not others.
func TestLiveCandidatesGetTriesWithFreshSeeds(t *testing.T) {
	run := simulate(t, filepath.Join("testdata", "noisy-stale-read.yaml"), sim.BugStaleRead, 2)
	// Make the run directory a docker run's.
	orig, res, err := LoadRun(run)
	require.NoError(t, err)
	orig.Backend = mode.Docker
	b, err := orig.Marshal()
	require.NoError(t, err)
	require.NoError(t, verdict.WriteFileAtomic(filepath.Join(run, verdict.ScenarioFile), b))
	res.Backend = "docker"
	require.NoError(t, verdict.WriteJSON(filepath.Join(run, verdict.ResultsFile), res))

	seeds := map[int64]bool{}
	inner := simRunner(sim.BugStaleRead)
	live := func(ctx context.Context, sc scenario.Scenario, dir string) (*verdict.Result, error) {
		require.Equal(t, mode.Docker, sc.Backend, "the candidate keeps its backend")
		require.False(t, seeds[sc.Seed], "every run gets a fresh seed")
		seeds[sc.Seed] = true
		sc.Backend = mode.Sim
		return inner(ctx, sc, dir)
	}
	out := filepath.Join(t.TempDir(), "shrink")
	rep, err := Run(context.Background(), run, Options{Out: out, Finding: "nonlinearizable", Run: live, Tries: 3, Confirm: 4, MeasureOriginal: true})
	if err != nil {
		// The baseline may miss a rare finding in three fresh seeds; the
		// error says so.
		require.ErrorContains(t, err, "did not show")
		return
	}
	require.False(t, rep.Exact)
	require.Equal(t, 3, rep.Tries)
	for _, a := range rep.Attempts {
		require.LessOrEqual(t, len(a.Runs), 3)
		if !a.Reproduced {
			require.Len(t, a.Runs, 3, "%s: a candidate that does not reproduce used all its tries", a.ID)
		}
		if a.Reproduced {
			require.Len(t, a.Seeds, len(a.Runs))
		}
	}
	require.Equal(t, 4, rep.Confirm.Runs)
	require.NotNil(t, rep.OriginalRate)
	require.Equal(t, 4, rep.OriginalRate.Runs)
	sc, err := scenario.Load(filepath.Join(out, ShrunkFile))
	require.NoError(t, err)
	require.Equal(t, mode.Docker, sc.Backend)
	require.Contains(t, rep.Commands()[1], "--repeat 10")
	t.Logf("%d candidates; shrunk %s; confirmed %s, original %s", len(rep.Attempts), describeSize(rep.Shrunk), rep.Confirm, rep.OriginalRate)
}

// The time of a crash is the later of the node's last log line and the
// record of the fault step in flight (a quiet node logs nothing for long
// before it crashes).
func TestFindingTimeOfACrash(t *testing.T) {
	dir := t.TempDir()
	start := time.Date(2026, 12, 6, 5, 2, 1, 0, time.UTC)
	require.NoError(t, verdict.WriteObservations(dir, verdict.Observations{HistoryStart: start, WorkloadStart: int64(9 * time.Second)}))
	crash := detect.Crash{Node: "n1", Kind: "assertion", Signal: "SIGABRT", Signature: "SIGABRT: src/lib/sm.c:83: sm_move: Assertion `x' failed.",
		InFlight: &detect.InFlight{At: 6.9, Relation: "in_flight", Fault: &history.Event{Time: int64(19250 * time.Millisecond), F: "start-disk"}}}
	res := &verdict.Result{Crashes: []detect.Crash{crash}}
	got, ok := findingTime(dir, res, CrashFinding(crash))
	require.True(t, ok)
	require.Equal(t, 10250*time.Millisecond, got)

	crash.InFlight = nil
	crash.LogTime = start.Add(12 * time.Second).Format(time.RFC3339Nano)
	res = &verdict.Result{Crashes: []detect.Crash{crash}}
	got, ok = findingTime(dir, res, CrashFinding(crash))
	require.True(t, ok)
	require.Equal(t, 3*time.Second, got)

	_, ok = findingTime(dir, &verdict.Result{}, AnomalyFinding("did-not-recover"))
	require.False(t, ok, "a finding the run has no time for")
}
