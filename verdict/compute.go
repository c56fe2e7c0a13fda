// Package verdict turns what a run recorded into its verdict: the one path
// from (resolved scenario, history, observations) to the checkers' results,
// the crash and hang findings, liveness, replica convergence, the verdict and
// the outcome judged against the scenario's expectations. `dqtest run` (both
// backends), `dqtest check`, `dqtest repro`, both matrices and harness.Run
// all compute verdicts here, so one history gets one verdict whichever
// command computes it. The package also owns the run directory's layout and
// results.json (Result), and the findings of repeated runs.
package verdict

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/converge"
	"github.com/dqtest/dqtest/detect"
	"github.com/dqtest/dqtest/history"
	"github.com/dqtest/dqtest/nemesis"
	"github.com/dqtest/dqtest/scenario"
)

// Observations are what a run saw beyond its history: each node's exit and
// log, the stop-path findings made while faults were applied, the recovery
// after healing and every replica's state. A run directory stores them in
// observations.json (the logs in nodes/<node>.log), so that the verdict can
// be computed again from the directory alone.
type Observations struct {
	// Nodes are the nodes' final exit statuses and logs (the logs are not
	// in observations.json: they are nodes/<node>.log).
	Nodes []detect.NodeReport `json:"nodes"`
	// DeadExits are the exit statuses of nodes found dead after healing
	// and restarted for the final reads (docker).
	DeadExits map[string]detect.NodeExit `json:"dead_exits,omitempty"`
	// Hangs are the stop-path findings made as the faults were applied: a
	// stop, start or handover past its deadline; connections left open
	// after a stop (docker).
	Hangs []detect.Crash `json:"hangs,omitempty"`
	// HistoryStart is the wall-clock time the history's time 0 stands for
	// (a live run; zero for the simulator, whose time is virtual).
	HistoryStart time.Time `json:"history_start,omitzero"`
	// StepTimeout bounds one fault step (the in-flight evidence uses it).
	StepTimeout time.Duration `json:"step_timeout_ns,omitempty"`
	// WorkloadStart and WorkloadEnd bound the workload phase in history
	// time (ns); 0 when unknown.
	WorkloadStart int64 `json:"workload_start_ns,omitempty"`
	WorkloadEnd   int64 `json:"workload_end_ns,omitempty"`
	// Recovery is the wait for the cluster after healing; nil when the run
	// did not get that far (then nothing is said about liveness).
	Recovery *Recovery `json:"recovery,omitempty"`
	// States are every node's own copy of the workload's data after the
	// final reads; nil when the convergence check did not run.
	States []converge.State `json:"states,omitempty"`
	// Dqlite is the oldest C dqlite version the nodes ran (docker: from
	// their images' labels); "" for the simulator. An expectation with
	// fixed_in depends on it.
	Dqlite string `json:"dqlite,omitempty"`
	// ConvergenceSkipped says why the convergence check did not run when
	// the scenario asked for it (e.g. the backend cannot read a node's own
	// copy).
	ConvergenceSkipped string `json:"convergence_skipped,omitempty"`
}

// Input is everything one verdict is computed from.
type Input struct {
	// Scenario is the resolved scenario: its workload picks the checker,
	// its expect judges the outcome, its plan says which faults were due.
	// Nil for a bare history (dqtest check FILE): Checker must then be set.
	Scenario *scenario.Resolved
	// Checker overrides the scenario workload's checker (dqtest check
	// --workload on a bare history).
	Checker checker.Checker
	// Events is the history as read from history.jsonl; ReadErr is why it
	// could not be read, TornLine a torn last line that was dropped.
	Events   []history.Event
	TornLine int
	ReadErr  error
	// Source replays the history instead (history.FileSource of the run's
	// history.jsonl): the verdict then reads it as a stream and never holds
	// it whole, and Events, TornLine and ReadErr are the source's. It may
	// be replayed: for the events of the keys a checker explains, for what
	// was in flight when a node crashed, and for a history that is not
	// well formed.
	Source history.Source
	// Obs is what the run saw beyond the history; zero for a bare history.
	Obs Observations
	// Dir is the run directory (crash evidence names it); empty for a bare
	// history.
	Dir string
}

// Output is the verdict and everything it rests on.
type Output struct {
	Checkers []checker.Result
	Crashes  []detect.Crash
	Verdict  checker.Verdict
	Outcome  checker.Verdict
	Reasons  []string
	Ops      detect.OpCounts
	Faults   []detect.FaultEffect
	Recovery *Recovery
	// Expect is the expectation the outcome was judged against: the
	// scenario's, or a valid run on a dqlite that fixed its bug.
	Expect scenario.Expect
	// Artifacts are files for the run directory (porcupine's
	// visualization), by name.
	Artifacts map[string][]byte

	// Events is how many events the history had, TornLine the line of a
	// torn last line that was dropped, ReadErr why it could not be read,
	// Malformed the first well-formedness rule it broke (history.Validate).
	Events    int
	TornLine  int
	ReadErr   error
	Malformed error
	// Inferred is the workload the history's operations point to
	// (checker.InferWorkload), or InferErr why none can be told.
	Inferred string
	InferErr error
}

// Compute is the one verdict path. It never fails: what cannot be decided
// is an unknown verdict with its reason, never a guess and never valid.
func Compute(ctx context.Context, in Input) Output {
	var out Output
	exp := scenario.Expect{Verdict: checker.Valid, Recovery: scenario.RecoveryRequired}
	if in.Scenario != nil {
		exp = in.Scenario.Expect.For(in.Obs.Dqlite)
	}
	out.Expect = exp

	// One pass over the history: well-formedness, the checker's stream,
	// the counts and the workload's signs.
	src, torn, readErr := in.Source, in.TornLine, in.ReadErr
	if src == nil {
		src = history.SliceSource(in.Events)
	}
	ck, budget, noChecker := checkerOf(in)
	var stream checker.Stream
	if noChecker == nil {
		stream = checker.Start(ck)
	}
	tally := detect.Tally{From: in.Obs.WorkloadStart, To: in.Obs.WorkloadEnd}
	var (
		valid     history.Validator
		malformed error
		infer     checker.WorkloadInference
	)
	if readErr == nil {
		n, t, err := src(func(batch []history.Event, first int) error {
			tally.Observe(batch)
			infer.Observe(batch)
			if malformed != nil {
				return nil
			}
			for i := range batch {
				if err := valid.Add(&batch[i]); err != nil {
					malformed = err
					stream = nil // not checked: the checker is never fed a broken history
					return nil
				}
			}
			if stream != nil {
				stream.Observe(batch, first)
			}
			return nil
		})
		out.Events = n
		if in.Source != nil {
			torn, readErr = t, err
		}
	}
	out.TornLine, out.ReadErr, out.Malformed = torn, readErr, malformed
	out.Inferred, out.InferErr = infer.Result()
	evidence := src
	switch {
	case readErr != nil:
		out.Checkers = append(out.Checkers, unknown("history", readErr.Error()))
		// Nothing of an unreadable history counts.
		tally, evidence = detect.Tally{}, history.SliceSource(nil)
		out.Events, out.Inferred, out.InferErr = 0, "", nil
	case malformed != nil:
		out.Checkers = append(out.Checkers, unknown("history", "the history is not well formed: "+malformed.Error()))
		// The counts are taken of the history as it is, which the tally
		// cannot do for one whose times go backwards: read it whole (a
		// broken history is rare, and small).
		events, _, err := history.Collect(src)
		if err == nil {
			tally = detect.Tally{From: in.Obs.WorkloadStart, To: in.Obs.WorkloadEnd}
			tally.Observe(events)
			out.Ops = detect.CountOps(events, in.Obs.WorkloadStart, in.Obs.WorkloadEnd)
			out.Faults = detect.FaultEffects(events, in.Obs.WorkloadStart, in.Obs.WorkloadEnd)
		}
	default:
		// A torn last line (the writer stopped mid-line: the process died)
		// is dropped by the reader; the rest is checked, and the result
		// says so.
		var res checker.Result
		if stream == nil {
			res = noChecker(ctx)
		} else {
			cctx, cancel := context.WithTimeout(ctx, budget)
			res = stream.Finish(cctx, src)
			cancel()
		}
		if torn != 0 {
			if res.Stats == nil {
				res.Stats = map[string]any{}
			}
			res.Stats["torn_line"] = torn
		}
		out.Artifacts = res.Artifacts
		out.Checkers = append(out.Checkers, res)
	}
	if readErr == nil && malformed == nil {
		out.Ops = tally.CountOps()
		out.Faults = tally.FaultEffects(in.Obs.WorkloadStart, in.Obs.WorkloadEnd)
	}
	out.Crashes = crashes(in, tally.KilledNodes(), evidence)
	if in.Scenario != nil {
		if r, ok := faultsApplied(in.Scenario, tally.Nemesis(), tally.Events(), in.Obs, out.Crashes); !ok {
			out.Checkers = append(out.Checkers, r)
		}
		if in.Scenario.Checker.ConvergenceOn() {
			if r, ok := convergence(in.Obs); ok {
				out.Checkers = append(out.Checkers, r)
			}
		}
	}
	if r, ok := liveness(in.Obs, exp); ok {
		out.Checkers = append(out.Checkers, r)
	}
	out.Recovery = in.Obs.Recovery
	markExpected(out.Crashes, exp)
	out.Verdict = combinedVerdict(out.Checkers, out.Crashes)
	out.Outcome, out.Reasons = judge(exp, out.Verdict, out.Checkers, out.Crashes)
	if exp.Fixed != "" {
		note := fmt.Sprintf("fixed in this version: the scenario expects its bug before dqlite %s, and this cluster ran %s", exp.FixedIn, exp.Fixed)
		if out.Outcome != checker.Valid {
			note = fmt.Sprintf("the bug fixed in dqlite %s showed on %s (a regression, or not fixed after all)", exp.FixedIn, exp.Fixed)
		}
		out.Reasons = append([]string{note}, out.Reasons...)
	}
	return out
}

// Apply copies the verdict into a run's result.
func (o Output) Apply(res *Result) {
	res.Checkers, res.Crashes = o.Checkers, o.Crashes
	res.Verdict, res.Outcome, res.Reasons = o.Verdict, o.Outcome, o.Reasons
	res.Ops, res.Faults = o.Ops, o.Faults
	res.Recovery = o.Recovery
	res.Expect = o.Expect
	if res.Checkers == nil {
		res.Checkers = []checker.Result{}
	}
	if res.Crashes == nil {
		res.Crashes = []detect.Crash{}
	}
}

func unknown(name, reason string) checker.Result {
	return checker.Result{Checker: name, Verdict: checker.Unknown, Reason: reason}
}

// CheckerFor is the checker a resolved scenario's histories need: its
// workload's own (which knows the workload's parameters), in the
// consistency model the scenario names.
func CheckerFor(rs *scenario.Resolved) checker.Checker {
	if rs.Workload.Name() == "append" {
		return checker.NewAppend(checker.AppendOptions{Consistency: rs.Checker.Consistency})
	}
	return rs.Workload.Checker()
}

// TimeBudget bounds a check when neither the caller nor a scenario says
// otherwise (a bare history): the scenario's default.
const TimeBudget = scenario.DefaultCheckerBudget

// checkerOf is the checker of in and its time budget; noChecker is the
// result when there is none.
func checkerOf(in Input) (ck checker.Checker, budget time.Duration, noChecker func(context.Context) checker.Result) {
	ck = in.Checker
	budget = TimeBudget
	if in.Scenario != nil {
		if ck == nil {
			ck = CheckerFor(in.Scenario)
		}
		budget = in.Scenario.Checker.TimeBudget
	}
	if ck == nil {
		return nil, budget, func(context.Context) checker.Result {
			return unknown("history", "no checker: neither a scenario nor a workload was given")
		}
	}
	return ck, budget, nil
}

// crashes runs the crash detector on every node's log and exit, adds the
// stop-path findings the run made, and attaches the evidence of a live run
// (read back from the history).
func crashes(in Input, killed map[string]bool, src history.Source) []detect.Crash {
	found := []detect.Crash{}
	for _, rep := range in.Obs.Nodes {
		found = append(found, detect.DetectCrashes(rep.Node, rep.Exit, rep.Log, killed[rep.Node])...)
	}
	if in.Obs.HistoryStart.IsZero() {
		return found
	}
	final := map[string]detect.NodeExit{}
	tails := map[string][]string{}
	for _, rep := range in.Obs.Nodes {
		final[rep.Node] = rep.Exit
		tails[rep.Node] = detect.LogTail(rep.Log)
	}
	for _, h := range in.Obs.Hangs {
		h.Tail = tails[h.Node]
		if h.LogTime != "" {
			h.Before = detect.LogLinesUntil(in.Obs.Nodes, h.Node, h.LogTime)
		}
		found = append(found, h)
	}
	seed := int64(0)
	if in.Scenario != nil {
		seed = in.Scenario.Seed
	}
	// The history was read once already: an error now leaves the crashes
	// without in-flight evidence, nothing else.
	_ = detect.AttachEvidenceFrom(found, src, in.Obs.HistoryStart, in.Obs.StepTimeout, seed, in.Dir, in.Obs.DeadExits, final)
	return found
}

// liveness turns a cluster that did not recover after healing into a
// did-not-recover finding (unless the scenario expects recovery to be
// optional). Nothing is said when recovery was not measured.
func liveness(obs Observations, exp scenario.Expect) (checker.Result, bool) {
	rec := obs.Recovery
	if rec == nil {
		return checker.Result{}, false
	}
	res := checker.Result{Checker: "recovery", Verdict: checker.Valid,
		Stats: map[string]any{"recovered": rec.Recovered, "seconds": rec.Seconds}}
	if rec.Recovered {
		return res, true
	}
	expl := fmt.Sprintf("After healing, the cluster did not recover within the recovery timeout (%.1f s): %s.", rec.Seconds, orNone(rec.Error))
	if rec.Node != "" {
		expl += fmt.Sprintf(" Node %s", rec.Node)
		if rec.Answer != "" {
			expl += " answered: " + rec.Answer
		}
		expl += "."
		for _, n := range obs.Nodes {
			if n.Node == rec.Node {
				if tail := detect.LogTail(n.Log); len(tail) > 0 {
					expl += " Its last log lines: " + strings.Join(lastN(tail, 5), " | ")
				}
			}
		}
	}
	if exp.Recovery == scenario.RecoveryOptional {
		res.Reason = "did not recover, which the scenario allows (expect: {recovery: optional}): " + expl
		return res, true
	}
	res.Verdict = checker.Invalid
	res.Anomalies = []checker.Anomaly{{Kind: "did-not-recover", Key: rec.Node, Explanation: expl}}
	return res, true
}

func orNone(s string) string {
	if s == "" {
		return "no reason recorded"
	}
	return s
}

func lastN(xs []string, n int) []string {
	if len(xs) > n {
		return xs[len(xs)-n:]
	}
	return xs
}

// convergence compares the replicas' states, when the run read them. A
// node that could not be read makes the check unknown (converge.Compare);
// a run that read no states at all (a test double without the capability,
// a run cut short) has no convergence result, and observations.json says
// why (ConvergenceSkipped).
func convergence(obs Observations) (checker.Result, bool) {
	if obs.States == nil {
		return checker.Result{}, false
	}
	return converge.Compare(obs.States), true
}

// faultsApplied says a live run is unknown when a fault kind the plan
// scheduled never took effect: every application of it failed, so the run
// did not test what the scenario says. A run valid under faults that never
// happened would be a lie. The stop-path faults are left out: a call of
// theirs being refused (a guarded second stop) is what they test. The
// simulator refuses what it cannot model before running instead. A failed
// application on a node that crashed is the crash, not a fault that did
// not happen (a node that dies of its stop).
func faultsApplied(rs *scenario.Resolved, faults []history.Event, events int, obs Observations, crashed []detect.Crash) (checker.Result, bool) {
	if len(rs.Plan) == 0 || events == 0 || obs.HistoryStart.IsZero() {
		return checker.Result{}, true
	}
	due := map[string]bool{}
	for _, st := range rs.Plan {
		if st.Action == "start" && !nemesis.IsStopPath(st.Fault) {
			due[st.Fault] = true
		}
	}
	tried := map[string]int{}
	worked := map[string]int{}
	for _, e := range faults {
		if e.IsClient() {
			continue
		}
		kind, ok := strings.CutPrefix(e.F, "start-")
		if !ok {
			continue
		}
		tried[kind]++
		if e.Error == "" || slices.ContainsFunc(crashed, func(c detect.Crash) bool { return slices.Contains(e.Nodes, c.Node) }) {
			worked[kind]++
		}
	}
	var never []string
	for _, kind := range slices.Sorted(maps.Keys(due)) {
		if tried[kind] > 0 && worked[kind] == 0 {
			never = append(never, fmt.Sprintf("%s (%d attempts, all failed)", kind, tried[kind]))
		}
	}
	if len(never) == 0 {
		return checker.Result{}, true
	}
	sort.Strings(never)
	return unknown("nemesis", "scheduled faults never took effect: "+strings.Join(never, ", ")+"; the run did not test what its scenario says"), false
}
