package harness

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/converge"
	"github.com/dqtest/dqtest/detect"
	"github.com/dqtest/dqtest/history"
	"github.com/dqtest/dqtest/mode"
	"github.com/dqtest/dqtest/nemesis"
	"github.com/dqtest/dqtest/scenario"
	"github.com/dqtest/dqtest/verdict"
	"github.com/dqtest/dqtest/workloads"
)

// Options are how to run a scenario, as opposed to what to run.
type Options struct {
	// Backend brings up the cluster of a docker scenario.
	Backend Backend
	// Simulate runs a sim scenario (see Simulator). A scenario whose
	// backend is sim needs it: sim.Simulator(bug) is the simulator's.
	Simulate Simulator
	// SimBug names the bug the caller's Simulate injects ("" for none),
	// so that results.json says so.
	SimBug string
	// RunsDir is the root of run directories: a run goes to
	// RunsDir/<scenario>/<timestamp>/. Default "runs".
	RunsDir string
	// RunDir, when set, is the run directory itself (it must not exist or
	// be empty); RunsDir and the latest link are then not used.
	RunDir string
	// Image is the node image (docker backend); empty means the backend's
	// default (dqtest-node:latest, built by `make image`).
	Image string
	// SetupTimeout bounds bringing the cluster up and the workload's
	// setup. Default 3 minutes.
	SetupTimeout time.Duration
	// TeardownTimeout bounds removing the cluster. Default 2 minutes.
	TeardownTimeout time.Duration
	// Log receives progress lines. Default slog.Default().
	Log *slog.Logger
	// Observe, when set, sees every event once it is in the history (a
	// live status line counts operations and faults from them). It is
	// called from several goroutines at once and must be quick.
	Observe func(history.Event)
	// WriteReport, when set, writes a report for people into the run
	// directory once results.json is there: `dqtest run` sets it to
	// report.WriteDir (report.html). Its error is logged and never changes
	// the verdict.
	WriteReport func(dir string) error
}

// Simulator runs a whole scenario in virtual time: cluster, workload,
// nemesis, healing and final reads. Simulate calls record for every event,
// in order, with Time in virtual nanoseconds since the start, and returns
// what the run saw beyond its history (each node's exit and log, the
// recovery, the replicas' states), which the verdict reads as it reads a
// real run's. The harness does the rest: run directory, history file,
// verdict. Supports says, before anything runs, whether the simulator can
// model the scenario at all: a scenario it cannot model is refused, never
// run with parts of it ignored.
type Simulator interface {
	Supports(sc scenario.Scenario) error
	Simulate(ctx context.Context, rs *scenario.Resolved, record func(history.Event) error) (verdict.Observations, error)
}

// UnsupportedError is a scenario a backend cannot run as written (a fault
// it cannot do, a field it cannot model). `dqtest run` reports such a
// scenario as skipped, with the reason, rather than as a failure.
type UnsupportedError struct {
	Backend string
	// Field is the scenario field the backend cannot honour.
	Field string
	Msg   string
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("the %s backend cannot run this scenario: %s: %s", e.Backend, e.Field, e.Msg)
}

// Run runs a scenario and returns what it found: it brings a cluster up,
// runs the workload's clients and the nemesis for the scenario's time
// limit, heals, waits for recovery, does the final reads through every
// node, collects every node's log and exit status, tears the cluster down,
// checks the history and writes the run directory (docs/run-directory.md).
//
// Run is the library form of `dqtest run` and works from a go test. Its
// error is for runs that could not reach a verdict (a harness failure, a
// cancelled ctx); the Result is then partial and its Outcome unknown, but
// returned when a run directory exists, and the history stays on disk.
// The cluster is removed on every path: success, failure, panic (turned
// into an error) and cancellation (teardown gets a fresh context).
func Run(ctx context.Context, sc scenario.Scenario, opts Options) (res *verdict.Result, err error) {
	opts = opts.withDefaults()
	log := opts.Log.With("scenario", sc.Name)
	seedGiven := sc.Seed != 0
	rs, err := sc.Resolve()
	if err != nil {
		return nil, err
	}
	sc = rs.Scenario
	if !seedGiven {
		log.Info("seed chosen", "seed", sc.Seed)
	}
	var backendName string
	switch {
	case sc.Backend == mode.Sim && opts.Simulate == nil:
		return nil, errors.New("scenario wants the sim backend, but no simulator was given (Options.Simulate)")
	case sc.Backend == mode.Sim:
		backendName = "simulator"
	case opts.Backend == nil:
		return nil, errors.New("no backend given (Options.Backend)")
	default:
		backendName = opts.Backend.Name()
	}
	// Refuse, before anything runs, what the backend cannot do: a run
	// would otherwise be judged on faults that never happened.
	if sc.Backend == mode.Sim {
		if err := opts.Simulate.Supports(sc); err != nil {
			return nil, err
		}
	} else if err := nemesis.Missing(sc.Nemesis, backendName, opts.Backend.Capabilities()); err != nil {
		return nil, &UnsupportedError{Backend: backendName, Field: "nemesis.faults", Msg: err.Error()}
	}
	started := time.Now()
	dir := opts.RunDir
	if dir == "" {
		dir, err = newRunDir(opts.RunsDir, sc.Name, started)
		if err != nil && dir == "" {
			return nil, fmt.Errorf("run directory: %w", err)
		} else if err != nil {
			log.Warn("run directory", "error", err)
		}
	} else if err := os.MkdirAll(filepath.Join(dir, verdict.NodesDir), 0o755); err != nil {
		return nil, fmt.Errorf("run directory: %w", err)
	}
	res = &verdict.Result{
		Scenario: sc.Name, Backend: backendName, Seed: sc.Seed, Dir: dir, Expect: sc.Expect,
		Verdict: checker.Unknown, Outcome: checker.Unknown, Nodes: map[string]detect.NodeExit{},
		Crashes: []detect.Crash{}, Checkers: []checker.Result{}, Started: started,
	}
	if sc.Backend == mode.Sim {
		res.SimBug = opts.SimBug
	}
	scYAML, err := sc.Marshal()
	if err == nil {
		err = verdict.WriteFileAtomic(filepath.Join(dir, verdict.ScenarioFile), scYAML)
	}
	if err != nil {
		return res, fmt.Errorf("writing the resolved scenario: %w", err)
	}
	w, err := history.Create(filepath.Join(dir, verdict.HistoryFile))
	if err != nil {
		return res, fmt.Errorf("history: %w", err)
	}
	rec := &recorder{w: w, start: time.Now(), observe: opts.Observe}
	log.Info("run started", "dir", dir, "backend", backendName, "nodes", sc.Nodes, "workload", sc.Workload.Name,
		"faults", strings.Join(sc.Nemesis.Faults, ","), "time_limit", sc.TimeLimit, "seed", sc.Seed)

	r := &run{rs: rs, sc: sc, opts: opts, log: log, wl: rs.Workload, rec: rec, res: res, dir: dir}
	defer func() {
		// Whatever happened, the history is closed and results.json
		// says how far the run got.
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
			func() {
				defer func() { _ = recover() }() // the logs are a bonus; the teardown is not
				r.collect()
			}()
			r.teardown()
		}
		if cerr := w.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("history: %w", cerr)
		}
		if err != nil {
			res.Error = err.Error()
			res.Verdict, res.Outcome = checker.Unknown, checker.Unknown
		}
		res.Phases.Total = time.Since(started).Seconds()
		if werr := verdict.WriteJSON(filepath.Join(dir, verdict.ResultsFile), res); werr != nil && err == nil {
			err = fmt.Errorf("results: %w", werr)
		}
		if opts.WriteReport != nil {
			if rerr := opts.WriteReport(dir); rerr != nil {
				log.Warn("writing the report", "dir", dir, "error", rerr)
			}
		}
	}()

	if sc.Backend == mode.Sim {
		err = r.simulate(ctx)
	} else {
		err = r.live(ctx)
	}
	if rerr := rec.err(); rerr != nil && err == nil {
		err = fmt.Errorf("history: %w", rerr)
	}
	if err != nil {
		// No verdict, but a node that crashed on the way is worth knowing.
		// The history file is still open for writing: flush it first.
		_ = w.Close()
		src := history.FileSource(filepath.Join(dir, verdict.HistoryFile))
		out := verdict.Compute(context.WithoutCancel(ctx), verdict.Input{Scenario: rs, Source: src, Obs: r.observations(), Dir: dir})
		res.Crashes, res.Ops = out.Crashes, out.Ops
		return res, err
	}
	if err := w.Close(); err != nil {
		return res, fmt.Errorf("history: %w", err)
	}
	r.check(ctx)
	log.Info("run finished", "verdict", res.Verdict, "outcome", res.Outcome, "dir", dir)
	return res, ctx.Err()
}

func (o Options) withDefaults() Options {
	if o.RunsDir == "" {
		o.RunsDir = "runs"
	}
	if o.SetupTimeout <= 0 {
		o.SetupTimeout = 3 * time.Minute
	}
	if o.TeardownTimeout <= 0 {
		o.TeardownTimeout = 2 * time.Minute
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return o
}

// run is the state of one Run.
type run struct {
	rs   *scenario.Resolved
	sc   scenario.Scenario // rs.Scenario
	opts Options
	log  *slog.Logger
	wl   workloads.Workload
	rec  *recorder
	res  *verdict.Result
	dir  string

	cluster  Cluster
	downOnce sync.Once
	reports  []detect.NodeReport
	// recovery is the wait for the cluster after healing (nil: not
	// measured), states the replicas' contents after the final reads.
	recovery *verdict.Recovery
	states   []converge.State
	skipped  string
	// nextProcess is the next unused process number after the clients'
	// own (for final reads).
	nextProcess int
	// workloadStart and workloadEnd bound the workload phase, in history
	// time (ns since the run started); 0 when unknown (simulator).
	workloadStart, workloadEnd int64
	// watched is the live cluster behind the nemesis (hang.go), and
	// deadExits the exit statuses of dead nodes revive restarted.
	watched   *watchedCluster
	deadExits map[string]detect.NodeExit
}

// live runs the scenario against a real backend, in real time.
func (r *run) live(parent context.Context) error {
	sc := r.sc
	// The global deadline: every phase's own bound plus slack. Teardown
	// and checking have their own.
	budget := r.opts.SetupTimeout + sc.TimeLimit + sc.OpTimeout + 2*time.Minute + sc.RecoveryTimeout +
		time.Duration(len(r.wl.FinalOps())*sc.Nodes+1)*sc.FinalReadsTimeout
	ctx, cancel := context.WithTimeout(parent, budget)
	defer cancel()
	defer r.teardown()

	phase := time.Now()
	steps := r.rs.Plan
	upCtx, upCancel := context.WithTimeout(ctx, r.opts.SetupTimeout)
	defer upCancel()
	r.log.Info("starting cluster", "backend", r.opts.Backend.Name(), "nodes", sc.Nodes)
	r.res.RunID = runID(sc.Name, r.res.Started)
	cluster, err := r.opts.Backend.Up(upCtx, ClusterSpec{
		RunID: r.res.RunID, Nodes: sc.Nodes, Image: r.opts.Image,
		Dqlite: sc.Dqlite.Version, NodeDqlite: sc.Dqlite.Nodes,
		NodeArgs: sc.NodeArgsWithDqlite(), StopMode: sc.StopMode, DataDirSize: sc.DataDirSize,
		ClientMode: sc.Client,
	})
	if cluster != nil {
		r.cluster = r.watch(cluster)
		if b, ok := cluster.(Builder); ok {
			r.res.Dqlite = b.Builds()
		}
	}
	if err != nil {
		r.collect()
		return fmt.Errorf("starting the cluster: %w", err)
	}
	if err := r.setup(upCtx); err != nil {
		r.collect()
		return err
	}
	r.res.Phases.Startup = time.Since(phase).Seconds()

	phase = time.Now()
	r.log.Info("workload running", "concurrency", sc.Concurrency, "rate", sc.Rate, "for", sc.TimeLimit, "fault_steps", len(steps))
	applier := nemesis.NewApplier()
	if err := r.workload(ctx, steps, applier); err != nil {
		r.collect()
		return err
	}
	workloadSeconds := time.Since(phase).Seconds()
	r.res.Phases.Workload = workloadSeconds

	phase = time.Now()
	if ctx.Err() == nil {
		r.heal(ctx, applier)
		r.revive(ctx)
		r.recover(ctx)
		r.finalReads(ctx)
		r.readStates(ctx)
	}
	r.collect()
	r.res.Phases.Recovery = time.Since(phase).Seconds()

	phase = time.Now()
	r.teardown()
	r.res.Phases.Teardown = time.Since(phase).Seconds()
	if ctx.Err() != nil {
		if parent.Err() != nil {
			return fmt.Errorf("run interrupted: %w", parent.Err())
		}
		return fmt.Errorf("run exceeded its global deadline of %s", budget)
	}
	return nil
}

// runID names a run for the backend's containers and networks.
// The docker backend allows 48 characters.
func runID(name string, t time.Time) string {
	name = strings.ToLower(name)
	if len(name) > 24 {
		name = name[:24]
	}
	return fmt.Sprintf("%s-%s-%04x", name, t.UTC().Format("20060102t150405"), rand.IntN(1<<16))
}

// setup runs the workload's Setup through one node, trying the nodes in
// turn until one succeeds: right after start-up the cluster may still be
// electing its first leader.
func (r *run) setup(ctx context.Context) error {
	var last error
	for attempt := 0; ; attempt++ {
		node := r.cluster.Nodes()[attempt%len(r.cluster.Nodes())]
		opCtx, cancel := context.WithTimeout(ctx, r.sc.OpTimeout)
		last = r.wl.Setup(opCtx, r.cluster.Client(node))
		cancel()
		if last == nil {
			r.log.Info("workload set up", "workload", r.wl.Name(), "through", node, "attempts", attempt+1)
			return nil
		}
		r.log.Debug("workload setup failed, retrying", "node", node, "error", last)
		select {
		case <-ctx.Done():
			return fmt.Errorf("workload setup: no node succeeded before the deadline: %w", last)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// workload runs the clients and the nemesis until the time limit.
func (r *run) workload(ctx context.Context, steps []nemesis.Step, applier nemesis.Applier) error {
	sc := r.sc
	start := time.Now()
	end := start.Add(sc.TimeLimit)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r.workloadStart = start.Sub(r.rec.start).Nanoseconds()
	defer func() { r.workloadEnd = time.Since(r.rec.start).Nanoseconds() }()

	var clients, others sync.WaitGroup
	var failMu sync.Mutex
	var failure error
	fail := func(err error) {
		failMu.Lock()
		if failure == nil {
			failure = err
		}
		failMu.Unlock()
		cancel()
	}
	// A panic in a goroutine would end the process without the cleanup
	// in Run: turn it into a run error instead.
	spawn := func(wg *sync.WaitGroup, name string, f func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if p := recover(); p != nil {
					fail(fmt.Errorf("panic in %s: %v\n%s", name, p, debug.Stack()))
				}
			}()
			f()
		}()
	}

	nodes := r.cluster.Nodes()
	var interval time.Duration
	if sc.Rate > 0 {
		interval = time.Duration(float64(sc.Concurrency) / sc.Rate * float64(time.Second))
	}
	for slot := 0; slot < sc.Concurrency; slot++ {
		c := client{
			slot: slot, concurrency: sc.Concurrency, node: nodes[slot%len(nodes)],
			gen: r.wl.Generator(sc.Seed, slot), wl: r.wl, rec: r.rec, opTimeout: sc.OpTimeout,
			interval: interval, pace: rand.New(rand.NewPCG(uint64(sc.Seed), 0x9ace0000+uint64(slot))),
		}
		c.cl = r.cluster.Client(c.node)
		spawn(&clients, fmt.Sprintf("client %d", slot), func() {
			last := c.loop(wctx, ctx, start, end)
			failMu.Lock()
			r.nextProcess = max(r.nextProcess, last+1)
			failMu.Unlock()
		})
	}
	// The nemesis stops with the clients: a step that is late (the one
	// before it took long) is not applied after the workload ended, since
	// it could only disturb the recovery; HealAll undoes what is in force.
	clientsDone := make(chan struct{})
	spawn(&others, "nemesis", func() { r.nemesis(wctx, clientsDone, start, steps, applier) })
	go r.progress(clientsDone, start)
	clients.Wait()
	close(clientsDone)
	others.Wait()
	return failure
}

// progress logs the operation counts every ten seconds of the workload.
func (r *run) progress(done <-chan struct{}, start time.Time) {
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
			r.log.Info("progress", "elapsed", time.Since(start).Round(time.Second),
				"ok", r.rec.ok.Load(), "fail", r.rec.fail.Load(), "info", r.rec.info.Load())
		}
	}
}

// nemesis applies each step at its offset from the workload's start, until
// the clients are done. A step being applied then completes, within its
// own deadline.
func (r *run) nemesis(ctx context.Context, clientsDone <-chan struct{}, start time.Time, steps []nemesis.Step, applier nemesis.Applier) {
	over := func(i int) bool {
		select {
		case <-clientsDone:
			r.log.Warn("nemesis steps left out: the workload ended before their time came", "steps", len(steps)-i)
			return true
		default:
			return false
		}
	}
	for i, st := range steps {
		if over(i) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-clientsDone:
			over(i)
			return
		case <-time.After(time.Until(start.Add(st.At))):
		}
		sctx, cancel := context.WithTimeout(ctx, r.stepTimeout())
		rec := applier.Apply(sctx, r.cluster, st)
		cancel()
		r.recordFault(rec)
	}
}

// stepTimeout bounds one fault action: a handover or a restart can take a
// while, but never the whole run.
func (r *run) stepTimeout() time.Duration { return max(30*time.Second, 2*r.sc.OpTimeout) }

func (r *run) recordFault(rec nemesis.Record) {
	e := history.Event{Process: history.Nemesis, Type: history.Info, F: rec.F, Nodes: rec.Nodes, Value: rec.Value}
	if rec.Err != nil {
		e.Error = rec.Err.Error()
		r.log.Warn("fault failed", "f", rec.F, "nodes", rec.Nodes, "error", rec.Err)
	} else {
		r.log.Info("fault", "f", rec.F, "nodes", rec.Nodes)
	}
	r.rec.write(e)
}

// heal undoes every fault still in force.
func (r *run) heal(ctx context.Context, applier nemesis.Applier) {
	hctx, cancel := context.WithTimeout(ctx, 2*r.stepTimeout())
	defer cancel()
	for _, rec := range applier.HealAll(hctx, r.cluster) {
		r.recordFault(rec)
	}
}

// recover waits until the cluster has a leader and every node answers a
// query through its control API.
func (r *run) recover(ctx context.Context) {
	start := time.Now()
	rctx, cancel := context.WithTimeout(ctx, r.sc.RecoveryTimeout)
	defer cancel()
	for {
		leader, node, err := r.answering(rctx)
		if err == nil {
			r.recovery = &verdict.Recovery{Recovered: true, Seconds: time.Since(start).Seconds(), Leader: leader}
			r.log.Info("cluster recovered", "leader", leader, "after", time.Since(start).Round(time.Millisecond))
			return
		}
		select {
		case <-rctx.Done():
			r.recovery = &verdict.Recovery{Seconds: time.Since(start).Seconds(), Error: err.Error(), Node: node}
			if node != "" {
				r.recovery.Answer = errors.Unwrap(err).Error()
			}
			r.log.Warn("cluster did not recover", "within", r.sc.RecoveryTimeout, "error", err)
			return
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// answering returns the leader when the cluster has one and every node
// answers a query; else the node that did not answer ("" when there was no
// leader) and why.
func (r *run) answering(ctx context.Context) (leader, node string, err error) {
	qctx, cancel := context.WithTimeout(ctx, r.sc.OpTimeout)
	defer cancel()
	leader, err = r.cluster.Leader(qctx)
	if err != nil {
		return "", "", fmt.Errorf("no leader: %w", err)
	}
	for _, n := range r.cluster.Nodes() {
		if _, err := r.cluster.Client(n).Query(qctx, "SELECT 1"); err != nil {
			return "", n, fmt.Errorf("%s does not answer: %w", n, err)
		}
	}
	return leader, "", nil
}

// finalReads runs the workload's final operations through every node, each
// retried (as a new operation, by a new process after an info) until it
// succeeds or the final-reads deadline passes.
func (r *run) finalReads(ctx context.Context) {
	ops := r.wl.FinalOps()
	if len(ops) == 0 {
		return
	}
	fctx, cancel := context.WithTimeout(ctx, r.sc.FinalReadsTimeout)
	defer cancel()
	for _, node := range r.cluster.Nodes() {
		cl := r.cluster.Client(node)
		for _, op := range ops {
			for {
				proc := history.Process(r.nextProcess)
				r.nextProcess++
				c := invoke(fctx, r.wl, cl, r.rec, proc, node, op, r.sc.OpTimeout)
				if c.Type == history.OK || fctx.Err() != nil {
					break
				}
				r.log.Debug("final read did not succeed, retrying", "node", node, "f", op.F, "type", c.Type, "error", c.Error)
				select {
				case <-fctx.Done():
				case <-time.After(250 * time.Millisecond):
				}
			}
		}
	}
}

// StateReader is a cluster that can read one node's own copy of the
// workload's data (docker: leadership moved to the node, then read through
// it), for the replica-convergence check.
type StateReader interface {
	NodeState(ctx context.Context, node string, queries []workloads.StateQuery) converge.State
}

// readStates reads every node's own copy of the workload's data after the
// final reads, for the convergence check (when the scenario has it on).
func (r *run) readStates(ctx context.Context) {
	if !r.sc.Checker.ConvergenceOn() {
		return
	}
	queries := workloads.StateQueries(r.wl)
	if len(queries) == 0 {
		r.skipped = fmt.Sprintf("the %s workload has no state queries", r.wl.Name())
		return
	}
	var sr StateReader
	if r.watched != nil {
		sr, _ = r.watched.Cluster.(StateReader)
	} else {
		sr, _ = r.cluster.(StateReader)
	}
	if sr == nil {
		r.skipped = fmt.Sprintf("the %s backend cannot read a node's own copy", r.opts.Backend.Name())
		return
	}
	began := time.Now()
	// Each node gets the final-reads timeout: a transfer and a read.
	for _, n := range r.cluster.Nodes() {
		nctx, cancel := context.WithTimeout(ctx, r.sc.FinalReadsTimeout)
		r.states = append(r.states, sr.NodeState(nctx, n, queries))
		cancel()
	}
	r.log.Info("replica states read", "nodes", len(r.states), "took", time.Since(began).Round(time.Millisecond))
}

// collect reads every node's exit status and log, with a fresh context so
// that it works after a cancellation, and writes the logs to nodes/.
func (r *run) collect() {
	if r.cluster == nil || r.reports != nil {
		return
	}
	// The builds again: an upgrade or downgrade fault changed nodes'
	// images during the run.
	c := r.cluster
	if r.watched != nil {
		c = r.watched.Cluster
	}
	if b, ok := c.(Builder); ok {
		r.res.Dqlite = b.Builds()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, n := range r.cluster.Nodes() {
		rep := detect.NodeReport{Node: n}
		exit, err := r.cluster.Exit(ctx, n)
		if err != nil {
			r.log.Warn("node exit status", "node", n, "error", err)
		}
		rep.Exit = exit
		rep.Log, err = r.cluster.Logs(ctx, n)
		if err != nil {
			r.log.Warn("node log", "node", n, "error", err)
			rep.Log = append(rep.Log, fmt.Sprintf("\n[dqtest: reading this log failed: %v]\n", err)...)
		}
		r.reports = append(r.reports, rep)
	}
	r.writeNodeReports()
}

func (r *run) writeNodeReports() {
	for _, rep := range r.reports {
		r.res.Nodes[rep.Node] = rep.Exit
		if err := os.WriteFile(filepath.Join(r.dir, verdict.NodesDir, rep.Node+".log"), rep.Log, 0o644); err != nil {
			r.log.Warn("writing node log", "node", rep.Node, "error", err)
		}
	}
}

// teardown removes the cluster, once, with a fresh context: it must work
// after the run's context was cancelled.
func (r *run) teardown() {
	r.downOnce.Do(func() {
		if r.cluster == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), r.opts.TeardownTimeout)
		defer cancel()
		if err := r.cluster.Down(ctx); err != nil {
			r.log.Error("removing the cluster failed; leftovers carry the run's labels", "error", err)
		} else {
			r.log.Info("cluster removed")
		}
	})
}

// simulate runs the scenario through the simulator.
func (r *run) simulate(ctx context.Context) error {
	phase := time.Now()
	obs, err := r.opts.Simulate.Simulate(ctx, r.rs, func(e history.Event) error {
		e, err := r.rec.w.Write(e)
		if err == nil && r.opts.Observe != nil {
			r.opts.Observe(e)
		}
		return err
	})
	r.res.Phases.Workload = time.Since(phase).Seconds()
	r.reports = obs.Nodes
	r.recovery, r.states, r.skipped = obs.Recovery, obs.States, obs.ConvergenceSkipped
	r.writeNodeReports()
	return err
}

// observations are what the run saw beyond its history, for the verdict
// (and observations.json).
func (r *run) observations() verdict.Observations {
	obs := verdict.Observations{
		Nodes: r.reports, Recovery: r.recovery, States: r.states, ConvergenceSkipped: r.skipped,
		Dqlite:        oldestDqlite(r.res.Dqlite),
		WorkloadStart: r.workloadStart, WorkloadEnd: r.workloadEnd,
	}
	if r.watched != nil { // a live run
		obs.HistoryStart, obs.StepTimeout, obs.DeadExits = r.rec.start, r.stepTimeout(), r.deadExits
		obs.Hangs = r.watched.findings()
	}
	return obs
}

// check computes the verdict of the history as written (the same file
// `dqtest check` reads) through the one verdict path, writes the checker's
// artifacts and observations.json, and fills in the result.
func (r *run) check(ctx context.Context) {
	phase := time.Now()
	defer func() { r.res.Phases.Check = time.Since(phase).Seconds() }()
	obs := r.observations()
	if werr := verdict.WriteObservations(r.dir, obs); werr != nil {
		r.log.Warn("writing observations", "error", werr)
	}
	r.log.Info("checking", "workload", r.wl.Name())
	// The history is streamed from the file, never held whole.
	src := history.FileSource(filepath.Join(r.dir, verdict.HistoryFile))
	out := verdict.Compute(ctx, verdict.Input{Scenario: r.rs, Source: src, Obs: obs, Dir: r.dir})
	r.log.Info("checked", "events", out.Events)
	for name, data := range out.Artifacts {
		if err := os.WriteFile(filepath.Join(r.dir, filepath.Base(name)), data, 0o644); err != nil {
			r.log.Warn("writing checker artifact", "file", name, "error", err)
		}
	}
	out.Apply(r.res)
	for _, c := range r.res.Crashes {
		r.log.Warn("node crashed", "node", c.Node, "signature", c.Signature, "expected", c.Expected)
	}
}

// oldestDqlite is the oldest dqlite version of the builds the nodes ran
// ("" when none is known: the simulator).
func oldestDqlite(builds []verdict.Build) string {
	oldest := ""
	for _, b := range builds {
		if b.Dqlite != "" && (oldest == "" || scenario.CompareVersions(b.Dqlite, oldest) < 0) {
			oldest = b.Dqlite
		}
	}
	return oldest
}
