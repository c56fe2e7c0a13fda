package node_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/node"
)

// definite mirrors workloads.IsDefinite (node must not import workloads).
func definite(err error) bool {
	var d interface{ Definite() bool }
	return err != nil && errors.As(err, &d) && d.Definite()
}

// freeAddr returns ip:port with a port that was free a moment ago.
func freeAddr(t require.TestingT, ip string) string {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

func freeAddrB(b *testing.B) string { return freeAddr(b, "127.0.0.1") }

func testLogger(*testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.DiscardHandler)
}

// startSingle starts a one-node cluster on 127.0.0.1 and closes it at the end.
func startSingle(t *testing.T, opts node.Options) *node.Node {
	t.Helper()
	opts.Logger = testLogger(t)
	n, err := node.New(freeAddr(t, "127.0.0.1"), t.TempDir(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = n.Close() })
	require.NoError(t, n.Start(ctxT(t, 20*time.Second)))
	return n
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestNewRefusesBadAddressesAndNamesThem(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	for _, tc := range []struct {
		name, address, dir string
		opts               node.Options
		want               string
	}{
		{"no port", "127.0.0.1", "", node.Options{}, `"127.0.0.1"`},
		{"empty host", ":9001", "", node.Options{}, `":9001"`},
		{"ipv4 wildcard", "0.0.0.0:9001", "", node.Options{}, "0.0.0.0"},
		{"ipv6 wildcard", "[::]:9001", "", node.Options{}, "::"},
		{"port zero", "127.0.0.1:0", "", node.Options{}, `"0"`},
		{"port too big", "127.0.0.1:70000", "", node.Options{}, "70000"},
		{"port not a number", "127.0.0.1:http", "", node.Options{}, `"http"`},
		{"name without bind address", "localhost:9001", "", node.Options{}, "localhost:9001"},
		{"bind address is a name", "127.0.0.1:9001", "", node.Options{BindAddress: "localhost:9001"}, `"localhost"`},
		{"bad cluster address", "127.0.0.1:9001", "", node.Options{Cluster: []string{"0.0.0.0:9001"}}, "0.0.0.0"},
		{"data dir is a file", "127.0.0.1:9001", file, node.Options{}, file},
		{"empty data dir", "127.0.0.1:9001", "-", node.Options{}, "data dir"},
		{"joiner without cluster", "127.0.0.1:9001", "", node.Options{ID: 7}, "id 7"},
		{"bad stop mode", "127.0.0.1:9001", "", node.Options{StopMode: "gentle"}, "gentle"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.dir
			switch dir {
			case "":
				dir = t.TempDir()
			case "-":
				dir = ""
			}
			_, err := node.New(tc.address, dir, tc.opts)
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestNewAcceptsSpecificAddresses(t *testing.T) {
	for _, tc := range []struct{ address, bind string }{
		{"127.0.0.1:9001", ""},
		{"172.29.7.11:9001", "0.0.0.0:9001"},
		{"n1:9001", "0.0.0.0:9001"},
		{"[::1]:9001", ""},
	} {
		n, err := node.New(tc.address, t.TempDir(), node.Options{BindAddress: tc.bind})
		require.NoError(t, err, tc.address)
		require.Equal(t, tc.address, n.Address())
		require.Equal(t, uint64(1), n.ID(), "a node with no cluster forms one with id 1")
		require.False(t, n.IsRunning())
		require.NoError(t, n.Close())
	}
}

func TestSingleNodeLifecycle(t *testing.T) {
	ctx := ctxT(t, 60*time.Second)
	n, err := node.New(freeAddr(t, "127.0.0.1"), t.TempDir(), node.Options{Logger: testLogger(t)})
	require.NoError(t, err)
	defer n.Close()

	require.ErrorIs(t, n.Stop(ctx), node.ErrNotRunning, "stop before start is an error, not a crash")
	_, _, err = n.Exec(ctx, "SELECT 1")
	require.ErrorIs(t, err, node.ErrNotRunning)

	require.NoError(t, n.Start(ctx))
	require.True(t, n.IsRunning())
	require.ErrorIs(t, n.Start(ctx), node.ErrAlreadyRunning)
	require.NoError(t, n.OpenDB(ctx, ""))

	_, _, err = n.Exec(ctx, "CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER)")
	require.NoError(t, err)
	id, affected, err := n.Exec(ctx, "INSERT INTO kv (k, v) VALUES (?, ?)", "a", 1)
	require.NoError(t, err)
	require.Equal(t, int64(1), id)
	require.Equal(t, int64(1), affected)

	st := n.Status(ctx)
	require.True(t, st.Running)
	require.Equal(t, node.RoleVoter, st.Role)
	require.Equal(t, n.ID(), st.LeaderID)
	require.Equal(t, n.Address(), st.LeaderAddress)
	require.Len(t, st.Members, 1)

	require.NoError(t, n.Stop(ctx))
	require.False(t, n.IsRunning())
	require.NoError(t, n.Stop(ctx), "a second stop is a no-op")
	_, _, err = n.Exec(ctx, "INSERT INTO kv (k, v) VALUES ('b', 2)")
	require.ErrorIs(t, err, node.ErrNotRunning)
	require.False(t, n.Status(ctx).Running)

	require.NoError(t, n.Start(ctx), "start after stop in the same process")
	rows, err := n.Query(ctx, "SELECT k, v FROM kv")
	require.NoError(t, err)
	require.Equal(t, []map[string]any{{"k": "a", "v": int64(1)}}, rows, "the data survived stop and start")

	require.NoError(t, n.Close())
	require.NoError(t, n.Close(), "close is idempotent")
	require.ErrorIs(t, n.Start(ctx), node.ErrClosed)
}

func TestRestartInANewNodeValueKeepsIDAndData(t *testing.T) {
	ctx := ctxT(t, 60*time.Second)
	addr, dir := freeAddr(t, "127.0.0.1"), t.TempDir()
	n, err := node.New(addr, dir, node.Options{Logger: testLogger(t)})
	require.NoError(t, err)
	require.NoError(t, n.Start(ctx))
	_, _, err = n.Exec(ctx, "CREATE TABLE t (x)")
	require.NoError(t, err)
	require.NoError(t, n.Close())

	_, err = node.New(freeAddr(t, "127.0.0.1"), dir, node.Options{})
	require.ErrorContains(t, err, "belongs to a node with address", "raft remembers the address")
	_, err = node.New(addr, dir, node.Options{ID: 5, Cluster: []string{"127.0.0.9:1"}})
	require.ErrorContains(t, err, "belongs to node id 1")

	n2, err := node.New(addr, dir, node.Options{Logger: testLogger(t)})
	require.NoError(t, err)
	defer n2.Close()
	require.NoError(t, n2.Start(ctx))
	_, err = n2.Query(ctx, "SELECT * FROM t")
	require.NoError(t, err)
}

func TestValuesRoundTrip(t *testing.T) {
	ctx := ctxT(t, 60*time.Second)
	n := startSingle(t, node.Options{})
	_, _, err := n.Exec(ctx, "CREATE TABLE v (id INTEGER PRIMARY KEY, x)")
	require.NoError(t, err)
	for i, tc := range []struct {
		name string
		in   any
		want any
	}{
		{"int64", int64(42), int64(42)},
		{"negative int", -7, int64(-7)},
		{"max int64", int64(math.MaxInt64), int64(math.MaxInt64)},
		{"min int64", int64(math.MinInt64), int64(math.MinInt64)},
		{"uint32", uint32(7), int64(7)},
		{"real", 3.25, 3.25},
		{"integral real stays real", 2.0, 2.0},
		{"text", "hello", "hello"},
		{"unicode text", "héllo, 世界", "héllo, 世界"},
		{"empty text", "", ""},
		{"blob", []byte{0, 1, 2, 255}, []byte{0, 1, 2, 255}},
		{"null", nil, nil},
		{"bool is an integer", true, int64(1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := n.Exec(ctx, "INSERT INTO v (id, x) VALUES (?, ?)", i, tc.in)
			require.NoError(t, err)
			rows, err := n.Query(ctx, "SELECT x FROM v WHERE id = ?", i)
			require.NoError(t, err)
			require.Len(t, rows, 1)
			require.Equal(t, tc.want, rows[0]["x"])
		})
	}
	_, _, err = n.Exec(ctx, "INSERT INTO v (x) VALUES (?)", struct{}{})
	require.ErrorContains(t, err, "unsupported type struct {}")
	require.True(t, definite(err))
	_, _, err = n.Exec(ctx, "INSERT INTO v (x) VALUES (?)", uint64(math.MaxUint64))
	require.ErrorContains(t, err, "does not fit in int64")
}

func TestBadSQLGivesTheSQLiteCode(t *testing.T) {
	ctx := ctxT(t, 60*time.Second)
	n := startSingle(t, node.Options{})
	_, _, err := n.Exec(ctx, "CREATE TABLE u (k TEXT PRIMARY KEY)")
	require.NoError(t, err)
	_, _, err = n.Exec(ctx, "INSERT INTO u VALUES ('x')")
	require.NoError(t, err)
	for _, tc := range []struct {
		name          string
		sql           string
		code, extCode int
	}{
		{"syntax error", "SELEKT 1", 1, 1},
		{"no such table", "INSERT INTO nope VALUES (1)", 1, 1},
		{"primary key violation", "INSERT INTO u VALUES ('x')", 19, 1555},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := n.Exec(ctx, tc.sql)
			var dbErr *node.DatabaseError
			require.ErrorAs(t, err, &dbErr)
			require.Equal(t, tc.code, dbErr.Code)
			require.Equal(t, tc.extCode, dbErr.ExtendedCode)
			require.True(t, definite(err), "a database error is a definite failure")
			_, err = n.Query(ctx, tc.sql)
			if tc.code == 19 && node.DqliteVersion() >= 11807 {
				// dqlite 1.18.7 answers a QUERY request whose statement
				// fails a constraint with a failure of code 0 (1.18.1 gives
				// 1555 like EXEC does); go-dqlite (v2.0.1 and v3.0.4 alike)
				// turns code 0 into a bad connection, so the outcome is
				// unknown. Fails the day dqlite answers it properly again.
				var ind *node.IndeterminateError
				require.ErrorAs(t, err, &ind, "dqlite 1.18.7's code-0 answer to a failing QUERY")
				require.False(t, definite(err))
				return
			}
			require.ErrorAs(t, err, &dbErr)
		})
	}
}

func TestBeginCommitRollback(t *testing.T) {
	ctx := ctxT(t, 60*time.Second)
	n := startSingle(t, node.Options{})
	_, _, err := n.Exec(ctx, "CREATE TABLE t (x INTEGER)")
	require.NoError(t, err)

	require.ErrorIs(t, n.Commit(ctx), node.ErrNoTxn)
	require.ErrorIs(t, n.Rollback(ctx), node.ErrNoTxn)

	require.NoError(t, n.Begin(ctx))
	require.ErrorIs(t, n.Begin(ctx), node.ErrTxnOpen)
	_, _, err = n.Exec(ctx, "INSERT INTO t VALUES (1)")
	require.NoError(t, err)
	rows, err := n.Query(ctx, "SELECT count(*) AS c FROM t")
	require.NoError(t, err)
	require.Equal(t, int64(1), rows[0]["c"], "the transaction sees its own write")
	require.NoError(t, n.Commit(ctx))

	require.NoError(t, n.Begin(ctx))
	_, _, err = n.Exec(ctx, "INSERT INTO t VALUES (2)")
	require.NoError(t, err)
	require.NoError(t, n.Rollback(ctx))

	rows, err = n.Query(ctx, "SELECT x FROM t ORDER BY x")
	require.NoError(t, err)
	require.Equal(t, []map[string]any{{"x": int64(1)}}, rows, "committed row kept, rolled-back row gone")
}

func TestTxnCommitsAllOrNothing(t *testing.T) {
	ctx := ctxT(t, 60*time.Second)
	n := startSingle(t, node.Options{})
	_, _, err := n.Exec(ctx, "CREATE TABLE acct (id INTEGER PRIMARY KEY, bal INTEGER NOT NULL CHECK (bal >= 0))")
	require.NoError(t, err)
	_, _, err = n.Exec(ctx, "INSERT INTO acct VALUES (1, 10), (2, 0)")
	require.NoError(t, err)

	res, err := n.Txn(ctx, []node.Statement{
		{SQL: "UPDATE acct SET bal = bal - ? WHERE id = ?", Args: []any{4, 1}},
		{SQL: "UPDATE acct SET bal = bal + ? WHERE id = ?", Args: []any{4, 2}},
		{SQL: "SELECT id, bal FROM acct ORDER BY id"},
		{SQL: "INSERT INTO acct (bal) VALUES (?)", Args: []any{0}},
	})
	require.NoError(t, err)
	require.Len(t, res, 4)
	require.Equal(t, int64(1), res[0].RowsAffected)
	require.Equal(t, []map[string]any{{"id": int64(1), "bal": int64(6)}, {"id": int64(2), "bal": int64(4)}}, res[2].Rows)
	require.Equal(t, int64(3), res[3].LastInsertID)

	_, err = n.Txn(ctx, []node.Statement{
		{SQL: "UPDATE acct SET bal = bal + 100 WHERE id = 2"},
		{SQL: "UPDATE acct SET bal = bal - 100 WHERE id = 1"}, // violates the CHECK
	})
	var txnErr *node.TxnError
	require.ErrorAs(t, err, &txnErr)
	require.Equal(t, 1, txnErr.Statement)
	var dbErr *node.DatabaseError
	require.ErrorAs(t, err, &dbErr)
	require.Equal(t, 19, dbErr.Code)
	require.True(t, definite(err))

	rows, err := n.Query(ctx, "SELECT bal FROM acct WHERE id = 2")
	require.NoError(t, err)
	require.Equal(t, int64(4), rows[0]["bal"], "the failed transaction's first update was rolled back")
}

func TestHandoverOnASingleNodeReturnsPromptly(t *testing.T) {
	n := startSingle(t, node.Options{})
	start := time.Now()
	require.NoError(t, n.Handover(ctxT(t, 10*time.Second)))
	require.Less(t, time.Since(start), 5*time.Second)
	require.ErrorIs(t, n.Stop(ctxT(t, 10*time.Second)), nil)
	require.ErrorIs(t, n.Handover(ctxT(t, 10*time.Second)), node.ErrNotRunning)
}

func TestStatementsHaveADeadline(t *testing.T) {
	n := startSingle(t, node.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := n.Exec(ctx, "CREATE TABLE t (x)")
	var nl *node.NoLeaderError
	require.ErrorAs(t, err, &nl, "an expired context sends nothing")
	require.True(t, definite(err))
}

func TestBypassStopLeavesTheCNodeAndStartAttachesAgain(t *testing.T) {
	ctx := ctxT(t, 60*time.Second)
	t.Setenv(node.BypassStopEnv, "1")
	n := startSingle(t, node.Options{})
	require.Equal(t, node.StopBypass, n.Mode(), "DQTEST_BYPASS_STOP=1 makes bypass the default")
	_, _, err := n.Exec(ctx, "CREATE TABLE t (x)")
	require.NoError(t, err)
	require.NoError(t, n.Stop(ctx))
	require.False(t, n.IsRunning())
	_, _, err = n.Exec(ctx, "INSERT INTO t VALUES (1)")
	require.ErrorIs(t, err, node.ErrNotRunning)
	require.NoError(t, n.Stop(ctx), "a second stop is a no-op")
	require.NoError(t, n.Start(ctx))
	_, _, err = n.Exec(ctx, "INSERT INTO t VALUES (1)")
	require.NoError(t, err)
	// Close would leave the C node running and writing into a data dir the
	// test is about to remove: stop it for real.
	require.NoError(t, n.StopWith(ctx, node.StopGuarded))
}

func TestUnguardedStopOfARunningNodeStopsIt(t *testing.T) {
	ctx := ctxT(t, 60*time.Second)
	n := startSingle(t, node.Options{StopMode: node.StopUnguarded})
	_, _, err := n.Exec(ctx, "CREATE TABLE t (x)")
	require.NoError(t, err)
	require.NoError(t, n.Stop(ctx))
	require.False(t, n.IsRunning())
	require.NoError(t, n.Start(ctx), "start after an unguarded stop creates a fresh C node")
	_, err = n.Query(ctx, "SELECT * FROM t")
	require.NoError(t, err)
}

// The unguarded mode must reach dqlite's shutdown bugs, which kill the
// process: each case runs in a child process of this test binary. On a
// dqlite that has the fix (the library's own version, which is what the
// build links) the same calls must come back as DQLITE_MISUSE (2) with the
// process alive: the test then says the bug is fixed in this version, and
// fails the day either behaviour changes.
func TestUnguardedStopReproducesDqliteShutdownBugs(t *testing.T) {
	if os.Getenv("DQTEST_CRASH_CASE") != "" {
		crashCase(os.Getenv("DQTEST_CRASH_CASE"))
		return
	}
	for _, tc := range []struct {
		name, log string
		fixedIn   int // dqlite_version_number of the release with the fix
	}{
		{"stop-twice", "dqlite_node_stop: Assertion `rv == 0' failed", 11802}, // canonical/dqlite#737, fixed in 1.18.2
		{"stop-before-start", "SIGSEGV: segmentation violation", 11806},       // canonical/dqlite#848, fixed in 1.18.6
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := execSelf(t, "TestUnguardedStopReproducesDqliteShutdownBugs", "DQTEST_CRASH_CASE="+tc.name).CombinedOutput()
			if node.DqliteVersion() >= tc.fixedIn {
				t.Logf("dqlite %s has the fix: the stop is refused, the process lives", node.DqliteVersionString())
				require.NoError(t, err, "fixed in this version: the process must survive: %s", out)
				require.Contains(t, string(out), "dqlite_node_stop returned 2", "DQLITE_MISUSE: %s", out)
				require.Contains(t, string(out), "survived")
				require.NotContains(t, string(out), "signal arrived during cgo execution")
				return
			}
			// The Go runtime catches a signal raised in C, prints it and the
			// stacks, and exits with status 2.
			require.Error(t, err, "the process must die: %s", out)
			require.Contains(t, err.Error(), "exit status 2", "%s", out)
			require.Contains(t, string(out), tc.log)
			require.Contains(t, string(out), "signal arrived during cgo execution")
			require.Contains(t, string(out), "_Cfunc_dqlite_node_stop")
			require.NotContains(t, string(out), "survived")
		})
	}
}

func crashCase(name string) {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	dir, _ := os.MkdirTemp("", "dqtest-crash")
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	n, err := node.New(addr, dir, node.Options{StopMode: node.StopUnguarded, Logger: log})
	if err != nil {
		fmt.Println(err)
		os.Exit(3)
	}
	switch name {
	case "stop-twice":
		if err := n.Start(ctx); err != nil {
			fmt.Println(err)
			os.Exit(3)
		}
		fmt.Println("first stop:", n.Stop(ctx))
		fmt.Println("second stop:", n.Stop(ctx))
	case "stop-before-start":
		fmt.Println("stop:", n.Stop(ctx))
	}
	fmt.Println("survived")
	os.Exit(0)
}

func execSelf(t *testing.T, test string, env ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctxT(t, 60*time.Second), os.Args[0], "-test.run=^"+test+"$")
	cmd.Env = append(os.Environ(), env...)
	return cmd
}
