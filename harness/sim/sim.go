// Package sim is dqtest's simulator: an in-process, deterministic model of a
// dqlite cluster that runs a whole scenario (workload, nemesis schedule,
// healing, final reads) on a virtual clock, and can inject known classes of
// bugs to prove that the scenarios and checkers catch them.
//
// A run is a pure function of its Config: one discrete-event scheduler, one
// seeded random source, no goroutines, no wall clock, no map iteration, so
// the same scenario, seed and bug give a byte-identical history.
//
// It is a test double for the harness, never a stand-in for dqlite: see
// docs/simulator.md for what the model does and what it leaves out.
package sim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/dqtest/dqtest/converge"
	"github.com/dqtest/dqtest/history"
	"github.com/dqtest/dqtest/mode"
	"github.com/dqtest/dqtest/nemesis"
	"github.com/dqtest/dqtest/workloads"
)

// Config is one simulated run. Zero fields take the defaults named below.
type Config struct {
	// Nodes is the cluster size, 1 to mode.MaxNodes; nodes are named
	// n1..nN. (Scenarios allow the odd sizes of mode.ClusterSizes; the
	// simulator's own tests also use even ones.)
	Nodes int
	// Workload gives the operations (its Name and Generator; the simulator
	// executes operations itself, at the level of docs/history.md).
	Workload workloads.Workload
	// Params are the workload's parameters as the scenario gives them; the
	// simulator needs the bank's accounts, total and allow_negative.
	Params workloads.Params
	// Concurrency is the number of client slots, at least 1 (a scenario's
	// default is two per node); slot i is bound to node i mod Nodes.
	Concurrency int
	// Rate is operations per second over all slots; 0 means as fast as the
	// cluster answers.
	Rate float64
	// Duration is how long (virtual time) clients issue operations.
	Duration time.Duration
	// Seed drives the generators, the network and the timeouts.
	Seed int64
	// Plan is the nemesis schedule; Applier applies it (the same Applier
	// the docker backend uses). Steps at or after Duration are not applied.
	Plan    []nemesis.Step
	Applier nemesis.Applier
	// Bug is "" or one of BugNames().
	Bug string
	// Record receives every history event, in order; *history.Writer is
	// one. Nil discards the history.
	Record Recorder
	// OpTimeout is every client operation's deadline. Default 5s.
	OpTimeout time.Duration
	// RecoveryTimeout bounds the wait, after healing, for a leader that
	// every node follows. Default 60s.
	RecoveryTimeout time.Duration
	// FinalReadsTimeout bounds the final reads through every node.
	// Default 30s.
	FinalReadsTimeout time.Duration
}

// Recorder receives history events. Events arrive with Index and Time set
// (Time is virtual nanoseconds since the run started).
type Recorder interface {
	Write(history.Event) (history.Event, error)
}

// Summary is what a run did, beyond its history.
type Summary struct {
	Backend string // always "sim"
	Bug     string
	// Ops counts client invocations (final reads included); OK, Fail and
	// Info their completions.
	Ops, OK, Fail, Info int
	Events              int64         // history events recorded
	WorkloadEnd         time.Duration // when clients stopped issuing
	End                 time.Duration // virtual time at the end of the run
	// Recovered says the healed cluster had a leader followed by every live
	// node before the final reads.
	Recovered bool
	// RecoveryTime is how long (virtual time) the wait for recovery took.
	RecoveryTime  time.Duration
	Elections     int // elections held (pre-votes excluded)
	LeaderChanges int
	// CommittedEntriesLost counts committed entries truncated (only the
	// lost-write bug does that).
	CommittedEntriesLost int
	// Steps counts scheduler events, a measure of the work simulated.
	Steps uint64
	// Nodes are the nodes' logs and exit status, for the crash detector.
	Nodes []NodeReport
}

// NodeReport is a node's log and process state at the end of the run, in
// the shape of detect.NodeExit.
type NodeReport struct {
	Name     string
	Log      []byte
	Running  bool
	ExitCode int
	Signal   string
	Restarts int
	// KilledByNemesis says the nemesis sent this node SIGKILL: such an exit
	// is the fault working, not a crash.
	KilledByNemesis bool
	// CrashedAt is when the node's process crashed (CrashOnDoubleStop), or
	// -1.
	CrashedAt time.Duration
	// State is the node's own copy of the workload's data at the end of
	// the run, for the convergence check (state.go); nil when the workload
	// has no state queries or the run failed.
	State *converge.State
}

// testHookCluster, when set by a test, gets each run's cluster.
var testHookCluster func(*cluster)

type discard struct{}

func (discard) Write(e history.Event) (history.Event, error) { return e, nil }

// Run simulates the run cfg describes and returns its summary. An error is
// a bad Config, a failed Recorder, ctx ending, or a broken invariant of the
// model itself (which a bug-free run must never show).
func Run(ctx context.Context, cfg Config) (Summary, error) {
	c, err := newCluster(ctx, cfg)
	if err != nil {
		return Summary{}, err
	}
	c.run()
	sum := c.summary()
	if c.err != nil {
		return sum, c.err
	}
	return sum, nil
}

func newCluster(ctx context.Context, cfg Config) (*cluster, error) {
	if cfg.OpTimeout == 0 {
		cfg.OpTimeout = 5 * time.Second
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if cfg.Nodes < 1 || cfg.Nodes > mode.MaxNodes {
		bad("nodes must be 1 to %d, got %d", mode.MaxNodes, cfg.Nodes)
	}
	if cfg.Workload == nil {
		bad("a workload is required")
	}
	if cfg.Concurrency < 1 {
		bad("concurrency must be at least 1, got %d", cfg.Concurrency)
	}
	if cfg.Rate < 0 {
		bad("rate must be 0 or more, got %v", cfg.Rate)
	}
	if cfg.Duration <= 0 {
		bad("duration must be positive, got %v", cfg.Duration)
	}
	if cfg.OpTimeout < 0 || cfg.RecoveryTimeout < 0 || cfg.FinalReadsTimeout < 0 {
		bad("timeouts must be positive")
	}
	if len(cfg.Plan) > 0 && cfg.Applier == nil {
		bad("a nemesis plan needs an applier")
	}
	if err := checkBug(cfg.Bug); err != nil {
		errs = append(errs, err)
	}
	var params workloads.Params
	if cfg.Workload != nil {
		p, err := workloads.Resolve(cfg.Workload.Name(), cfg.Params)
		if err != nil {
			errs = append(errs, err)
		}
		params = p
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	if cfg.RecoveryTimeout == 0 {
		cfg.RecoveryTimeout = 60 * time.Second
	}
	if cfg.FinalReadsTimeout == 0 {
		cfg.FinalReadsTimeout = 30 * time.Second
	}
	if ctx == nil {
		ctx = context.Background()
	}
	c := &cluster{
		cfg:       cfg,
		ctx:       ctx,
		rng:       rand.New(rand.NewPCG(uint64(cfg.Seed), 0x5eed5eed5eed5eed)),
		timing:    timing{election: 3 * second, heartbeat: 500 * millisecond},
		bug:       cfg.Bug,
		byName:    map[string]*node{},
		workload:  cfg.Workload.Name(),
		opTimeout: int64(cfg.OpTimeout),
		end:       int64(cfg.Duration),
		rec:       cfg.Record,
	}
	if c.rec == nil {
		c.rec = discard{}
	}
	if testHookCluster != nil {
		testHookCluster(c)
	}
	if cfg.Rate > 0 {
		c.interval = int64(float64(cfg.Concurrency) / cfg.Rate * float64(time.Second))
	}
	if c.workload == "bank" {
		c.balances = make([]int64, params.Accounts)
		n := int64(params.Accounts)
		for i := range c.balances {
			c.balances[i] = params.Total / n
			if int64(i) < params.Total%n {
				c.balances[i]++
			}
		}
		c.allowNegative = params.AllowNegative
	}
	n := cfg.Nodes
	c.cut = make([][]bool, n)
	c.link = make([][]int64, n)
	for i := range n {
		c.cut[i] = make([]bool, n)
		c.link[i] = make([]int64, n)
		c.initialVoters |= 1 << i
	}
	for i := range n {
		nd := &node{
			id: i, name: fmt.Sprintf("n%d", i+1),
			up: true, leader: -1, votedFor: -1, transferTo: -1,
			voters:     c.initialVoters,
			entries:    []entry{{term: 1, kind: entryConfig, voters: c.initialVoters}},
			baseVoters: c.initialVoters,
			commit:     1,
			applied:    1,
			term:       1,
			db:         newStore(c.balances),
			next:       make([]int64, n),
			match:      make([]int64, n),
			lastAck:    make([]int64, n),
			ackRound:   make([]uint64, n),
		}
		c.nodes = append(c.nodes, nd)
		c.byName[nd.name] = nd
	}
	for i := range cfg.Concurrency {
		c.clients = append(c.clients, &client{
			slot: i, process: i, node: c.nodes[i%n],
			gen: cfg.Workload.Generator(cfg.Seed, i),
		})
	}
	return c, nil
}

// run is the whole run: bootstrap, workload under the nemesis, heal,
// recovery, final reads.
func (c *cluster) run() {
	cfg := c.cfg
	// Bootstrap as dqlite does: n1 forms the cluster and leads term 1;
	// the others join it.
	for _, n := range c.nodes {
		c.startDqlite(n)
		n.votedFor = 0
	}
	c.becomeLeader(c.nodes[0])

	for _, cl := range c.clients {
		cl.next = c.gap() / 2
		c.sched.at(cl.next, func() { c.nextOp(cl) })
	}
	plan := slices.Clone(cfg.Plan)
	slices.SortStableFunc(plan, func(a, b nemesis.Step) int { return int(a.At - b.At) })
	c.applySteps(cfg.Applier, plan)

	// The workload: until the end, then until every operation completed.
	c.runUntil(func() bool { return c.sched.now >= c.end && c.inFlight == 0 }, c.end+2*c.opTimeout)
	c.stats.WorkloadEnd = time.Duration(c.sched.now)
	if c.err != nil {
		return
	}

	if cfg.Applier != nil {
		for _, r := range cfg.Applier.HealAll(c.ctx, c) {
			c.recordNemesis(r)
		}
	}
	healed := c.sched.now
	c.stats.Recovered = c.runUntil(c.recovered, c.sched.now+int64(cfg.RecoveryTimeout))
	c.stats.RecoveryTime = time.Duration(c.sched.now - healed)
	if c.err != nil {
		return
	}
	c.finalOps(cfg)
	if c.err == nil {
		c.settle()
	}
}

// applySteps applies the plan's steps one after another at their offsets.
// The next step is scheduled only once the previous one returned: a step
// that waits (a handover) delays the ones after it, as in the real harness.
func (c *cluster) applySteps(a nemesis.Applier, plan []nemesis.Step) {
	if len(plan) == 0 || int64(plan[0].At) >= c.end {
		return
	}
	s := plan[0]
	c.sched.at(int64(s.At), func() {
		c.recordNemesis(a.Apply(c.ctx, c, s))
		c.applySteps(a, plan[1:])
	})
}

func (c *cluster) recordNemesis(r nemesis.Record) {
	e := history.Event{Process: history.Nemesis, Type: history.Info, F: r.F, Nodes: r.Nodes, Value: history.Normalize(r.Value)}
	if r.Err != nil {
		e.Error = r.Err.Error()
	}
	c.record(e)
}

// recovered reports whether the cluster has a ready leader and every node
// is running and follows it (the harness's test: a leader, and every node
// answers a query through its control API).
func (c *cluster) recovered() bool {
	name, err := c.Leader(c.ctx)
	if err != nil {
		return false
	}
	l := c.byName[name]
	if !l.ready() {
		return false
	}
	for _, n := range c.nodes {
		if n != l && (!n.up || !n.running || n.paused || n.leader != l.id || !c.canReach(n, l)) {
			return false
		}
	}
	return true
}

// finalOps runs the workload's final operations through every node in
// turn, as the harness does: each retried, as a new operation by a new
// process, every 250 ms until it succeeds or FinalReadsTimeout passes.
func (c *cluster) finalOps(cfg Config) {
	ops := cfg.Workload.FinalOps()
	if len(ops) == 0 {
		return
	}
	process := 0
	for _, cl := range c.clients {
		process = max(process, cl.process+1)
	}
	deadline := c.sched.now + int64(cfg.FinalReadsTimeout)
	for _, n := range c.nodes {
		for _, op := range ops {
			for c.err == nil {
				done, got := false, history.Type("")
				c.invoke(process, n, op, func(t history.Type) { done, got = true, t })
				process++
				c.runUntil(func() bool { return done }, c.sched.now+2*c.opTimeout)
				if got == history.OK || c.sched.now >= deadline {
					break
				}
				c.runUntil(func() bool { return false }, c.sched.now+250*millisecond)
			}
		}
	}
}

func (c *cluster) summary() Summary {
	s := c.stats
	s.Backend = "sim"
	s.Bug = c.bug
	s.Events = c.events
	s.End = time.Duration(c.sched.now)
	s.Steps = c.sched.steps
	var states []converge.State
	if c.err == nil {
		states = c.nodeStates()
	}
	for i, n := range c.nodes {
		r := NodeReport{
			Name: n.name, Log: append([]byte(nil), n.log.Bytes()...),
			Running: n.up, ExitCode: n.exit.exitCode, Signal: n.exit.signal,
			Restarts: n.exit.restarts, KilledByNemesis: n.exit.killed, CrashedAt: -1,
		}
		if n.exit.crashed {
			r.CrashedAt = time.Duration(n.exit.crashedAt)
		}
		if states != nil {
			r.State = &states[i]
		}
		s.Nodes = append(s.Nodes, r)
	}
	return s
}
