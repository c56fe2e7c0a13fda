// Package shrink turns a run that found something (an anomaly, a crash, a
// hang) into the smallest scenario that still shows it, and says how often
// that scenario reproduces it: the stage after a verdict, before a bug
// report (docs/shrink.md).
//
// The search starts from the run's resolved scenario with its fault plan
// written out as a timeline, and runs candidates through a Runner (the
// harness on the run's backend). A candidate reproduces when its run shows
// the same finding, compared by signature (Finding.Key). On the simulator
// that is exact: one run with the same seed. On a live backend a candidate
// gets up to Tries runs with fresh seeds and reproduces when any of them
// shows the finding. Steps, in order: the plan as a timeline (the
// baseline, which must reproduce); a cut after the time the finding
// appeared; the fault episodes in force around it alone; delta debugging
// over the episodes (the empty set, halves, quarters, ..., single ones, and
// their complements); each remaining episode moved earlier and its fault
// shortened; then one dimension at a time: a shorter time limit, fewer
// nodes (7 -> 5 -> 3, targets remapped, else the episodes on removed nodes
// dropped), fewer clients, a lower (or a higher rate with a shorter time
// limit), fewer keys or accounts, and the time limit once more. The client
// mode and the stop mode are never changed.
package shrink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/dqtest/dqtest/mode"
	"github.com/dqtest/dqtest/nemesis"
	"github.com/dqtest/dqtest/scenario"
	"github.com/dqtest/dqtest/verdict"
)

// ErrNothingToShrink is a run that found nothing: no anomaly, crash or
// hang.
var ErrNothingToShrink = errors.New("nothing to shrink: the run found no anomaly, crash or hang")

// Runner runs one scenario into the run directory dir (which does not
// exist yet) and returns its result, as harness.Run does with
// Options.RunDir. The shrinker sets the scenario's seed.
type Runner func(ctx context.Context, sc scenario.Scenario, dir string) (*verdict.Result, error)

// Options are how to shrink.
type Options struct {
	// Out is the shrink directory; it must not exist or be empty.
	Out string
	// Finding picks the finding when the run has several (see Pick).
	Finding string
	// Tries is how many runs with fresh seeds a candidate gets on a live
	// backend (default 3); the simulator runs each candidate once.
	Tries int
	// Confirm is how many times the shrunk scenario is run at the end to
	// measure its reproduction rate (default 10; 0 after a negative
	// value: none).
	Confirm int
	// MeasureOriginal also measures the original scenario's rate the same
	// way.
	MeasureOriginal bool
	// Budget bounds the search's wall time (0: none). The search stops
	// before a run that would start past it; the run under way finishes.
	Budget time.Duration
	// Run runs a candidate.
	Run Runner
	// Progress, when set, gets each log line as it is written.
	Progress io.Writer
	// Rerun is the command that runs a scenario file the way the original
	// was run, e.g. "dqtest run --backend sim --sim-bug stale-read"; the
	// report shows it with shrunk.yaml. Default "dqtest run".
	Rerun string
	// Log receives debug lines (default: discarded).
	Log *slog.Logger
}

// Stop reasons (Report.Stopped).
const (
	StoppedDone        = "done"
	StoppedBudget      = "budget"
	StoppedInterrupted = "interrupted"
)

// Size is what the report compares before and after.
type Size struct {
	Steps     int           `json:"steps"`
	Episodes  int           `json:"episodes"`
	TimeLimit time.Duration `json:"time_limit_ns"`
	Nodes     int           `json:"nodes"`
	Clients   int           `json:"clients"`
	Rate      float64       `json:"rate"`
	Keys      int           `json:"keys,omitempty"`
	Accounts  int           `json:"accounts,omitempty"`
	// Ops are the operations the run invoked.
	Ops int `json:"ops"`
}

// Rate is how often a scenario showed the finding: Reproduced of Runs.
type Rate struct {
	Runs       int     `json:"runs"`
	Reproduced int     `json:"reproduced"`
	Seeds      []int64 `json:"seeds"`
	// Errors counts runs that ended in a harness error (not reproduced).
	Errors int    `json:"errors,omitempty"`
	Dir    string `json:"dir"`
}

func (r Rate) String() string {
	s := fmt.Sprintf("%d of %d", r.Reproduced, r.Runs)
	if r.Errors > 0 {
		s += fmt.Sprintf(" (%d ended in a harness error)", r.Errors)
	}
	return s
}

// Attempt is one candidate: what changed and whether it reproduced.
type Attempt struct {
	ID     string `json:"id"`
	Change string `json:"change"`
	Size   Size   `json:"size"`
	// Runs are the candidate's run directories, relative to the shrink
	// directory; Seeds their seeds.
	Runs       []string      `json:"runs"`
	Seeds      []int64       `json:"seeds"`
	Reproduced bool          `json:"reproduced"`
	Wall       time.Duration `json:"wall_ns"`
	Error      string        `json:"error,omitempty"`
}

// Report is the shrink's outcome (shrink.json).
type Report struct {
	Source   string    `json:"source"`
	Out      string    `json:"out"`
	Finding  Finding   `json:"finding"`
	Findings []Finding `json:"findings"`
	Backend  string    `json:"backend"`
	SimBug   string    `json:"sim_bug,omitempty"`
	// Exact is true on the simulator: a candidate reproduces or not,
	// exactly, with its seed.
	Exact    bool           `json:"exact"`
	Tries    int            `json:"tries"`
	Original Size           `json:"original"`
	Shrunk   Size           `json:"shrunk"`
	Before   []nemesis.Step `json:"before"`
	After    []nemesis.Step `json:"after"`
	Attempts []Attempt      `json:"attempts"`
	// Best is the run directory of the best candidate (relative).
	Best    string `json:"best"`
	Stopped string `json:"stopped"`
	// Confirm is the shrunk scenario's rate; OriginalRate the original's
	// (with MeasureOriginal).
	Confirm      *Rate         `json:"confirm,omitempty"`
	OriginalRate *Rate         `json:"original_rate,omitempty"`
	Wall         time.Duration `json:"wall_ns"`
	// SearchWall is the search's part of Wall (the rest: confirmation
	// runs).
	SearchWall time.Duration `json:"search_wall_ns"`
	Rerun      string        `json:"rerun"`
	// Scenario is the shrunk scenario (shrunk.yaml).
	Scenario scenario.Scenario `json:"-"`
}

// Files of a shrink directory.
const (
	ShrunkFile     = "shrunk.yaml"
	LogFile        = "shrink.log"
	ReportFile     = "shrink.html"
	ReportJSONFile = "shrink.json"
	CandidatesDir  = "candidates"
	BestLink       = "best"
)

// cand is a candidate scenario in the dimensions the search changes.
type cand struct {
	eps         []Episode
	timeLimit   time.Duration
	nodes       int
	concurrency int
	rate        float64
	keys        int
	accounts    int
	nodeArgs    map[string][]string
	// dqliteNodes are per-node dqlite versions (scenario dqlite.nodes).
	dqliteNodes map[string]string
}

func (c cand) clone() cand {
	c.eps = slices.Clone(c.eps)
	for i := range c.eps {
		c.eps[i].Targets = slices.Clone(c.eps[i].Targets)
	}
	return c
}

type shrinker struct {
	opts     Options
	base     scenario.Scenario
	finding  Finding
	exact    bool
	tries    int
	best     cand
	bestRes  *verdict.Result
	bestSeed int64
	bestDir  string
	n        int
	seen     map[string]bool
	deadline time.Time
	stopped  string
	logf     *os.File
	report   *Report
}

// Run shrinks the finding of the run in runDir. It returns the report
// (also written as shrink.json, shrink.html, shrunk.yaml and shrink.log in
// Options.Out) or an error before anything was shrunk: ErrNothingToShrink
// for a run that found nothing, a bad --finding, a run directory that
// cannot be read, a baseline that does not reproduce.
func Run(ctx context.Context, runDir string, opts Options) (*Report, error) {
	began := time.Now()
	if opts.Run == nil {
		return nil, errors.New("shrink: no runner")
	}
	if opts.Tries <= 0 {
		opts.Tries = 3
	}
	if opts.Confirm == 0 {
		opts.Confirm = 10
	}
	if opts.Confirm < 0 {
		opts.Confirm = 0
	}
	if opts.Rerun == "" {
		opts.Rerun = "dqtest run"
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	orig, res, err := LoadRun(runDir)
	if err != nil {
		return nil, err
	}
	findings := Findings(res)
	finding, err := Pick(findings, opts.Finding)
	if err != nil {
		return nil, err
	}
	rs, err := orig.Resolve()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(runDir, verdict.ScenarioFile), err)
	}
	if err := prepareOut(opts.Out); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(opts.Out, LogFile))
	if err != nil {
		return nil, err
	}
	defer logf.Close()

	s := &shrinker{opts: opts, finding: finding, exact: orig.Backend == mode.Sim, seen: map[string]bool{}, logf: logf}
	s.tries = opts.Tries
	if s.exact {
		s.tries = 1
	}
	if opts.Budget > 0 {
		s.deadline = began.Add(opts.Budget)
	}
	s.base = orig
	s.base.Name = strings.TrimSuffix(orig.Name, "-shrunk") + "-shrunk"
	s.base.Expect = finding.Expect
	s.base.Expect.Recovery = orig.Expect.Recovery

	eps := Episodes(rs.Plan)
	start := cand{eps: eps, timeLimit: orig.TimeLimit, nodes: orig.Nodes, concurrency: orig.Concurrency, rate: orig.Rate,
		keys: orig.Workload.Keys, accounts: orig.Workload.Accounts, nodeArgs: orig.NodeArgs, dqliteNodes: orig.Dqlite.Nodes}
	s.report = &Report{
		Source: runDir, Out: opts.Out, Finding: finding, Findings: findings, Backend: res.Backend, SimBug: res.SimBug,
		Exact: s.exact, Tries: s.tries, Original: sizeOf(start, res), Before: rs.Plan, Rerun: opts.Rerun,
	}
	s.logln("dqtest shrink %s: finding %q (%s backend%s); %d findings in all: %s", runDir, finding.Key, res.Backend,
		simBugNote(res.SimBug), len(findings), keys(findings))
	s.logln("original: %s", describeSize(s.report.Original))
	if s.exact {
		s.logln("simulator: each candidate runs once with seed %d and reproduces or not, exactly", orig.Seed)
	} else {
		s.logln("live backend: each candidate runs up to %d times with fresh seeds and reproduces when any run shows the finding", s.tries)
	}

	if !s.try(ctx, start, "the fault plan as a timeline (baseline)") {
		if s.stopped != "" {
			return nil, fmt.Errorf("shrink stopped (%s) before the baseline reproduced", s.stopped)
		}
		what := "with the run's own seed (the run directory may come from another dqtest version)"
		if !s.exact {
			what = fmt.Sprintf("in %d runs with fresh seeds (a rare finding: try --tries more)", s.tries)
		}
		return nil, fmt.Errorf("the baseline (the run's scenario with its fault plan as a timeline) did not show %q %s; see %s",
			finding.Key, what, filepath.Join(opts.Out, LogFile))
	}
	if t, ok := findingTime(runDir, res, finding); ok {
		s.cutAt(ctx, t)
		s.aroundOnly(ctx, t)
	}
	s.ddmin(ctx)
	s.moveEarlier(ctx)
	s.shortenTime(ctx)
	s.fewerNodes(ctx)
	s.fewerClients(ctx)
	s.otherRate(ctx)
	s.fewerKeys(ctx)
	s.shortenTime(ctx)
	if s.stopped == "" {
		s.stopped = StoppedDone
	}
	s.report.SearchWall = time.Since(began)
	s.logln("search %s after %d candidates, %s: %s", s.stopped, s.n, s.report.SearchWall.Round(100*time.Millisecond), describeSize(sizeOf(s.best, s.bestRes)))

	if s.stopped != StoppedInterrupted && opts.Confirm > 0 {
		r := s.measure(ctx, "confirm", s.build(s.best), s.bestSeed, opts.Confirm)
		s.report.Confirm = &r
		s.logln("confirmation: the shrunk scenario showed %q in %s runs", finding.Key, r)
		if opts.MeasureOriginal && ctx.Err() == nil {
			o := orig
			o.Name = strings.TrimSuffix(orig.Name, "-shrunk")
			r := s.measure(ctx, "original", o, orig.Seed, opts.Confirm)
			s.report.OriginalRate = &r
			s.logln("the original scenario showed it in %s runs", r)
		}
		if ctx.Err() != nil {
			s.stopped = StoppedInterrupted
		}
	}
	s.report.Wall = time.Since(began)
	if err := s.writeOutputs(); err != nil {
		return s.report, err
	}
	return s.report, nil
}

func simBugNote(bug string) string {
	if bug == "" {
		return ""
	}
	return ", simulator bug " + bug
}

// LoadRun reads a run directory's resolved scenario and results.
func LoadRun(dir string) (scenario.Scenario, *verdict.Result, error) {
	res, err := verdict.ReadResult(dir)
	if err != nil {
		return scenario.Scenario{}, nil, fmt.Errorf("%s: not a run directory: %w", dir, err)
	}
	sc, err := scenario.Load(filepath.Join(dir, verdict.ScenarioFile))
	if err != nil {
		return scenario.Scenario{}, nil, err
	}
	if res.Scenario != "" {
		sc.Name = res.Scenario
	}
	if sc.Seed == 0 {
		sc.Seed = res.Seed
	}
	if sc.Seed == 0 {
		return sc, nil, fmt.Errorf("%s: the run directory records no seed", dir)
	}
	if (res.Backend == "simulator") != (sc.Backend == mode.Sim) {
		return sc, nil, fmt.Errorf("%s: results.json says backend %s, scenario.yaml %s", dir, res.Backend, sc.Backend)
	}
	return sc, res, nil
}

// prepareOut makes the shrink directory, which must not exist or be empty.
func prepareOut(dir string) error {
	if dir == "" {
		return errors.New("shrink: no output directory")
	}
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return fmt.Errorf("%s is not empty: give --out a new directory", dir)
	}
	return os.MkdirAll(filepath.Join(dir, CandidatesDir), 0o755)
}

func (s *shrinker) logln(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	fmt.Fprintln(s.logf, line)
	if s.opts.Progress != nil {
		fmt.Fprintln(s.opts.Progress, line)
	}
}

// build is the scenario of a candidate (seed not set).
func (s *shrinker) build(c cand) scenario.Scenario {
	sc := s.base
	sc.Seed = 0
	sc.Nodes = c.nodes
	sc.TimeLimit = c.timeLimit
	sc.Concurrency = c.concurrency
	sc.Rate = c.rate
	sc.Workload.Keys = c.keys
	sc.Workload.Accounts = c.accounts
	sc.NodeArgs = c.nodeArgs
	sc.Dqlite.Nodes = c.dqliteNodes
	sc.Nemesis = nemesis.Spec{Targets: s.base.Nemesis.Targets, PacketLoss: s.base.Nemesis.PacketLoss}
	if len(c.eps) > 0 {
		sc.Nemesis.Schedule = nemesis.Schedule{Kind: nemesis.Timeline, Timeline: Steps(c.eps)}
	}
	return sc
}

func sizeOf(c cand, res *verdict.Result) Size {
	sz := Size{Steps: StepCount(c.eps), Episodes: len(c.eps), TimeLimit: c.timeLimit, Nodes: c.nodes,
		Clients: c.concurrency, Rate: c.rate, Keys: c.keys, Accounts: c.accounts}
	if res != nil {
		sz.Ops = res.Ops.Invoked
	}
	return sz
}

func describeSize(sz Size) string {
	s := fmt.Sprintf("%s (%s), %s, %s, %s, rate %g", count(sz.Steps, "fault step"), count(sz.Episodes, "episode"),
		sz.TimeLimit, count(sz.Nodes, "node"), count(sz.Clients, "client"), sz.Rate)
	if sz.Keys > 0 {
		s += ", " + count(sz.Keys, "key")
	}
	if sz.Accounts > 0 {
		s += ", " + count(sz.Accounts, "account")
	}
	if sz.Ops > 0 {
		s += ", " + count(sz.Ops, "operation")
	}
	return s
}

// count is "1 thing" or "n things".
func count(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// over reports whether the search must stop: interrupted, or out of
// budget.
func (s *shrinker) over(ctx context.Context) bool {
	switch {
	case s.stopped != "":
	case ctx.Err() != nil:
		s.stopped = StoppedInterrupted
		s.logln("interrupted: keeping the best scenario so far")
	case !s.deadline.IsZero() && time.Now().After(s.deadline):
		s.stopped = StoppedBudget
		s.logln("budget of %s used up: keeping the best scenario so far", s.opts.Budget)
	}
	return s.stopped != ""
}

// try runs a candidate and, when it reproduces, makes it the best.
func (s *shrinker) try(ctx context.Context, c cand, change string) bool {
	if s.over(ctx) {
		return false
	}
	sc := s.build(c)
	probe := sc
	probe.Seed = 1
	if _, err := probe.Resolve(); err != nil {
		s.logln("---- skipped         %s: not a valid scenario: %s", change, firstLine(err.Error()))
		return false
	}
	key, err := probe.Marshal()
	if err == nil {
		if s.seen[string(key)] {
			return false
		}
		s.seen[string(key)] = true
	}
	s.n++
	at := Attempt{ID: fmt.Sprintf("c%03d", s.n), Change: change, Size: sizeOf(c, nil)}
	began := time.Now()
	var res *verdict.Result
	for t := 1; t <= s.tries; t++ {
		if t > 1 && s.over(ctx) {
			break
		}
		seed := s.base.Seed
		if !s.exact {
			seed = scenario.NewSeed()
		}
		sc.Seed = seed
		name := at.ID
		if t > 1 {
			name = fmt.Sprintf("%s-t%d", at.ID, t)
		}
		rel := filepath.Join(CandidatesDir, name)
		r, err := s.opts.Run(ctx, sc, filepath.Join(s.opts.Out, rel))
		at.Runs = append(at.Runs, rel)
		at.Seeds = append(at.Seeds, seed)
		if err != nil {
			at.Error = err.Error()
			if ctx.Err() != nil {
				s.over(ctx)
				break
			}
			continue
		}
		if Shows(r, s.finding) {
			at.Reproduced, res = true, r
			break
		}
	}
	at.Wall = time.Since(began)
	if res != nil {
		at.Size.Ops = res.Ops.Invoked
	}
	s.report.Attempts = append(s.report.Attempts, at)
	outcome := "not reproduced"
	if at.Reproduced {
		outcome = "reproduced"
	}
	detail := fmt.Sprintf("%d run", len(at.Runs))
	if len(at.Runs) != 1 {
		detail += "s"
	}
	if at.Error != "" {
		detail += ", error: " + firstLine(at.Error)
	}
	s.logln("%s %-15s %s [%s; %s] %s; %s", at.ID, outcome, change, detail, at.Wall.Round(10*time.Millisecond),
		compactSize(at.Size), strings.Join(at.Runs, " "))
	if !at.Reproduced {
		return false
	}
	s.best, s.bestRes, s.bestSeed = c.clone(), res, sc.Seed
	s.bestDir = at.Runs[len(at.Runs)-1]
	if err := s.writeBest(); err != nil {
		s.logln("writing the best scenario so far: %v", err)
	}
	return true
}

func compactSize(sz Size) string {
	return fmt.Sprintf("%s, %s, %s, %s", count(sz.Steps, "step"), sz.TimeLimit, count(sz.Nodes, "node"), count(sz.Clients, "client"))
}

func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}

// measure runs sc n times (with seeds seed, seed+1, ... on the simulator;
// fresh seeds on a live backend) and counts the runs that showed the
// finding.
func (s *shrinker) measure(ctx context.Context, what string, sc scenario.Scenario, seed int64, n int) Rate {
	r := Rate{Dir: what}
	for i := 0; i < n && ctx.Err() == nil; i++ {
		sc.Seed = seed + int64(i)
		if !s.exact {
			sc.Seed = scenario.NewSeed()
		}
		res, err := s.opts.Run(ctx, sc, filepath.Join(s.opts.Out, what, fmt.Sprintf("r%02d", i+1)))
		if err != nil && ctx.Err() != nil {
			break
		}
		r.Runs++
		r.Seeds = append(r.Seeds, sc.Seed)
		switch {
		case err != nil:
			r.Errors++
		case Shows(res, s.finding):
			r.Reproduced++
		}
	}
	return r
}

// findingTime is when the finding first showed, from the workload's start:
// the last operation of its earliest anomaly, or the crash or hang (from
// the evidence's time, else the time of the log line before the crash
// report). ok is false when the run does not say.
func findingTime(dir string, res *verdict.Result, f Finding) (time.Duration, bool) {
	obs, err := verdict.ReadObservations(dir)
	if err != nil {
		return 0, false
	}
	best := time.Duration(-1)
	keep := func(t time.Duration) {
		if t >= 0 && (best < 0 || t < best) {
			best = t
		}
	}
	base := obs.HistoryStart
	if base.IsZero() {
		base = time.Unix(0, 0).UTC() // the simulator logs in virtual time from the epoch
	}
	switch f.Class {
	case ClassAnomaly:
		for _, r := range res.Checkers {
			for _, a := range r.Anomalies {
				if "anomaly "+a.Kind != f.Key || len(a.Ops) == 0 {
					continue
				}
				last := int64(0)
				for _, e := range a.Ops {
					last = max(last, e.Time)
				}
				keep(time.Duration(last - obs.WorkloadStart))
			}
		}
	default:
		for _, c := range res.Crashes {
			if CrashFinding(c).Key != f.Key {
				continue
			}
			switch {
			case c.InFlight != nil:
				// At is the node's last log line before the crash, which
				// may be long before it on a quiet node; the record of the
				// fault step in flight was written after the crash.
				at := time.Duration(c.InFlight.At * 1e9)
				if f := c.InFlight.Fault; f != nil && c.InFlight.Relation == "in_flight" {
					at = max(at, time.Duration(f.Time))
				}
				keep(at - time.Duration(obs.WorkloadStart))
			case c.LogTime != "":
				if t, err := time.Parse(time.RFC3339Nano, c.LogTime); err == nil {
					keep(t.Sub(base) - time.Duration(obs.WorkloadStart))
				}
			}
		}
	}
	return best, best >= 0
}
