package main

import (
	"context"
	"database/sql"
	sqldriver "database/sql/driver"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/canonical/go-dqlite/v2/client"
	"github.com/canonical/go-dqlite/v2/driver"

	"github.com/dqtest/dqtest/harness"
	"github.com/dqtest/dqtest/harness/docker"
	"github.com/dqtest/dqtest/history"
	"github.com/dqtest/dqtest/workloads"
)

// overhead is the harness-overhead measurement: completed operations per second
// of each side, per round. The sides, in the order of the table:
//
//   - dqtest: harness.Run, the way `dqtest run` drives a cluster;
//   - control API loop: the same operations through the same control-API
//     clients (one per node, clients spread over the nodes as dqtest
//     does), without the harness: no history, no pacing, no checking;
//   - control API loop, leader only: the same with every client on the
//     leader, so no node forwards a statement to another;
//   - driver: the go-dqlite driver through database/sql, straight to the
//     leader's dqlite port.
//
// The middle two split dqtest's overhead into its parts.
type overhead struct {
	Concurrency int
	Sides       []string
	Rounds      [][]float64 // [round][side]
	// Median is each side's median; Ratio the median over the rounds of
	// dqtest's rate over the driver's.
	Median []float64
	Ratio  float64
	Failed []int // errors per side (neither ok nor a cas that found another value), all rounds
	// CPUBusy is the median share of the machine's CPU time in use while
	// each side ran (from /proc/stat; every process, the nodes included).
	CPUBusy []float64
}

const (
	sideDqtest = iota
	sideControl
	sideLeader
	sideDriver
)

var sideNames = []string{
	"dqtest (harness.Run: control API, history recorded)",
	"control API loop, clients spread over the nodes (no harness)",
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
	var ratios []float64
	var cpu [][]float64
	nodes := cluster.Nodes()
	for round := 1; round <= c.rounds; round++ {
		lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		leader, err := cluster.Leader(lctx)
		cancel()
		if err != nil {
			return o, err
		}
		rates := make([]float64, len(sideNames))
		busy := make([]float64, len(sideNames))
		sides := []func() (float64, int, error){
			sideDqtest: func() (float64, int, error) { return dqtestSide(ctx, cluster, db, runs, c, int64(round)) },
			sideControl: func() (float64, int, error) {
				return loopSide(ctx, c, int64(round), func(slot int) workloads.Client { return cluster.Client(nodes[slot%len(nodes)]) })
			},
			sideLeader: func() (float64, int, error) {
				return loopSide(ctx, c, int64(round), func(int) workloads.Client { return cluster.Client(leader) })
			},
			sideDriver: func() (float64, int, error) {
				return loopSide(ctx, c, int64(round), func(int) workloads.Client { return sqlClient{db} })
			},
		}
		// Rotate which side goes first, so drift (a warming cache, a
		// growing table) does not favour one side.
		for k := range sides {
			i := (k + round - 1) % len(sides)
			before := cpuTimes()
			rate, failed, err := sides[i]()
			busy[i] = cpuTimes().busySince(before)
			if err != nil {
				return o, fmt.Errorf("%s: %w", sideNames[i], err)
			}
			rates[i] = rate
			o.Failed[i] += failed
		}
		log.Info("overhead round", "round", round, "dqtest", int(rates[sideDqtest]), "control_api", int(rates[sideControl]),
			"control_api_leader", int(rates[sideLeader]), "driver", int(rates[sideDriver]), "leader", leader)
		o.Rounds = append(o.Rounds, rates)
		cpu = append(cpu, busy)
		if rates[sideDriver] > 0 {
			ratios = append(ratios, rates[sideDqtest]/rates[sideDriver])
		}
	}
	for i := range sideNames {
		var xs []float64
		for _, r := range o.Rounds {
			xs = append(xs, r[i])
		}
		o.Median = append(o.Median, median(xs))
		var bs []float64
		for _, r := range cpu {
			bs = append(bs, r[i])
		}
		o.CPUBusy = append(o.CPUBusy, median(bs))
	}
	o.Ratio = median(ratios)
	return o, nil
}

// dqtestSide runs the register workload through harness.Run on the
// running cluster: the same client loop, control API and history
// recording as `dqtest run`, with no rate limit and no faults.
func dqtestSide(ctx context.Context, cluster harness.Cluster, db *sql.DB, runs string, c config, seed int64) (float64, int, error) {
	// The other sides' writes are not in this run's history: start from
	// an empty table, or the checker would rightly call the run invalid.
	if err := clearRegisters(ctx, db); err != nil {
		return 0, 0, err
	}
	src := fmt.Sprintf("name: bench-overhead\nnodes: 3\nworkload: {name: register, mix: %s}\nconcurrency: %d\nrate: 0\ntime_limit: %s\nseed: %d\n",
		mixYAML(c.mix), c.concurrency, c.seconds, seed)
	sc, err := harness.ParseScenario("bench-overhead.yaml", []byte(src))
	if err != nil {
		return 0, 0, err
	}
	res, err := harness.Run(ctx, sc, harness.Options{Backend: reuse{cluster}, RunsDir: runs,
		Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		return 0, 0, err
	}
	if res.Outcome != "valid" {
		return 0, 0, fmt.Errorf("the dqtest side's run was %s (%v), see %s", res.Outcome, res.Reasons, res.Dir)
	}
	// Count from the history, as the loops count: ok or a cas that found
	// another value is a completed operation, anything else an error.
	events, _, err := history.ReadFile(filepath.Join(res.Dir, harness.HistoryFile))
	if err != nil {
		return 0, 0, err
	}
	var done, errs int
	for _, e := range events {
		if e.IsClient() && e.Type != history.Invoke {
			if completed(e.Type, e.Error) {
				done++
			} else {
				errs++
			}
		}
	}
	return float64(done) / res.Phases.Workload, errs, nil
}

// reuse is a backend whose Up hands out a cluster that is already up, and
// whose Down leaves it up: both sides of the overhead benchmark use one
// cluster.
type reuse struct{ harness.Cluster }

func (reuse) Name() string { return "docker" }
func (r reuse) Up(context.Context, harness.ClusterSpec) (harness.Cluster, error) {
	return kept{r.Cluster}, nil
}

type kept struct{ harness.Cluster }

func (kept) Down(context.Context) error { return nil }

func clearRegisters(ctx context.Context, db *sql.DB) error {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(cctx, "CREATE TABLE IF NOT EXISTS registers (k TEXT PRIMARY KEY, v INTEGER NOT NULL)"); err != nil {
		return err
	}
	_, err := db.ExecContext(cctx, "DELETE FROM registers")
	return err
}

// loopSide runs the register workload's operations with the same
// generators and SQL as dqtest, from c.concurrency goroutines, each
// through the client clientFor(slot) gives, in a bare loop: no history,
// no checking.
func loopSide(ctx context.Context, c config, seed int64, clientFor func(slot int) workloads.Client) (float64, int, error) {
	wl, err := workloads.New("register", workloads.Params{Mix: c.mix})
	if err != nil {
		return 0, 0, err
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = wl.Setup(sctx, clientFor(0))
	cancel()
	if err != nil {
		return 0, 0, fmt.Errorf("setup: %w", err)
	}
	var ok, bad atomic.Int64
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
				if completed(comp.Type, comp.Error) {
					ok.Add(1)
				} else {
					bad.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return float64(ok.Load()) / time.Since(start).Seconds(), int(bad.Load()), ctx.Err()
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
