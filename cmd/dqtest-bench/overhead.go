package main

import (
	"context"
	"database/sql"
	sqldriver "database/sql/driver"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/canonical/go-dqlite/v2/client"
	"github.com/canonical/go-dqlite/v2/driver"

	"github.com/dqtest/dqtest/harness"
	"github.com/dqtest/dqtest/harness/docker"
	"github.com/dqtest/dqtest/history"
	"github.com/dqtest/dqtest/mode"
	"github.com/dqtest/dqtest/nemesis"
	"github.com/dqtest/dqtest/node/control"
	"github.com/dqtest/dqtest/scenario"
	"github.com/dqtest/dqtest/verdict"
	"github.com/dqtest/dqtest/workloads"
)

// overhead is the harness-overhead measurement: completed operations per second
// of each side, per round. The sides, in the order of the table:
//
//   - dqtest, client: node: harness.Run, the way `dqtest run` drives a
//     cluster by default (every operation through a node's control API);
//   - dqtest, client: direct: harness.Run with the direct client mode
//     (dqclient in this process, straight to the leader's dqlite port);
//   - dqclient loop: the direct mode's clients in a bare loop, no harness;
//   - control API loop: the same operations through the same control-API
//     clients (one per node, clients spread over the nodes as dqtest
//     does), without the harness: no history, no pacing, no checking;
//     statements go as frames, as dqtest sends them;
//   - control API loop over JSON: the same with every statement as an
//     HTTP/JSON request (the curl-able endpoints), what dqtest sent before
//     frames;
//   - control API loop, leader only: the same with every client on the
//     leader, so no node forwards a statement to another;
//   - driver: the go-dqlite driver through database/sql, straight to the
//     leader's dqlite port.
//
// The control API loops split the node mode's cost into its parts. The
// harness's own overhead is direct against the driver: both send the same
// statements from this process to the leader; the node mode adds a process
// hop per operation (the topology of an application embedded in a node).
type overhead struct {
	Concurrency int
	Sides       []string
	Rounds      [][]float64 // [round][side]
	// Median is each side's median; Ratio the median over the rounds of
	// dqtest's rate (client: direct) over the driver's, NodeRatio the same
	// for client: node.
	Median    []float64
	Ratio     float64
	NodeRatio float64
	Failed    []int // errors per side (neither ok nor a cas that found another value), all rounds
	// Writes is each side's median rate of writes that took effect (write
	// or cas ok): dqlite runs one write at a time, so this is the part of
	// the rate the client path cannot raise by answering reads faster.
	Writes []float64
	// CPUBusy is the median share of the machine's CPU time in use while
	// each side ran (from /proc/stat; every process, the nodes included).
	CPUBusy []float64
	// CPUPerOp is each side's median CPU time per completed operation, in
	// microseconds: this process's (the clients, the harness) plus the
	// node containers' (their cgroups' usage), 0 when unreadable. Other
	// work on the machine slows a side's rate but hardly its CPU per
	// operation, so this is the cost the client path itself adds.
	CPUPerOp []float64
	// NodeCPURatio is the median over the rounds of the driver's CPU per
	// operation over client: node's (1 means the node mode costs no more).
	NodeCPURatio float64
	// CPUSelf, CPULeader and CPUFollowers split CPUPerOp (each a median
	// over the rounds, µs per completed operation): this process, the
	// leader's container, the followers' containers together.
	CPUSelf, CPULeader, CPUFollowers []float64
	// Attempts is each side's median rate of operations tried, errors
	// (SQLITE_BUSY and the like) included.
	Attempts []float64
}

const (
	sideDqtest = iota
	sideDirect
	sideDirectLoop
	sideControl
	sideControlJSON
	sideLeader
	sideDriver
)

var sideNames = []string{
	"dqtest, client: node (harness.Run: each op through a node's control API, history recorded)",
	"dqtest, client: direct (harness.Run: dqclient straight to the leader, history recorded)",
	"dqclient loop, clients spread over the nodes (the direct mode's clients, no harness)",
	"control API loop, clients spread over the nodes (no harness)",
	"control API loop over HTTP/JSON instead of frames, clients spread over the nodes (no harness)",
	"control API loop, every client on the leader (no harness)",
	"plain go-dqlite driver loop (database/sql to the leader's port 9001)",
}

// mixYAML writes a register mix as YAML flow: {cas: 1, read: 1}.
func mixYAML(mix map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(mix)) {
		parts = append(parts, fmt.Sprintf("%s: %d", k, mix[k]))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// completed says whether an operation did its job: ok, or a cas that
// found another value (the register workload's definite "no"). Anything
// else (SQLITE_BUSY, a timeout) is an error.
func completed(t history.Type, errText string) bool {
	return t == history.OK || (t == history.Fail && strings.HasPrefix(errText, "cas: current value is not"))
}

// connector opens the driver's connections to dbName, without a global
// driver registration (each measurement has its own cluster).
type connector struct{ drv *driver.Driver }

func (c connector) Connect(context.Context) (sqldriver.Conn, error) { return c.drv.Open(dbName) }
func (c connector) Driver() sqldriver.Driver                        { return c.drv }

// dbName is the database every dqtest node opens (node.DefaultDB; the node
// package needs cgo, this command does not).
const dbName = "db.sqlite"

func measureOverhead(ctx context.Context, c config) (overhead, error) {
	var o overhead
	log := slog.Default()
	be := &docker.Backend{Log: log}
	runID := fmt.Sprintf("bench-overhead-c%d-%d", c.concurrency, time.Now().Unix()%100000)
	log.Info("overhead: starting a 3-node cluster", "image", c.image, "run_id", runID)
	cluster, err := be.Start(ctx, harness.ClusterSpec{RunID: runID, Nodes: 3, Image: c.image})
	if cluster != nil {
		defer func() {
			dctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if err := cluster.Down(dctx); err != nil {
				log.Error("removing the benchmark cluster", "run_id", runID, "error", err)
			}
		}()
	}
	if err != nil {
		return o, err
	}

	var infos []client.NodeInfo
	for _, n := range cluster.Nodes() {
		infos = append(infos, client.NodeInfo{Address: cluster.Address(n)})
	}
	store := client.NewInmemNodeStore()
	if err := store.Set(ctx, infos); err != nil {
		return o, err
	}
	drv, err := driver.New(store, driver.WithConnectionTimeout(5*time.Second))
	if err != nil {
		return o, err
	}
	db := sql.OpenDB(connector{drv})
	defer db.Close()
	db.SetMaxOpenConns(c.concurrency)
	db.SetMaxIdleConns(c.concurrency)

	runs, err := os.MkdirTemp("", "dqtest-bench-runs")
	if err != nil {
		return o, err
	}
	defer os.RemoveAll(runs)

	o.Sides, o.Concurrency = sideNames, c.concurrency
	o.Failed = make([]int, len(sideNames))
	var ratios, nodeRatios []float64
	var writeRounds [][]float64
	var cpu, cpuOps, cpuSelf, cpuLeader, cpuFollowers, attempts [][]float64
	var cpuRatios []float64
	nodes := cluster.Nodes()
	usage := cpuUsage{cgroups: nodeCgroups(ctx, runID, nodes)}
	if len(usage.cgroups) < len(nodes) {
		log.Warn("overhead: the node containers' CPU usage is unreadable; no CPU per operation", "found", len(usage.cgroups))
		usage.cgroups = nil // a part would be misread as the whole, or one node as another
	}
	for round := 1; round <= c.rounds; round++ {
		lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		leader, err := cluster.Leader(lctx)
		cancel()
		if err != nil {
			return o, err
		}
		rates := make([]float64, len(sideNames))
		writes := make([]float64, len(sideNames))
		busy := make([]float64, len(sideNames))
		perOp := make([]float64, len(sideNames))
		selfOp := make([]float64, len(sideNames))
		leaderOp := make([]float64, len(sideNames))
		followersOp := make([]float64, len(sideNames))
		tried := make([]float64, len(sideNames))
		leaderIdx := slices.Index(nodes, leader)
		sides := []func() (sideResult, error){
			sideDqtest: func() (sideResult, error) {
				return dqtestSide(ctx, cluster, db, runs, c, int64(round), mode.ClientNode)
			},
			sideDirect: func() (sideResult, error) {
				return dqtestSide(ctx, cluster, db, runs, c, int64(round), mode.ClientDirect)
			},
			sideDirectLoop: func() (sideResult, error) {
				return loopSide(ctx, c, int64(round), func(slot int) workloads.Client { return cluster.DirectClient(nodes[slot%len(nodes)]) })
			},
			sideControl: func() (sideResult, error) {
				return loopSide(ctx, c, int64(round), func(slot int) workloads.Client { return cluster.Client(nodes[slot%len(nodes)]) })
			},
			sideControlJSON: func() (sideResult, error) {
				return loopSide(ctx, c, int64(round), func(slot int) workloads.Client {
					return jsonClient{control.NewClient(cluster.ControlURL(nodes[slot%len(nodes)]), jsonHTTP)}
				})
			},
			sideLeader: func() (sideResult, error) {
				return loopSide(ctx, c, int64(round), func(int) workloads.Client { return cluster.Client(leader) })
			},
			sideDriver: func() (sideResult, error) {
				return loopSide(ctx, c, int64(round), func(int) workloads.Client { return sqlClient{db} })
			},
		}
		// Rotate which side goes first, so drift (a warming cache, a
		// growing table) does not favour one side.
		for k := range sides {
			i := (k + round - 1) % len(sides)
			before := cpuTimes()
			cpuBefore, cpuOK := usage.read()
			var r sideResult
			var err error
			began := time.Now()
			pprof.Do(ctx, pprof.Labels("side", strconv.Itoa(i)), func(context.Context) { r, err = sides[i]() })
			busy[i] = cpuTimes().busySince(before)
			tried[i] = float64(r.done+r.errs) / time.Since(began).Seconds()
			if cpuAfter, ok := usage.read(); ok && cpuOK && r.done > 0 {
				d := cpuAfter.since(cpuBefore)
				us := func(t time.Duration) float64 { return float64(t.Microseconds()) / float64(r.done) }
				perOp[i] = us(d.total())
				selfOp[i] = us(d.self)
				for k, n := range d.nodes {
					if k == leaderIdx {
						leaderOp[i] = us(n)
					} else {
						followersOp[i] += us(n)
					}
				}
			}
			if err != nil {
				return o, fmt.Errorf("%s: %w", sideNames[i], err)
			}
			rates[i], writes[i] = r.rate, r.writes
			o.Failed[i] += r.errs
		}
		log.Info("overhead round", "round", round, "dqtest_node", int(rates[sideDqtest]), "dqtest_direct", int(rates[sideDirect]), "dqclient", int(rates[sideDirectLoop]), "control_api", int(rates[sideControl]), "control_api_json", int(rates[sideControlJSON]),
			"control_api_leader", int(rates[sideLeader]), "driver", int(rates[sideDriver]), "leader", leader)
		o.Rounds = append(o.Rounds, rates)
		writeRounds = append(writeRounds, writes)
		cpu = append(cpu, busy)
		cpuOps = append(cpuOps, perOp)
		cpuSelf, cpuLeader, cpuFollowers = append(cpuSelf, selfOp), append(cpuLeader, leaderOp), append(cpuFollowers, followersOp)
		attempts = append(attempts, tried)
		if perOp[sideDqtest] > 0 && perOp[sideDriver] > 0 {
			cpuRatios = append(cpuRatios, perOp[sideDriver]/perOp[sideDqtest])
		}
		if rates[sideDriver] > 0 {
			ratios = append(ratios, rates[sideDirect]/rates[sideDriver])
			nodeRatios = append(nodeRatios, rates[sideDqtest]/rates[sideDriver])
		}
	}
	for i := range sideNames {
		var xs []float64
		for _, r := range o.Rounds {
			xs = append(xs, r[i])
		}
		o.Median = append(o.Median, median(xs))
		var ws []float64
		for _, r := range writeRounds {
			ws = append(ws, r[i])
		}
		o.Writes = append(o.Writes, median(ws))
		var bs []float64
		for _, r := range cpu {
			bs = append(bs, r[i])
		}
		o.CPUBusy = append(o.CPUBusy, median(bs))
		var us []float64
		for _, r := range cpuOps {
			us = append(us, r[i])
		}
		o.CPUPerOp = append(o.CPUPerOp, median(us))
		col := func(rounds [][]float64) float64 {
			var xs []float64
			for _, r := range rounds {
				xs = append(xs, r[i])
			}
			return median(xs)
		}
		o.CPUSelf = append(o.CPUSelf, col(cpuSelf))
		o.CPULeader = append(o.CPULeader, col(cpuLeader))
		o.CPUFollowers = append(o.CPUFollowers, col(cpuFollowers))
		o.Attempts = append(o.Attempts, col(attempts))
	}
	o.Ratio, o.NodeRatio = median(ratios), median(nodeRatios)
	if len(cpuRatios) > 0 {
		o.NodeCPURatio = median(cpuRatios)
	}
	return o, nil
}

// dqtestSide runs the register workload through harness.Run on the
// running cluster, in the client mode given: the same client loop, clients
// and history recording as `dqtest run`, with no rate limit and no faults.
func dqtestSide(ctx context.Context, cluster *docker.Cluster, db *sql.DB, runs string, c config, seed int64, clientMode mode.Client) (sideResult, error) {
	// The other sides' writes are not in this run's history: start from
	// an empty table, or the checker would rightly call the run invalid.
	if err := clearRegisters(ctx, db); err != nil {
		return sideResult{}, err
	}
	src := fmt.Sprintf("name: bench-overhead\nnodes: 3\nclient: %s\nworkload: {name: register, mix: %s}\nconcurrency: %d\nrate: 0\ntime_limit: %s\nseed: %d\n",
		clientMode, mixYAML(c.mix), c.concurrency, c.seconds, seed)
	sc, err := scenario.Parse("bench-overhead.yaml", []byte(src))
	if err != nil {
		return sideResult{}, err
	}
	res, err := harness.Run(ctx, sc, harness.Options{Backend: reuse{cluster}, RunsDir: runs,
		Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		return sideResult{}, err
	}
	if res.Outcome != "valid" {
		return sideResult{}, fmt.Errorf("the dqtest side's run was %s (%v), see %s", res.Outcome, res.Reasons, res.Dir)
	}
	// Count from the history, as the loops count: ok or a cas that found
	// another value is a completed operation, anything else an error.
	events, _, err := history.ReadFile(filepath.Join(res.Dir, verdict.HistoryFile))
	if err != nil {
		return sideResult{}, err
	}
	var r sideResult
	for _, e := range events {
		if e.IsClient() && e.Type != history.Invoke {
			r.count(e.F, e.Type, e.Error)
		}
	}
	return r.per(res.Phases.Workload), nil
}

// reuse is a backend whose Up hands out a cluster that is already up, with
// the clients of the spec's client mode, and whose Down leaves it up: every
// side of the overhead benchmark uses one cluster.
type reuse struct{ *docker.Cluster }

func (reuse) Name() string                         { return "docker" }
func (r reuse) Capabilities() []nemesis.Capability { return nemesis.CoreCapabilities() }

func (r reuse) Up(_ context.Context, spec harness.ClusterSpec) (harness.Cluster, error) {
	if spec.ClientMode == mode.ClientDirect {
		return kept{direct{r.Cluster}}, nil
	}
	return kept{r.Cluster}, nil
}

type kept struct{ harness.Cluster }

func (kept) Down(context.Context) error { return nil }

// direct is the cluster with its clients in the direct mode.
type direct struct{ *docker.Cluster }

func (d direct) Client(name string) workloads.Client { return d.DirectClient(name) }

func clearRegisters(ctx context.Context, db *sql.DB) error {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(cctx, "CREATE TABLE IF NOT EXISTS registers (k TEXT PRIMARY KEY, v INTEGER NOT NULL)"); err != nil {
		return err
	}
	_, err := db.ExecContext(cctx, "DELETE FROM registers")
	return err
}

// sideResult is what one side did: completed operations (and of them,
// writes that took effect) per second, and errors.
type sideResult struct {
	done, wrote int
	rate        float64
	writes      float64
	errs        int
}

// count books one completion of operation f.
func (r *sideResult) count(f string, t history.Type, errText string) {
	switch {
	case !completed(t, errText):
		r.errs++
	case t == history.OK && (f == "write" || f == "cas"):
		r.done++
		r.wrote++
	default:
		r.done++
	}
}

// per turns the counts into rates over seconds.
func (r sideResult) per(seconds float64) sideResult {
	if seconds > 0 {
		r.rate, r.writes = float64(r.done)/seconds, float64(r.wrote)/seconds
	}
	return r
}

// loopSide runs the register workload's operations with the same
// generators and SQL as dqtest, from c.concurrency goroutines, each
// through the client clientFor(slot) gives, in a bare loop: no history,
// no checking.
func loopSide(ctx context.Context, c config, seed int64, clientFor func(slot int) workloads.Client) (sideResult, error) {
	wl, err := workloads.New("register", workloads.Params{Mix: c.mix})
	if err != nil {
		return sideResult{}, err
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = wl.Setup(sctx, clientFor(0))
	cancel()
	if err != nil {
		return sideResult{}, fmt.Errorf("setup: %w", err)
	}
	var mu sync.Mutex
	var r sideResult
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(c.seconds)
	for slot := range c.concurrency {
		wg.Go(func() {
			gen := wl.Generator(seed, slot)
			cl := clientFor(slot)
			for time.Now().Before(end) && ctx.Err() == nil {
				op, more := gen.Next()
				if !more {
					return
				}
				opCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
				comp := wl.Invoke(opCtx, cl, op)
				cancel()
				mu.Lock()
				r.count(op.F, comp.Type, comp.Error)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return r.per(time.Since(start).Seconds()), ctx.Err()
}

// jsonHTTP is the JSON side's HTTP client: keep-alive connections for
// every client goroutine, as the docker backend's.
var jsonHTTP = &http.Client{
	Transport:     &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// jsonClient is workloads.Client over a control client without frames.
type jsonClient struct{ c *control.Client }

func (j jsonClient) Exec(ctx context.Context, sql string, args ...any) (workloads.StmtResult, error) {
	r, err := j.c.Exec(ctx, sql, args...)
	return workloads.StmtResult{LastInsertID: r.LastInsertID, RowsAffected: r.RowsAffected}, err
}

func (j jsonClient) Query(ctx context.Context, sql string, args ...any) ([]map[string]any, error) {
	return j.c.Query(ctx, sql, args...)
}

func (j jsonClient) Txn(ctx context.Context, stmts []workloads.Stmt) ([]workloads.StmtResult, error) {
	req := make([]control.Statement, len(stmts))
	for i, s := range stmts {
		req[i] = control.Statement{SQL: s.SQL, Args: s.Args}
	}
	res, err := j.c.Txn(ctx, req)
	out := make([]workloads.StmtResult, len(res))
	for i, r := range res {
		out[i] = workloads.StmtResult{LastInsertID: r.LastInsertID, RowsAffected: r.RowsAffected, Rows: r.Rows}
	}
	return out, err
}

// sqlClient is workloads.Client over database/sql: what a program using
// the go-dqlite driver directly does.
type sqlClient struct{ db *sql.DB }

func (c sqlClient) Exec(ctx context.Context, query string, args ...any) (workloads.StmtResult, error) {
	res, err := c.db.ExecContext(ctx, query, args...)
	if err != nil {
		return workloads.StmtResult{}, err
	}
	var r workloads.StmtResult
	r.LastInsertID, _ = res.LastInsertId()
	r.RowsAffected, _ = res.RowsAffected()
	return r, nil
}

func (c sqlClient) Query(ctx context.Context, query string, args ...any) ([]map[string]any, error) {
	rows, err := c.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return scanRows(rows)
}

func (c sqlClient) Txn(ctx context.Context, stmts []workloads.Stmt) ([]workloads.StmtResult, error) {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	var out []workloads.StmtResult
	for _, st := range stmts {
		res, err := tx.ExecContext(ctx, st.SQL, st.Args...)
		if err != nil {
			_ = tx.Rollback()
			return nil, err
		}
		var r workloads.StmtResult
		r.LastInsertID, _ = res.LastInsertId()
		r.RowsAffected, _ = res.RowsAffected()
		out = append(out, r)
	}
	return out, tx.Commit()
}

func scanRows(rows *sql.Rows) ([]map[string]any, error) {
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out []map[string]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make(map[string]any, len(cols))
		for i, col := range cols {
			row[col] = vals[i]
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

// cpuSample is the machine's CPU time so far, in clock ticks.
type cpuSample struct{ busy, total float64 }

// cpuTimes reads the first line of /proc/stat; zero when unreadable.
func cpuTimes() cpuSample {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuSample{}
	}
	line, _, _ := strings.Cut(string(b), "\n")
	var s cpuSample
	for i, f := range strings.Fields(line)[1:] {
		v, _ := strconv.ParseFloat(f, 64)
		s.total += v
		if i != 3 && i != 4 { // idle, iowait
			s.busy += v
		}
	}
	return s
}

// busySince is the share of CPU time in use since before.
func (s cpuSample) busySince(before cpuSample) float64 {
	if s.total <= before.total {
		return 0
	}
	return (s.busy - before.busy) / (s.total - before.total)
}

// cpuUsage reads the CPU time used so far by this process and by the node
// containers (their cgroups' cpuacct.usage, cgroup v1, or cpu.stat's
// usage_usec, cgroup v2), in the order of the cluster's nodes.
type cpuUsage struct{ cgroups []string }

// cpuUsed is the CPU time used so far: this process's and each node's.
type cpuUsed struct {
	self  time.Duration
	nodes []time.Duration
}

func (s cpuUsed) total() time.Duration {
	t := s.self
	for _, n := range s.nodes {
		t += n
	}
	return t
}

// since is the CPU time used between before and s.
func (s cpuUsed) since(before cpuUsed) cpuUsed {
	d := cpuUsed{self: s.self - before.self, nodes: make([]time.Duration, len(s.nodes))}
	for i := range s.nodes {
		d.nodes[i] = s.nodes[i] - before.nodes[i]
	}
	return d
}

func (u cpuUsage) read() (cpuUsed, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil || len(u.cgroups) == 0 {
		return cpuUsed{}, false
	}
	s := cpuUsed{self: time.Duration(ru.Utime.Nano() + ru.Stime.Nano())}
	for _, cg := range u.cgroups {
		d, err := cgroupCPU(cg)
		if err != nil {
			return cpuUsed{}, false
		}
		s.nodes = append(s.nodes, d)
	}
	return s, true
}

// cgroupCPU is the CPU time a cgroup has used (a cpuacct.usage file, in
// nanoseconds, or a cpu.stat file's usage_usec).
func cgroupCPU(file string) (time.Duration, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	if strings.HasSuffix(file, "cpu.stat") {
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "usage_usec "); ok {
				us, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				return time.Duration(us) * time.Microsecond, err
			}
		}
		return 0, fmt.Errorf("%s: no usage_usec", file)
	}
	ns, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return time.Duration(ns), err
}

// nodeCgroups finds the CPU accounting files of the cluster's containers
// (named dqtest-<run id>-<node>); those it cannot find are left out.
func nodeCgroups(ctx context.Context, runID string, nodes []string) []string {
	var files []string
	for _, n := range nodes {
		ictx, cancel := context.WithTimeout(ctx, 10*time.Second)
		out, err := exec.CommandContext(ictx, "docker", "inspect", "-f", "{{.Id}}", "dqtest-"+runID+"-"+n).Output()
		cancel()
		if err != nil {
			continue
		}
		id := strings.TrimSpace(string(out))
		for _, f := range []string{
			"/sys/fs/cgroup/cpuacct/docker/" + id + "/cpuacct.usage",
			"/sys/fs/cgroup/cpu,cpuacct/docker/" + id + "/cpuacct.usage",
			"/sys/fs/cgroup/system.slice/docker-" + id + ".scope/cpu.stat",
			"/sys/fs/cgroup/docker/" + id + "/cpu.stat",
		} {
			if _, err := cgroupCPU(f); err == nil {
				files = append(files, f)
				break
			}
		}
	}
	return files
}
