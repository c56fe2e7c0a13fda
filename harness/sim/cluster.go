package sim

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/dqtest/dqtest/history"
	"github.com/dqtest/dqtest/nemesis"
)

const (
	microsecond = int64(time.Microsecond)
	millisecond = int64(time.Millisecond)
	second      = int64(time.Second)
)

// retryInterval is how often a node looks for a leader again while a
// request waits for one.
const retryInterval = 100 * millisecond

// timing holds the model's time constants, in virtual nanoseconds.
type timing struct {
	election  int64 // election timeout (randomized to [T, 2T))
	heartbeat int64
}

// node is one simulated dqlite node: a process (which can die, be frozen,
// or keep running with dqlite stopped), its Raft state and its database.
type node struct {
	id   int
	name string

	// The process.
	up       bool   // the process is alive
	running  bool   // dqlite is started (Stop leaves the process alive)
	paused   bool   // frozen: deliveries and timers wait in deferred
	proc     uint64 // bumped when the process dies or starts: connections to it break
	inc      uint64 // bumped when dqlite stops or starts: its timers and messages die
	deferred []func()
	log      bytes.Buffer
	exit     exitState

	// Raft state kept on disk.
	term     int64
	votedFor int
	entries  []entry // the log from index base+1 on
	voters   uint64  // the configuration of the newest config entry in the log
	// base is the last index compacted away (see compactLogs): every node
	// had applied it. baseTerm is its term, baseConfig the index of the
	// last config entry at or before it and baseVoters its configuration.
	base, baseTerm, baseConfig int64
	baseVoters                 uint64

	// Raft state in memory (a restart keeps commit and the database: they
	// are a committed prefix of the log on disk).
	role              role
	leader            int // who n believes leads, -1 unknown
	commit, applied   int64
	db                *store
	electionAt        int64
	timerArmed        bool
	lastLeaderContact int64
	preVote           bool
	votes             uint64

	// Leader state.
	next, match      []int64
	lastAck          []int64
	ackRound         []uint64
	round            uint64
	roundPending     bool
	readyIdx         int64
	leaderSince      int64
	ledTerm          int64
	holder           *attempt
	lockQueue        []*attempt
	reads            []*attempt
	notReady         []*attempt
	transferTo       int
	transferDeadline int64

	// diverge bug: a write entry applied to the log but not (yet) to db.
	held []effect

	// stale-read bug: n led, stepped down, and has not yet heard from a
	// leader of a later term.
	deposed bool

	// As the node clients are bound to.
	active     []*request
	waiting    []*request
	retryArmed bool
}

type exitState struct {
	signal    string
	exitCode  int
	restarts  int
	killed    bool // the nemesis sent SIGKILL during the run
	crashed   bool
	crashedAt int64
}

// cluster is the whole simulated world: nodes, network, clients and clock.
type cluster struct {
	cfg    Config // with defaults filled in
	ctx    context.Context
	sched  scheduler
	rng    *rand.Rand
	timing timing
	bug    string
	nodes  []*node
	byName map[string]*node
	cut    [][]bool  // cut[a][b]: a drops all traffic from b
	link   [][]int64 // FIFO per direction: the last delivery time from a to b

	initialVoters uint64
	balances      []int64 // the bank's initial balances
	allowNegative bool
	workload      string

	clients   []*client
	interval  int64 // a slot's pace: Concurrency/Rate
	opTimeout int64
	end       int64 // virtual time the workload stops issuing
	inFlight  int
	deadlines []*request // client deadlines, in the order they come due

	rec    Recorder
	events int64
	err    error
	stats  Summary
}

// fail stops the run with err (the first error wins).
func (c *cluster) fail(err error) {
	if c.err == nil {
		c.err = err
	}
}

func (c *cluster) record(e history.Event) {
	if c.err != nil {
		return
	}
	e.Index = c.events
	e.Time = c.sched.now
	c.events++
	if _, err := c.rec.Write(e); err != nil {
		c.fail(fmt.Errorf("recording the history: %w", err))
	}
}

// netDelay is one message's one-way latency between two nodes.
func (c *cluster) netDelay() int64 { return 100*microsecond + c.rng.Int64N(400*microsecond) }

// clientDelay is the latency between a client and its node's control API.
func (c *cluster) clientDelay() int64 { return 50*microsecond + c.rng.Int64N(100*microsecond) }

// roundTrip is one statement's round trip from origin to leader.
func (c *cluster) roundTrip(origin, l *node) int64 {
	if origin == l {
		return 2 * c.clientDelay()
	}
	return c.netDelay() + c.netDelay()
}

// send delivers fn at node `to` after a network delay, unless the link is
// cut (at sending or while in flight) or either side's dqlite stops.
// Messages on one link arrive in the order sent, as on a TCP connection.
func (c *cluster) send(from, to *node, fn func()) {
	if !from.running || !to.up || !to.running || c.cut[to.id][from.id] || c.cut[from.id][to.id] {
		return
	}
	t := c.sched.now + c.netDelay()
	if last := c.link[from.id][to.id]; t < last {
		t = last
	}
	c.link[from.id][to.id] = t
	inc := to.inc
	c.sched.at(t, func() {
		if c.cut[to.id][from.id] || c.cut[from.id][to.id] {
			return
		}
		c.onNode(to, inc, fn)
	})
}

// nodeAfter runs fn at n after d, if n's dqlite is still the same
// incarnation then; a frozen process runs it when it thaws.
func (c *cluster) nodeAfter(n *node, d int64, fn func()) {
	inc := n.inc
	c.sched.after(d, func() { c.onNode(n, inc, fn) })
}

func (c *cluster) onNode(n *node, inc uint64, fn func()) {
	if n.inc != inc || !n.running {
		return
	}
	if n.paused {
		n.deferred = append(n.deferred, func() { c.onNode(n, inc, fn) })
		return
	}
	fn()
}

// procAfter is nodeAfter for the node's process (its control API), which
// lives on while dqlite is stopped.
func (c *cluster) procAfter(n *node, d int64, fn func()) {
	proc := n.proc
	var run func()
	run = func() {
		if n.proc != proc || !n.up {
			return
		}
		if n.paused {
			n.deferred = append(n.deferred, run)
			return
		}
		fn()
	}
	c.sched.after(d, run)
}

// logf writes a line to n's log in slog's text format, stamped with virtual
// time from the Unix epoch, so the crash detector reads it like a real
// node's log.
func (c *cluster) logf(n *node, level, msg string, kv ...any) {
	ts := time.Unix(0, c.sched.now).UTC().Format("2006-01-02T15:04:05.000000000Z")
	fmt.Fprintf(&n.log, "time=%s level=%s msg=%q node=%s", ts, level, msg, n.name)
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&n.log, " %v=%v", kv[i], kv[i+1])
	}
	n.log.WriteByte('\n')
}

// startDqlite starts n's dqlite on its data directory: the log and the
// committed database are kept, everything else starts afresh.
func (c *cluster) startDqlite(n *node) {
	n.running = true
	n.inc++
	n.role = follower
	n.leader = -1
	n.preVote = false
	n.deposed = false
	n.timerArmed = false
	n.lastLeaderContact = 0
	n.transferTo = -1
	c.logf(n, "INFO", "node started", "term", n.term, "last_index", n.lastIndex())
	c.resetElectionTimer(n)
}

// stopDqlite stops n's dqlite: it leads no more, answers nothing more, and
// every request bound to it gets an unknown outcome.
func (c *cluster) stopDqlite(n *node, why string) {
	if n.role == leader {
		c.abandonLeadership(n, false)
	}
	n.running = false
	n.inc++
	n.role = follower
	n.leader = -1
	n.deposed = false
	c.dropRequests(n, why)
	c.lostConnections()
}

// runUntil runs events until done reports true, the clock would pass limit,
// or the run fails. It reports whether done came true.
func (c *cluster) runUntil(done func() bool, limit int64) bool {
	for c.err == nil {
		if done() {
			return true
		}
		fn, ok := c.sched.next(limit)
		if !ok {
			if c.sched.now < limit {
				c.sched.now = limit
			}
			return done()
		}
		fn()
		if c.sched.steps&4095 == 0 {
			if err := c.ctx.Err(); err != nil {
				c.fail(err)
			}
		}
	}
	return false
}

// The nemesis's view of the cluster: nemesis.Cluster on the model, so the
// same Applier applies the same steps as against containers.

var _ nemesis.Cluster = (*cluster)(nil)

func (c *cluster) node(name string) (*node, error) {
	n, ok := c.byName[name]
	if !ok {
		return nil, fmt.Errorf("no node %q in the simulated cluster (nodes: %s)", name, strings.Join(c.Nodes(), ", "))
	}
	return n, nil
}

// Now implements nemesis.Clock: the virtual time, so that the stop-path
// faults' call timings in the history are the same for the same seed.
func (c *cluster) Now() time.Time { return time.Unix(0, c.sched.now) }

func (c *cluster) Nodes() []string {
	names := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		names[i] = n.name
	}
	return names
}

// Leader is the leader of the highest term among the live nodes.
func (c *cluster) Leader(ctx context.Context) (string, error) {
	var best *node
	for _, n := range c.nodes {
		if n.up && n.running && !n.paused && n.role == leader && (best == nil || n.term > best.term) {
			best = n
		}
	}
	if best == nil {
		return "", fmt.Errorf("no leader")
	}
	return best.name, nil
}

func (c *cluster) Kill(ctx context.Context, name string) error {
	n, err := c.node(name)
	if err != nil {
		return err
	}
	if !n.up {
		return fmt.Errorf("%s: the node's process is not running", name)
	}
	n.exit.killed = true
	c.die(n, "SIGKILL", 137, "connection lost: the node's process was killed")
	return nil
}

// die ends n's process.
func (c *cluster) die(n *node, signal string, code int, why string) {
	n.paused = false
	n.deferred = nil
	if n.running {
		c.stopDqlite(n, why)
	}
	c.dropRequests(n, why)
	n.up = false
	n.proc++
	n.exit.signal = signal
	n.exit.exitCode = code
}

func (c *cluster) Restart(ctx context.Context, name string) error {
	n, err := c.node(name)
	if err != nil {
		return err
	}
	if n.up {
		c.die(n, "SIGKILL", 137, "connection lost: the node's process was restarted")
	}
	n.up = true
	n.proc++
	n.exit.restarts++
	n.exit.signal, n.exit.exitCode = "", 0
	c.startDqlite(n)
	return nil
}

func (c *cluster) Pause(ctx context.Context, name string) error {
	n, err := c.node(name)
	if err != nil {
		return err
	}
	if !n.up {
		return fmt.Errorf("%s: the node's process is not running", name)
	}
	n.paused = true
	return nil
}

func (c *cluster) Resume(ctx context.Context, name string) error {
	n, err := c.node(name)
	if err != nil {
		return err
	}
	if !n.up || !n.paused {
		return nil
	}
	n.paused = false
	// What piled up while frozen runs now, in arrival order, as the
	// kernel hands the thawed process its buffered input.
	deferred := n.deferred
	n.deferred = nil
	c.sched.after(0, func() {
		for _, fn := range deferred {
			fn()
		}
	})
	return nil
}

func (c *cluster) Stop(ctx context.Context, name string) error {
	n, err := c.control(name)
	if err != nil {
		return err
	}
	if !n.running {
		if c.bug == BugCrashOnDoubleStop {
			c.crash(n)
			return fmt.Errorf("%s: connection lost: the node's process died while stopping", name)
		}
		return nil // a guarded stop is idempotent
	}
	c.logf(n, "INFO", "stopping node", "mode", "guarded")
	c.stopDqlite(n, "indeterminate: the node stopped")
	c.logf(n, "INFO", "node stopped")
	return nil
}

// control is the node a control API request (stop, start, handover) goes
// to, if it can answer: not when its process is dead, nor when it is frozen
// (the request would wait until the step's deadline; the simulator fails it
// at once and drops it).
func (c *cluster) control(name string) (*node, error) {
	n, err := c.node(name)
	switch {
	case err != nil:
		return nil, err
	case !n.up:
		return nil, fmt.Errorf("%s: connection refused: the node's process is not running", n.name)
	case n.paused:
		return nil, fmt.Errorf("%s: timeout: the node's process is paused and does not answer", n.name)
	}
	return n, nil
}

// crash is canonical/dqlite#737: dqlite_node_stop on a stopped node fails
// an assertion, and glibc aborts the process. The log is what the harness's
// crash detector reads (detect/testdata/crash/assertion.log).
func (c *cluster) crash(n *node) {
	c.logf(n, "INFO", "stopping node", "mode", "unguarded")
	n.log.WriteString("dqtest: src/server.c:779: dqlite_node_stop: Assertion `rv == 0' failed.\n" +
		"SIGABRT: abort\n" +
		"PC=0x0 m=0 sigcode=18446744073709551610\n" +
		"signal arrived during cgo execution\n\n" +
		"goroutine 1 gp=0x0 m=0 mp=0x0 [syscall]:\n" +
		"runtime.cgocall(0x0, 0x0)\n" +
		"\t/usr/local/go/src/runtime/cgocall.go:167 +0x4b\n" +
		"github.com/canonical/go-dqlite/v2/internal/bindings._Cfunc_dqlite_node_stop(0x1)\n" +
		"\t_cgo_gotypes.go:48 +0x45\n" +
		"github.com/canonical/go-dqlite/v2/internal/bindings.(*Node).Stop(...)\n" +
		"\t/src/dqtest/node/node.go:22\n\n")
	n.exit.crashed = true
	n.exit.crashedAt = c.sched.now
	c.die(n, "SIGABRT", 134, "connection lost: the node's process aborted")
}

func (c *cluster) Start(ctx context.Context, name string) error {
	n, err := c.control(name)
	if err != nil {
		return err
	}
	if n.running {
		return fmt.Errorf("%s: already_running: the node is already started", name)
	}
	c.startDqlite(n)
	return nil
}

func (c *cluster) Partition(ctx context.Context, grudge map[string][]string) error {
	cut := make([][]bool, len(c.nodes))
	for i := range cut {
		cut[i] = make([]bool, len(c.nodes))
	}
	for to, froms := range grudge {
		t, err := c.node(to)
		if err != nil {
			return err
		}
		for _, from := range froms {
			f, err := c.node(from)
			if err != nil {
				return err
			}
			cut[t.id][f.id] = true
		}
	}
	c.cut = cut
	c.lostConnections()
	return nil
}

func (c *cluster) Heal(ctx context.Context) error {
	for _, row := range c.cut {
		clear(row)
	}
	return nil
}

// Handover asks node to hand its leadership to the most up-to-date voter it
// can reach; on a node that does not lead it does nothing, as dqlite's.
func (c *cluster) Handover(ctx context.Context, name string) error {
	n, err := c.control(name)
	if err != nil {
		return err
	}
	if !n.running {
		return fmt.Errorf("%s: not_running: the node is stopped", name)
	}
	if n.role != leader {
		return nil
	}
	var to *node
	for _, p := range c.nodes {
		if p != n && n.isVoter(p.id) && c.canReach(n, p) && !p.paused && (to == nil || n.match[p.id] > n.match[to.id]) {
			to = p
		}
	}
	if to == nil {
		return fmt.Errorf("%s: no voter to hand leadership over to", name)
	}
	return c.transfer(n, to)
}

func (c *cluster) Transfer(ctx context.Context, to string) error {
	t, err := c.node(to)
	if err != nil {
		return err
	}
	l, err := c.Leader(ctx)
	if err != nil {
		return err
	}
	if l == to {
		return nil
	}
	n := c.byName[l]
	if !n.isVoter(t.id) {
		return fmt.Errorf("%s is not a voter", to)
	}
	return c.transfer(n, t)
}

// transfer moves leadership from n to t and waits (in virtual time) until
// t leads or the attempt times out.
func (c *cluster) transfer(n, t *node) error {
	n.transferTo = t.id
	n.transferDeadline = c.sched.now + c.timing.election
	if n.match[t.id] == n.lastIndex() {
		c.sendTimeoutNow(n, t)
	} else {
		c.sendAppend(n, t, false)
	}
	if c.runUntil(func() bool { return t.role == leader && t.running }, c.sched.now+2*c.timing.election) {
		return nil
	}
	return fmt.Errorf("leadership transfer from %s to %s did not complete", n.name, t.name)
}

func (c *cluster) Remove(ctx context.Context, name string) error {
	return c.reconfigure(name, false)
}

func (c *cluster) Add(ctx context.Context, name string) error {
	return c.reconfigure(name, true)
}

// reconfigure removes or adds a voter through the leader and waits until
// the change is committed.
func (c *cluster) reconfigure(name string, add bool) error {
	t, err := c.node(name)
	if err != nil {
		return err
	}
	l, err := c.Leader(c.ctx)
	if err != nil {
		return err
	}
	n := c.byName[l]
	voters := n.voters &^ (1 << t.id)
	if add {
		voters = n.voters | 1<<t.id
	}
	if voters == n.voters {
		return nil
	}
	if err := c.changeConfig(n, voters); err != nil {
		return err
	}
	idx, term := n.lastIndex(), n.term
	if c.runUntil(func() bool { return n.commit >= idx || n.term != term }, c.sched.now+2*c.timing.election) && n.term == term {
		return nil
	}
	return fmt.Errorf("membership change (%s %s) was not committed", map[bool]string{true: "add", false: "remove"}[add], name)
}
