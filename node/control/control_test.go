package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeNode records what the server asked of it and answers with canned
// values; tests of real statements live in package node.
type fakeNode struct {
	mu       sync.Mutex
	calls    []string
	args     []any
	stmts    []Statement
	deadline time.Duration
	err      error
	rows     []map[string]any
	panics   bool
}

func (f *fakeNode) record(ctx context.Context, call string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
	if d, ok := ctx.Deadline(); ok {
		f.deadline = time.Until(d)
	}
	if f.panics {
		panic("boom")
	}
	return f.err
}

func (f *fakeNode) Status(ctx context.Context) Status {
	_ = f.record(ctx, "status")
	return Status{ID: 1, Address: "127.0.0.1:9001", Running: true, Role: "voter", Members: []Member{{ID: 1, Address: "127.0.0.1:9001", Role: "voter"}}}
}

func (f *fakeNode) Exec(ctx context.Context, sql string, args ...any) (Result, error) {
	f.args = args
	return Result{LastInsertID: 7, RowsAffected: 1}, f.record(ctx, "exec "+sql)
}

func (f *fakeNode) Query(ctx context.Context, sql string, args ...any) ([]map[string]any, error) {
	f.args = args
	return f.rows, f.record(ctx, "query "+sql)
}

func (f *fakeNode) Txn(ctx context.Context, stmts []Statement) ([]Result, error) {
	f.stmts = stmts
	res := make([]Result, len(stmts))
	res[len(res)-1].Rows = f.rows
	return res, f.record(ctx, "txn")
}

func (f *fakeNode) HoldTxn(ctx context.Context, stmts []Statement) ([]Result, error) {
	f.stmts = stmts
	return make([]Result, len(stmts)), f.record(ctx, "hold txn")
}

func (f *fakeNode) Handover(ctx context.Context) error { return f.record(ctx, "handover") }
func (f *fakeNode) Transfer(ctx context.Context, id uint64) error {
	return f.record(ctx, "transfer "+jsonString(id))
}
func (f *fakeNode) AddMember(ctx context.Context, m Member) error {
	return f.record(ctx, "add "+jsonString(m))
}
func (f *fakeNode) RemoveMember(ctx context.Context, id uint64) error {
	return f.record(ctx, "remove "+jsonString(id))
}
func (f *fakeNode) Stop(ctx context.Context, mode string) error { return f.record(ctx, "stop "+mode) }
func (f *fakeNode) Start(ctx context.Context) error             { return f.record(ctx, "start") }

func jsonString(v any) string { b, _ := json.Marshal(v); return string(b) }

func serve(t *testing.T, n Node) *httptest.Server {
	srv := httptest.NewServer(Handler(n, nil))
	t.Cleanup(srv.Close)
	return srv
}

func TestBadRequestsGet4xxWithAMessage(t *testing.T) {
	f := &fakeNode{}
	srv := serve(t, f)
	for _, tc := range []struct {
		name, method, path, body string
		header                   map[string]string
		status                   int
		want                     string
	}{
		{"malformed JSON", "POST", "/exec", `{"sql": `, nil, 400, "body"},
		{"not an object", "POST", "/exec", `[1]`, nil, 400, "body"},
		{"unknown field", "POST", "/exec", `{"sql": "SELECT 1", "sqll": 1}`, nil, 400, `unknown field "sqll"`},
		{"trailing data", "POST", "/exec", `{"sql": "SELECT 1"} {}`, nil, 400, "after the JSON object"},
		{"oversized body", "POST", "/exec", `{"sql": "` + strings.Repeat("x", MaxBody) + `"}`, nil, 413, "body over"},
		{"wrong method", "GET", "/exec", "", nil, 405, "use POST"},
		{"wrong method on status", "POST", "/status", "{}", nil, 405, "use GET"},
		{"unknown endpoint", "GET", "/nope", "", nil, 404, "no endpoint /nope"},
		{"missing sql", "POST", "/exec", `{"args": [1]}`, nil, 400, "missing sql"},
		{"missing sql in query", "POST", "/query", `{}`, nil, 400, "missing sql"},
		{"empty body on exec", "POST", "/exec", ``, nil, 400, "missing sql"},
		{"no statements", "POST", "/txn", `{"statements": []}`, nil, 400, "no statements"},
		{"statement without sql", "POST", "/txn", `{"statements": [{"sql": "SELECT 1"}, {"args": []}]}`, nil, 400, "statement 1: missing sql"},
		{"no statements to hold", "POST", "/txn/hold", `{}`, nil, 400, "no statements"},
		{"integer out of range", "POST", "/exec", `{"sql": "SELECT ?", "args": [9223372036854775808]}`, nil, 400, "not an int64"},
		{"object argument", "POST", "/exec", `{"sql": "SELECT ?", "args": [{"x": 1}]}`, nil, 400, "argument 1"},
		{"bad base64", "POST", "/exec", `{"sql": "SELECT ?", "args": [{"blob": "!!"}]}`, nil, 400, "blob"},
		{"array argument", "POST", "/query", `{"sql": "SELECT ?", "args": [[1]]}`, nil, 400, "argument 1"},
		{"negative timeout", "POST", "/exec", `{"sql": "SELECT 1", "timeout_ms": -5}`, nil, 400, "timeout_ms -5"},
		{"bad timeout header", "GET", "/status", ``, map[string]string{TimeoutHeader: "soon"}, 400, TimeoutHeader},
		{"bad stop mode", "POST", "/stop", `{"mode": "gentle"}`, nil, 400, `mode "gentle"`},
		{"member add without id", "POST", "/member/add", `{"address": "127.0.0.1:9002"}`, nil, 400, "missing id"},
		{"member add without address", "POST", "/member/add", `{"id": 2}`, nil, 400, "missing address"},
		{"member add with a bad role", "POST", "/member/add", `{"id": 2, "address": "127.0.0.1:9002", "role": "boss"}`, nil, 400, `role "boss"`},
		{"member remove without id", "POST", "/member/remove", `{}`, nil, 400, "missing id"},
		{"transfer with a string id", "POST", "/transfer", `{"to_id": "2"}`, nil, 400, "body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
			require.NoError(t, err)
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, tc.status, resp.StatusCode)
			var ans errorAnswer
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&ans))
			require.NotNil(t, ans.Error)
			require.Equal(t, KindBadRequest, ans.Error.Kind)
			require.Contains(t, ans.Error.Message, tc.want)
		})
	}
	require.Empty(t, f.calls, "no bad request reached the node")
}

func TestEveryEndpointReachesTheNode(t *testing.T) {
	f := &fakeNode{rows: []map[string]any{{"n": int64(1), "r": 2.0, "t": "x", "b": []byte{0, 255}, "z": nil}}}
	c := NewClient(serve(t, f).URL, nil)
	ctx := context.Background()
	require.NoError(t, c.Health(ctx))
	st, err := c.Status(ctx)
	require.NoError(t, err)
	require.Equal(t, "voter", st.Role)
	res, err := c.Exec(ctx, "INSERT", int64(1), 2.5, "s", []byte("b"), nil)
	require.NoError(t, err)
	require.Equal(t, Result{LastInsertID: 7, RowsAffected: 1}, res)
	require.Equal(t, []any{int64(1), 2.5, "s", []byte("b"), nil}, f.args, "argument types survive the wire")
	rows, err := c.Query(ctx, "SELECT")
	require.NoError(t, err)
	require.Equal(t, f.rows, rows, "value types survive the wire")
	results, err := c.Txn(ctx, []Statement{{SQL: "UPDATE", Args: []any{1}}, {SQL: "SELECT"}})
	require.NoError(t, err)
	require.Equal(t, []Statement{{SQL: "UPDATE", Args: []any{int64(1)}}, {SQL: "SELECT", Args: []any{}}}, f.stmts)
	require.Nil(t, results[0].Rows)
	require.Equal(t, f.rows, results[1].Rows)
	results, err = c.HoldTxn(ctx, []Statement{{SQL: "INSERT INTO held VALUES (?)", Args: []any{int64(1)}}})
	require.NoError(t, err)
	require.Len(t, results, 1)
	require.Equal(t, []Statement{{SQL: "INSERT INTO held VALUES (?)", Args: []any{int64(1)}}}, f.stmts)
	require.NoError(t, c.Handover(ctx))
	require.NoError(t, c.Transfer(ctx, 3))
	require.NoError(t, c.AddMember(ctx, Member{ID: 4, Address: "127.0.0.1:9004", Role: "spare"}))
	require.NoError(t, c.RemoveMember(ctx, 4))
	require.NoError(t, c.Stop(ctx, "bypass"))
	require.NoError(t, c.Start(ctx))
	require.Equal(t, []string{"status", "exec INSERT", "query SELECT", "txn", "hold txn", "handover", "transfer 3",
		`add {"id":4,"address":"127.0.0.1:9004","role":"spare"}`, "remove 4", "stop bypass", "start"}, f.calls)
}

func TestTheServerGetsTheClientsDeadlineMinusAMargin(t *testing.T) {
	f := &fakeNode{}
	c := NewClient(serve(t, f).URL, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err := c.Exec(ctx, "X")
	require.NoError(t, err)
	require.Greater(t, f.deadline, 2*time.Second)
	require.Less(t, f.deadline, 3*time.Second-200*time.Millisecond)

	_, err = c.Exec(context.Background(), "X")
	require.NoError(t, err)
	require.InDelta(t, DefaultTimeout.Seconds(), f.deadline.Seconds(), 1.1, "no deadline: the default")

	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	_, err = c.Exec(ctx, "X")
	require.NoError(t, err)
	require.LessOrEqual(t, f.deadline, MaxTimeout, "capped")
}

func TestErrorsCarryTheirKindAndDefiniteness(t *testing.T) {
	stmt := 2
	for _, tc := range []struct {
		err      *Error
		status   int
		definite bool
	}{
		{&Error{Kind: KindDatabase, Message: "UNIQUE", Code: 19, ExtendedCode: 2067}, 422, true},
		{&Error{Kind: KindNotLeader, Message: "no leader"}, 503, true},
		{&Error{Kind: KindNotRunning, Message: "stopped"}, 409, true},
		{&Error{Kind: KindAborted, Message: "lost", Statement: &stmt}, 409, true},
		{&Error{Kind: KindIndeterminate, Message: "lost", ExtendedCode: 10506, Code: 10}, 504, false},
		{&Error{Kind: KindStop, Message: "timeout"}, 500, true},
	} {
		t.Run(tc.err.Kind, func(t *testing.T) {
			f := &fakeNode{err: tc.err}
			c := NewClient(serve(t, f).URL, nil)
			_, err := c.Exec(context.Background(), "X")
			var ce *Error
			require.ErrorAs(t, err, &ce)
			require.Equal(t, tc.status, ce.Status)
			require.Equal(t, tc.err.Kind, ce.Kind)
			require.Equal(t, tc.err.Code, ce.Code)
			require.Equal(t, tc.err.ExtendedCode, ce.ExtendedCode)
			require.Equal(t, tc.err.Statement, ce.Statement)
			require.Equal(t, tc.definite, ce.Definite())
		})
	}
	t.Run("a plain error is internal and not definite", func(t *testing.T) {
		c := NewClient(serve(t, &fakeNode{err: errors.New("surprise")}).URL, nil)
		_, err := c.Exec(context.Background(), "X")
		var ce *Error
		require.ErrorAs(t, err, &ce)
		require.Equal(t, KindInternal, ce.Kind)
		require.Equal(t, 500, ce.Status)
		require.False(t, ce.Definite())
	})
	t.Run("a panicking node gives a 500, the server lives on", func(t *testing.T) {
		f := &fakeNode{panics: true}
		c := NewClient(serve(t, f).URL, nil)
		_, err := c.Exec(context.Background(), "X")
		require.ErrorContains(t, err, "panic: boom")
		require.NoError(t, c.Health(context.Background()))
	})
}

func TestTransportFailuresAreDefiniteOnlyWhenNothingWasSent(t *testing.T) {
	t.Run("connection refused", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		url := "http://" + l.Addr().String()
		require.NoError(t, l.Close())
		_, err = NewClient(url, nil).Exec(context.Background(), "INSERT")
		var ce *Error
		require.ErrorAs(t, err, &ce)
		require.Equal(t, KindUnreachable, ce.Kind)
		require.True(t, ce.Definite())
	})
	t.Run("hung up after reading the request", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer l.Close()
		go func() {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = io.ReadFull(conn, make([]byte, 100))
			conn.Close()
		}()
		_, err = NewClient("http://"+l.Addr().String(), nil).Exec(context.Background(), "INSERT")
		var ce *Error
		require.ErrorAs(t, err, &ce)
		require.Equal(t, KindIndeterminate, ce.Kind)
		require.False(t, ce.Definite())
	})
	t.Run("no answer before the deadline", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(500 * time.Millisecond)
		}))
		defer srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := NewClient(srv.URL, nil).Exec(ctx, "INSERT")
		var ce *Error
		require.ErrorAs(t, err, &ce)
		require.Equal(t, KindIndeterminate, ce.Kind)
	})
	t.Run("a non-JSON error answer", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "bad gateway", http.StatusBadGateway)
		}))
		defer srv.Close()
		_, err := NewClient(srv.URL, nil).Exec(context.Background(), "INSERT")
		var ce *Error
		require.ErrorAs(t, err, &ce)
		require.Equal(t, KindInternal, ce.Kind)
		require.Equal(t, 502, ce.Status)
		require.False(t, ce.Definite())
	})
	t.Run("an expired context sends nothing", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := NewClient("http://127.0.0.1:1", nil).Exec(ctx, "INSERT")
		var ce *Error
		require.ErrorAs(t, err, &ce)
		require.True(t, ce.Definite())
	})
}

func TestValuesRoundTripOnTheWire(t *testing.T) {
	for _, v := range []any{
		nil, int64(0), int64(math.MaxInt64), int64(math.MinInt64), 2.0, -0.5, 1e300, math.Inf(1), math.Inf(-1),
		"", "héllo", `{"blob": "x"}`, []byte{}, []byte{0, 1, 255},
	} {
		raw, err := encodeValue(v)
		require.NoError(t, err, "%v", v)
		got, err := decodeValue(raw)
		require.NoError(t, err, "%s", raw)
		require.Equal(t, v, got, "%s", raw)
	}
	raw, err := encodeValue(2.0)
	require.NoError(t, err)
	require.Equal(t, "2.0", string(raw), "a real keeps a fraction so it stays a real")
	_, err = encodeValue(math.NaN())
	require.Error(t, err)
	_, err = encodeValue(struct{}{})
	require.Error(t, err)
	got, err := decodeValue(json.RawMessage("true"))
	require.NoError(t, err)
	require.Equal(t, int64(1), got)
	_, err = decodeValue(json.RawMessage(`{"blob": "AA==", "extra": 1}`))
	require.Error(t, err)
	require.True(t, bytes.Equal([]byte(`{"blob":"AA=="}`), mustEncode(t, []byte{0})))
}

func mustEncode(t *testing.T, v any) []byte {
	raw, err := encodeValue(v)
	require.NoError(t, err)
	return raw
}

// counter answers every query with a fresh count.
type counter struct {
	fakeNode
	n int64
}

func (c *counter) Query(ctx context.Context, sql string, args ...any) ([]map[string]any, error) {
	c.n++
	return []map[string]any{{"n": c.n}}, nil
}

func TestStaleReadsServeACachedCopyForMaxAge(t *testing.T) {
	inner := &counter{}
	n := StaleReads(inner, 200*time.Millisecond, nil)
	ctx := context.Background()
	read := func(sql string, args ...any) int64 {
		rows, err := n.Query(ctx, sql, args...)
		require.NoError(t, err)
		return rows[0]["n"].(int64)
	}
	require.Equal(t, int64(1), read("SELECT v FROM r WHERE k = ?", "a"))
	require.Equal(t, int64(1), read("SELECT v FROM r WHERE k = ?", "a"), "the same query within maxAge is stale")
	require.Equal(t, int64(2), read("SELECT v FROM r WHERE k = ?", "b"), "other arguments are another query")
	time.Sleep(250 * time.Millisecond)
	require.Equal(t, int64(3), read("SELECT v FROM r WHERE k = ?", "a"), "after maxAge it reads again")
	_, err := n.Exec(ctx, "INSERT")
	require.NoError(t, err)
	require.Equal(t, []string{"exec INSERT"}, inner.calls, "everything else passes through")
}
