package control

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// chooserNode is a fakeNode that can run statements on other databases:
// each database gets a fakeNode of its own, so a test sees which one a
// request reached.
type chooserNode struct {
	*fakeNode
	mu       sync.Mutex
	dbs      map[string]*fakeNode
	released []string
	err      error
}

func (c *chooserNode) OnDB(ctx context.Context, name string) (SQL, func(), error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return nil, nil, c.err
	}
	if c.dbs == nil {
		c.dbs = map[string]*fakeNode{}
	}
	f := c.dbs[name]
	if f == nil {
		f = &fakeNode{}
		c.dbs[name] = f
	}
	return f, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.released = append(c.released, name)
	}, nil
}

func TestExecQueryAndTxnRunOnTheDatabaseTheRequestNames(t *testing.T) {
	n := &chooserNode{fakeNode: &fakeNode{}}
	c := NewClient(serve(t, n).URL, nil)
	ctx := context.Background()

	_, err := c.OnDB("app.db").Exec(ctx, "INSERT INTO t VALUES (?)", int64(1))
	require.NoError(t, err)
	require.Equal(t, []any{int64(1)}, n.dbs["app.db"].args)
	_, err = c.OnDB("app.db").Query(ctx, "SELECT * FROM t")
	require.NoError(t, err)
	_, err = c.OnDB("other.db").Txn(ctx, []Statement{{SQL: "UPDATE t SET x = 1"}})
	require.NoError(t, err)
	_, err = c.Exec(ctx, "INSERT INTO own VALUES (1)")
	require.NoError(t, err, "without db the node's own database, as before")

	require.Equal(t, []string{"exec INSERT INTO t VALUES (?)", "query SELECT * FROM t"}, n.dbs["app.db"].calls)
	require.Equal(t, []string{"txn"}, n.dbs["other.db"].calls)
	require.Equal(t, []string{"exec INSERT INTO own VALUES (1)"}, n.fakeNode.calls, "only the request without db reached the node itself")
	require.Equal(t, []string{"app.db", "app.db", "other.db"}, n.released, "every chosen database is released after its request")

	// The wire form: a plain "db" field.
	resp, err := http.Post(serve(t, n).URL+"/query", "application/json", strings.NewReader(`{"sql": "SELECT 2", "db": "wire.db"}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, []string{"query SELECT 2"}, n.dbs["wire.db"].calls)
}

func TestABadDatabaseNameIsABadRequestThatReachesNothing(t *testing.T) {
	n := &chooserNode{fakeNode: &fakeNode{}}
	srv := serve(t, n)
	for _, tc := range []struct{ name, path, body, want string }{
		{"a path", "/exec", `{"sql": "SELECT 1", "db": "../etc/passwd"}`, "without directories"},
		{"a directory", "/query", `{"sql": "SELECT 1", "db": "a/b.db"}`, "without directories"},
		{"a backslash", "/query", `{"sql": "SELECT 1", "db": "a\\b.db"}`, "without directories"},
		{"dot dot", "/exec", `{"sql": "SELECT 1", "db": ".."}`, "want a file name"},
		{"a NUL", "/txn", `{"statements": [{"sql": "SELECT 1"}], "db": "a\u0000b"}`, "without directories"},
		{"too long", "/exec", `{"sql": "SELECT 1", "db": "` + strings.Repeat("x", MaxDBName+1) + `"}`, "at most 255"},
		{"not a string", "/exec", `{"sql": "SELECT 1", "db": 7}`, "body"},
		{"on a held transaction", "/txn/hold", `{"statements": [{"sql": "SELECT 1"}], "db": "app.db"}`, "own database only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Post(srv.URL+tc.path, "application/json", strings.NewReader(tc.body))
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, http.StatusBadRequest, resp.StatusCode)
			var ans errorAnswer
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&ans))
			require.Equal(t, KindBadRequest, ans.Error.Kind)
			require.Contains(t, ans.Error.Message, tc.want)
		})
	}
	require.Empty(t, n.fakeNode.calls)
	require.Empty(t, n.dbs, "no database was chosen for a bad request")

	// A node that cannot choose says so, with a 400, and runs nothing.
	plain := &fakeNode{}
	_, err := NewClient(serve(t, plain).URL, nil).OnDB("app.db").Exec(context.Background(), "SELECT 1")
	var cerr *Error
	require.ErrorAs(t, err, &cerr)
	require.Equal(t, http.StatusBadRequest, cerr.Status)
	require.Contains(t, cerr.Message, "own database only")
	require.True(t, cerr.Definite())
	require.Empty(t, plain.calls)

	// The chooser's own error (a stopped node) comes back as it is.
	n.err = &Error{Kind: KindNotRunning, Message: "node: not running"}
	_, err = NewClient(srv.URL, nil).OnDB("app.db").Query(context.Background(), "SELECT 1")
	require.ErrorAs(t, err, &cerr)
	require.Equal(t, KindNotRunning, cerr.Kind)
	require.Equal(t, http.StatusConflict, cerr.Status)
}

func TestNewServerCutsOffAClientThatNeverFinishesItsHeaders(t *testing.T) {
	srv := NewServer(&fakeNode{}, nil)
	require.Equal(t, ReadHeaderTimeout, srv.ReadHeaderTimeout)
	require.Positive(t, srv.ReadTimeout)
	require.Positive(t, srv.IdleTimeout)
	require.Greater(t, srv.WriteTimeout, MaxTimeout, "the longest request's answer still gets written")

	// The real thing, with a short header timeout: a connection that sends
	// half a request line and stops is closed by the server.
	srv.ReadHeaderTimeout = 200 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	conn, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.Write([]byte("GET /health HTTP/1.1\r\nHost: x\r\n"))
	require.NoError(t, err)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(5*time.Second)))
	began := time.Now()
	_, err = bufio.NewReader(conn).ReadString('\n')
	require.Error(t, err, "the server closed the connection instead of waiting for the rest")
	require.Less(t, time.Since(began), 4*time.Second, "closed by the header timeout, not by the test's read deadline")
}
