package control

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// everyValue is one value of each SQL type, with the edges of each.
var everyValue = []any{
	nil, int64(0), int64(-1), int64(math.MaxInt64), int64(math.MinInt64), 2.0, -0.5, 1e300, 5e-324,
	math.Inf(1), math.Inf(-1), "", "héllo", "a\x00b", `{"blob": "x"}`, []byte{}, []byte{0, 1, 255},
}

func TestFramesRoundTripEveryValueType(t *testing.T) {
	req := &frameRequest{Op: frameExec, TimeoutMS: 1234, DB: "app.db", SQL: "INSERT ?", Args: everyValue}
	b, err := appendRequest(nil, req)
	require.NoError(t, err)
	got, err := parseRequest(b)
	require.NoError(t, err)
	require.Equal(t, req, got)
	for i, v := range everyValue {
		require.IsType(t, v, got.Args[i], "value %d keeps its Go type", i)
	}

	// int and bool go as integers, as in JSON.
	b, err = appendRequest(nil, &frameRequest{Op: frameQuery, SQL: "S", Args: []any{7, true, false}})
	require.NoError(t, err)
	got, err = parseRequest(b)
	require.NoError(t, err)
	require.Equal(t, []any{int64(7), int64(1), int64(0)}, got.Args)

	txn := &frameRequest{Op: frameTxn, TimeoutMS: 1, Statements: []Statement{{SQL: "A", Args: everyValue}, {SQL: "B", Args: []any{}}}}
	b, err = appendRequest(nil, txn)
	require.NoError(t, err)
	got, err = parseRequest(b)
	require.NoError(t, err)
	require.Equal(t, txn, got)

	row := map[string]any{}
	for i, v := range everyValue {
		row[string(rune('a'+i))] = v
	}
	results := []Result{{LastInsertID: math.MinInt64, RowsAffected: math.MaxInt64}, {Rows: []map[string]any{row, {}}}, {Rows: []map[string]any{}}}
	b, err = appendResults(nil, results)
	require.NoError(t, err)
	back, cerr, err := parseAnswer(b)
	require.NoError(t, err)
	require.Nil(t, cerr)
	require.Equal(t, results, back)
	require.NotNil(t, back[2].Rows, "empty rows stay rows")
	require.Nil(t, back[0].Rows, "no rows stay none")

	stmt := -1
	for _, e := range []*Error{
		{Kind: KindDatabase, Message: "UNIQUE", Code: 19, ExtendedCode: 2067},
		{Kind: KindAborted, Message: "lost", Statement: &stmt},
		{Kind: KindIndeterminate, Message: "", Code: 10, ExtendedCode: 10506},
		{Status: 413, Kind: KindBadRequest, Message: "big"},
	} {
		back, cerr, err := parseAnswer(appendError(nil, e))
		require.NoError(t, err)
		require.Nil(t, back)
		want := *e
		want.Status = e.HTTPStatus()
		require.Equal(t, &want, cerr)
	}

	_, err = appendRequest(nil, &frameRequest{Op: frameExec, SQL: "X", Args: []any{math.NaN()}})
	require.ErrorContains(t, err, "argument 1: value NaN")
	_, err = appendRequest(nil, &frameRequest{Op: frameTxn, Statements: []Statement{{SQL: "X"}, {SQL: "Y", Args: []any{struct{}{}}}}})
	require.ErrorContains(t, err, "statement 1: argument 1: value of type struct {}")
	_, err = appendResults(nil, []Result{{Rows: []map[string]any{{"c": uint8(1)}}}})
	require.ErrorContains(t, err, `result 0: row 0, column "c"`)
}

func TestMalformedFramesAreRefusedWithTheirReason(t *testing.T) {
	good, err := appendRequest(nil, &frameRequest{Op: frameTxn, SQL: "", Statements: []Statement{{SQL: "S", Args: []any{"x", []byte("y")}}}})
	require.NoError(t, err)
	for _, tc := range []struct {
		name  string
		frame []byte
		want  string
	}{
		{"empty", nil, "frame ends early"},
		{"unknown operation", []byte{'z', 0, 0}, `operation 'z'`},
		{"every truncation", nil, ""}, // below
		{"trailing bytes", append(append([]byte{}, good...), 9), "1 bytes after the request"},
		{"bad tag", []byte{'e', 0, 0, 1, 'S', 1, 9}, "argument 1: value tag 9"},
		{"NaN", binary.BigEndian.AppendUint64([]byte{'e', 0, 0, 1, 'S', 1, tagReal}, math.Float64bits(math.NaN())), "NaN"},
		{"huge count", binary.AppendUvarint([]byte{'e', 0, 0, 1, 'S'}, 1<<40), "count 1099511627776"},
		{"long string", binary.AppendUvarint([]byte{'e', 0, 0}, 100), "frame ends early"},
		{"varint overflow", []byte{'e', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, "timeout: varint overflows"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.want == "" {
				for n := range len(good) {
					_, err := parseRequest(good[:n])
					require.Error(t, err, "cut at %d", n)
				}
				return
			}
			_, err := parseRequest(tc.frame)
			require.ErrorContains(t, err, tc.want)
		})
	}
	for _, bad := range [][]byte{nil, {7}, {answerOK, 1}, {answerOK, 0, 1}, {answerError, 200, 3}, {answerError, 0xc8, 0x01, 0, 0, 0, 0, 0}} {
		_, _, err := parseAnswer(bad)
		require.Error(t, err, "%v", bad)
	}
}

// serveFramesCounting serves n and counts upgraded connections and JSON
// requests.
func serveFramesCounting(t *testing.T, n Node) (url string, upgrades, jsons *atomic.Int64) {
	upgrades, jsons = &atomic.Int64{}, &atomic.Int64{}
	h := Handler(n, nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == FramesPath {
			upgrades.Add(1)
		} else {
			jsons.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, upgrades, jsons
}

func framesClient(t *testing.T, url string) (*Client, *Frames) {
	f := &Frames{}
	t.Cleanup(f.CloseIdle)
	return NewClient(url, nil).WithFrames(f), f
}

func TestFramesCarryExecQueryAndTxnLikeJSON(t *testing.T) {
	f := &fakeNode{rows: []map[string]any{{"n": int64(1), "r": 2.0, "t": "x", "b": []byte{0, 255}, "z": nil}}}
	url, upgrades, jsons := serveFramesCounting(t, f)
	c, _ := framesClient(t, url)
	jc := NewClient(url, nil)
	ctx := context.Background()
	for _, cl := range []*Client{c, jc} {
		res, err := cl.Exec(ctx, "INSERT", int64(1), 2.5, "s", []byte("b"), nil)
		require.NoError(t, err)
		require.Equal(t, Result{LastInsertID: 7, RowsAffected: 1}, res)
		require.Equal(t, []any{int64(1), 2.5, "s", []byte("b"), nil}, f.args, "argument types survive the wire")
		rows, err := cl.Query(ctx, "SELECT")
		require.NoError(t, err)
		require.Equal(t, f.rows, rows, "value types survive the wire")
		results, err := cl.Txn(ctx, []Statement{{SQL: "UPDATE", Args: []any{1}}, {SQL: "SELECT"}})
		require.NoError(t, err)
		require.Equal(t, []Statement{{SQL: "UPDATE", Args: []any{int64(1)}}, {SQL: "SELECT", Args: []any{}}}, f.stmts)
		require.Nil(t, results[0].Rows)
		require.Equal(t, f.rows, results[1].Rows)
	}
	f.rows = nil
	for _, cl := range []*Client{c, jc} {
		rows, err := cl.Query(ctx, "SELECT")
		require.NoError(t, err)
		require.Equal(t, []map[string]any{}, rows, "no rows is an empty list")
		results, err := cl.Txn(ctx, []Statement{{SQL: "SELECT"}})
		require.NoError(t, err)
		require.Nil(t, results[0].Rows, "a txn's empty rows are none, as in JSON")
	}
	require.Equal(t, []string{"exec INSERT", "query SELECT", "txn", "exec INSERT", "query SELECT", "txn", "query SELECT", "txn", "query SELECT", "txn"}, f.calls)
	require.Equal(t, int64(1), upgrades.Load(), "one framed connection, reused")
	require.Equal(t, int64(5), jsons.Load(), "the JSON client's requests only")

	// Everything else stays JSON.
	require.NoError(t, c.Handover(ctx))
	require.Equal(t, int64(6), jsons.Load())

	// Another database, through frames too.
	_, err := c.OnDB("../x").Exec(ctx, "X")
	var ce *Error
	require.ErrorAs(t, err, &ce)
	require.Equal(t, KindBadRequest, ce.Kind)
	require.Equal(t, 400, ce.Status)
	require.Contains(t, ce.Message, "want a file name")
	require.Equal(t, int64(6), jsons.Load())
}

func TestFramesGetTheClientsDeadlineMinusAMargin(t *testing.T) {
	f := &fakeNode{}
	url, _, _ := serveFramesCounting(t, f)
	c, _ := framesClient(t, url)
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

func TestFramesErrorsKeepTheirKindAndDefiniteness(t *testing.T) {
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
			url, _, jsons := serveFramesCounting(t, &fakeNode{err: tc.err})
			c, _ := framesClient(t, url)
			for _, call := range []func() error{
				func() error { _, err := c.Exec(context.Background(), "X"); return err },
				func() error { _, err := c.Query(context.Background(), "X"); return err },
				func() error { _, err := c.Txn(context.Background(), []Statement{{SQL: "X"}}); return err },
			} {
				var ce *Error
				require.ErrorAs(t, call(), &ce)
				require.Equal(t, tc.status, ce.Status)
				require.Equal(t, tc.err.Kind, ce.Kind)
				require.Equal(t, tc.err.Message, ce.Message)
				require.Equal(t, tc.err.Code, ce.Code)
				require.Equal(t, tc.err.ExtendedCode, ce.ExtendedCode)
				require.Equal(t, tc.err.Statement, ce.Statement)
				require.Equal(t, tc.definite, ce.Definite())
			}
			require.Zero(t, jsons.Load())
		})
	}
	t.Run("a plain error is internal and not definite", func(t *testing.T) {
		url, _, _ := serveFramesCounting(t, &fakeNode{err: errors.New("surprise")})
		c, _ := framesClient(t, url)
		_, err := c.Exec(context.Background(), "X")
		var ce *Error
		require.ErrorAs(t, err, &ce)
		require.Equal(t, KindInternal, ce.Kind)
		require.Equal(t, 500, ce.Status)
		require.False(t, ce.Definite())
	})
	t.Run("a panicking node gives a 500, the connection lives on", func(t *testing.T) {
		f := &fakeNode{panics: true}
		url, upgrades, _ := serveFramesCounting(t, f)
		c, _ := framesClient(t, url)
		_, err := c.Exec(context.Background(), "X")
		require.ErrorContains(t, err, "panic: boom")
		f.panics = false
		_, err = c.Exec(context.Background(), "X")
		require.NoError(t, err)
		require.Equal(t, int64(1), upgrades.Load())
	})
	t.Run("bad requests are refused before the node", func(t *testing.T) {
		f := &fakeNode{}
		url, _, _ := serveFramesCounting(t, f)
		c, _ := framesClient(t, url)
		for _, call := range []func() error{
			func() error { _, err := c.Exec(context.Background(), ""); return err },
			func() error { _, err := c.Txn(context.Background(), nil); return err },
			func() error { _, err := c.Txn(context.Background(), []Statement{{SQL: "A"}, {}}); return err },
			func() error { _, err := c.Exec(context.Background(), "X", struct{}{}); return err },
			func() error { _, err := c.Exec(context.Background(), "X", strings.Repeat("x", MaxBody)); return err },
		} {
			var ce *Error
			require.ErrorAs(t, call(), &ce)
			require.Equal(t, KindBadRequest, ce.Kind, ce.Message)
			require.True(t, ce.Definite())
		}
		require.Empty(t, f.calls)
	})
}

// rawFrames is a server that upgrades and then does what serve does with
// the connection.
func rawFrames(t *testing.T, serve func(c net.Conn, br *bufio.Reader)) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				if _, err := http.ReadRequest(br); err != nil {
					return
				}
				_, _ = io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: "+FramesProtocol+"\r\n\r\n")
				serve(c, br)
			}()
		}
	}()
	return "http://" + l.Addr().String()
}

func readFrame(br *bufio.Reader) error {
	var hdr [4]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return err
	}
	_, err := io.ReadFull(br, make([]byte, binary.BigEndian.Uint32(hdr[:])))
	return err
}

func TestFramesTransportFailuresAreDefiniteOnlyWhenNothingWasSent(t *testing.T) {
	kind := func(t *testing.T, err error) string {
		var ce *Error
		require.ErrorAs(t, err, &ce)
		require.Equal(t, ce.Kind == KindUnreachable || ce.Kind == KindBadRequest, ce.Definite())
		return ce.Kind
	}
	t.Run("connection refused", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		url := "http://" + l.Addr().String()
		require.NoError(t, l.Close())
		c, _ := framesClient(t, url)
		_, err = c.Exec(context.Background(), "INSERT")
		require.Equal(t, KindUnreachable, kind(t, err))
	})
	t.Run("hung up after reading the request", func(t *testing.T) {
		url := rawFrames(t, func(c net.Conn, br *bufio.Reader) { _ = readFrame(br) })
		c, _ := framesClient(t, url)
		_, err := c.Exec(context.Background(), "INSERT")
		require.Equal(t, KindIndeterminate, kind(t, err))
	})
	t.Run("no answer before the deadline", func(t *testing.T) {
		url := rawFrames(t, func(c net.Conn, br *bufio.Reader) { _ = readFrame(br); time.Sleep(time.Second) })
		c, _ := framesClient(t, url)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := c.Exec(ctx, "INSERT")
		require.Equal(t, KindIndeterminate, kind(t, err))
		require.Less(t, time.Since(start), 500*time.Millisecond)
	})
	t.Run("cancelled while waiting", func(t *testing.T) {
		url := rawFrames(t, func(c net.Conn, br *bufio.Reader) { _ = readFrame(br); time.Sleep(time.Second) })
		c, _ := framesClient(t, url)
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		_, err := c.Exec(ctx, "INSERT")
		require.Equal(t, KindIndeterminate, kind(t, err))
	})
	t.Run("an answer that does not decode", func(t *testing.T) {
		url := rawFrames(t, func(c net.Conn, br *bufio.Reader) {
			_ = readFrame(br)
			_, _ = c.Write([]byte{0, 0, 0, 1, 9})
		})
		c, _ := framesClient(t, url)
		_, err := c.Exec(context.Background(), "INSERT")
		require.Equal(t, KindInternal, kind(t, err))
	})
	t.Run("an expired context sends nothing", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		c, _ := framesClient(t, "http://127.0.0.1:1")
		_, err := c.Exec(ctx, "INSERT")
		require.Equal(t, KindUnreachable, kind(t, err))
	})
	t.Run("a server that hangs up on the upgrade", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer l.Close()
		go func() {
			c, err := l.Accept()
			if err == nil {
				c.Close()
			}
		}()
		c, _ := framesClient(t, "http://"+l.Addr().String())
		_, err = c.Exec(context.Background(), "INSERT")
		require.Equal(t, KindUnreachable, kind(t, err), "nothing of the statement was sent")
	})
}

func TestAServerWithoutFramesGetsJSON(t *testing.T) {
	f := &fakeNode{}
	h := Handler(f, nil)
	var paths []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		if r.URL.Path == FramesPath {
			http.NotFound(w, r) // an older node
			return
		}
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	c, _ := framesClient(t, srv.URL)
	for range 2 {
		_, err := c.Exec(context.Background(), "INSERT")
		require.NoError(t, err)
	}
	require.Equal(t, []string{FramesPath, "/exec", "/exec"}, paths, "asked once, then JSON")
	require.Equal(t, []string{"exec INSERT", "exec INSERT"}, f.calls)
}

func TestTheServerRefusesBadUpgradesAndBadFrames(t *testing.T) {
	f := &fakeNode{}
	url, _, _ := serveFramesCounting(t, f)
	resp, err := http.Get(url + FramesPath)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 400, resp.StatusCode, "no Upgrade header")
	resp, err = http.Post(url+FramesPath, "", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 405, resp.StatusCode)

	nc, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	require.NoError(t, err)
	defer nc.Close()
	_, err = io.WriteString(nc, "GET /frames HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Upgrade\r\nUpgrade: "+FramesProtocol+"\r\n\r\n")
	require.NoError(t, err)
	br := bufio.NewReader(nc)
	up, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	require.Equal(t, 101, up.StatusCode)
	ask := func(payload []byte) ([]Result, *Error) {
		t.Helper()
		_, err := nc.Write(binary.BigEndian.AppendUint32(nil, uint32(len(payload))))
		require.NoError(t, err)
		_, err = nc.Write(payload)
		require.NoError(t, err)
		var hdr [4]byte
		_, err = io.ReadFull(br, hdr[:])
		require.NoError(t, err)
		body := make([]byte, binary.BigEndian.Uint32(hdr[:]))
		_, err = io.ReadFull(br, body)
		require.NoError(t, err)
		res, cerr, err := parseAnswer(body)
		require.NoError(t, err)
		return res, cerr
	}
	_, cerr := ask([]byte{'e', 0, 0, 1, 'S', 1, 9})
	require.Equal(t, KindBadRequest, cerr.Kind)
	require.Equal(t, 400, cerr.Status)
	require.Contains(t, cerr.Message, "frame: argument 1: value tag 9")
	_, cerr = ask([]byte{'x', 0, 0})
	require.Contains(t, cerr.Message, "operation 'x'")
	good, err := appendRequest(nil, &frameRequest{Op: frameExec, SQL: "GOOD"})
	require.NoError(t, err)
	res, cerr := ask(good)
	require.Nil(t, cerr, "the connection goes on after a bad frame")
	require.Equal(t, []Result{{LastInsertID: 7, RowsAffected: 1}}, res)
	require.Equal(t, []string{"exec GOOD"}, f.calls, "no bad frame reached the node")

	// A frame over MaxBody: refused, and the connection ends.
	_, err = nc.Write(binary.BigEndian.AppendUint32(nil, MaxBody+1))
	require.NoError(t, err)
	var hdr [4]byte
	_, err = io.ReadFull(br, hdr[:])
	require.NoError(t, err)
	body := make([]byte, binary.BigEndian.Uint32(hdr[:]))
	_, err = io.ReadFull(br, body)
	require.NoError(t, err)
	_, cerr, err = parseAnswer(body)
	require.NoError(t, err)
	require.Equal(t, 413, cerr.Status)
	_, err = br.ReadByte()
	require.ErrorIs(t, err, io.EOF)
}

func TestARequestCutShortNeverReachesTheNode(t *testing.T) {
	f := &fakeNode{}
	url, _, _ := serveFramesCounting(t, f)
	nc, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	require.NoError(t, err)
	_, err = io.WriteString(nc, "GET /frames HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: "+FramesProtocol+"\r\n\r\n")
	require.NoError(t, err)
	br := bufio.NewReader(nc)
	up, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	require.Equal(t, 101, up.StatusCode)
	good, err := appendRequest(nil, &frameRequest{Op: frameExec, SQL: "INSERT"})
	require.NoError(t, err)
	_, err = nc.Write(append(binary.BigEndian.AppendUint32(nil, uint32(len(good))), good[:len(good)-1]...))
	require.NoError(t, err)
	time.Sleep(50 * time.Millisecond)
	require.NoError(t, nc.Close())
	time.Sleep(50 * time.Millisecond)
	f.mu.Lock()
	defer f.mu.Unlock()
	require.Empty(t, f.calls)
}

func TestAnIdleConnectionTheServerClosedIsNotUsed(t *testing.T) {
	f := &fakeNode{}
	h := Handler(f, nil)
	srv := httptest.NewUnstartedServer(h)
	var conns []net.Conn
	var mu sync.Mutex
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		mu.Lock()
		defer mu.Unlock()
		if s == http.StateHijacked {
			conns = append(conns, c)
		}
	}
	srv.Start()
	defer srv.Close()
	c, _ := framesClient(t, srv.URL)
	_, err := c.Exec(context.Background(), "A")
	require.NoError(t, err)
	mu.Lock()
	require.Len(t, conns, 1)
	require.NoError(t, conns[0].Close()) // the server drops the idle connection
	mu.Unlock()
	time.Sleep(50 * time.Millisecond)
	_, err = c.Exec(context.Background(), "B")
	require.NoError(t, err, "the request went on a fresh connection, not into a closed one")
	mu.Lock()
	require.Len(t, conns, 2)
	mu.Unlock()
}

func TestShutdownEndsIdleFramedConnections(t *testing.T) {
	f := &fakeNode{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := NewServer(f, nil)
	go func() { _ = srv.Serve(l) }()
	c, _ := framesClient(t, "http://"+l.Addr().String())
	_, err = c.Exec(context.Background(), "A")
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, srv.Shutdown(ctx))
	time.Sleep(100 * time.Millisecond)
	_, err = c.Exec(context.Background(), "B")
	var ce *Error
	require.ErrorAs(t, err, &ce)
	require.Equal(t, KindUnreachable, ce.Kind, "the idle connection was closed by the server and not reused")
}
