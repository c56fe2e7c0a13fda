package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/dqtest/dqtest/mode"
)

// Handler serves the control API for n. Every request runs under a
// deadline; a bad request (malformed or trailing JSON, an unknown field, a
// body over MaxBody, a wrong method, a missing field) gets a 4xx answer with
// a message, and a panic in a handler becomes a 500, never a crash.
func Handler(n Node, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	s := &server{node: n, log: log}
	s.routes = map[string]route{
		"/health":        {http.MethodGet, s.health},
		"/status":        {http.MethodGet, s.status},
		"/exec":          {http.MethodPost, s.exec},
		"/query":         {http.MethodPost, s.query},
		"/txn":           {http.MethodPost, s.txn},
		"/txn/hold":      {http.MethodPost, s.holdTxn},
		"/handover":      {http.MethodPost, s.handover},
		"/transfer":      {http.MethodPost, s.transfer},
		"/member/add":    {http.MethodPost, s.memberAdd},
		"/member/remove": {http.MethodPost, s.memberRemove},
		"/stop":          {http.MethodPost, s.stop},
		"/start":         {http.MethodPost, s.start},
	}
	return s
}

// Timeouts of the control API's HTTP server (NewServer). A request's own
// deadline is at most MaxTimeout, so an answer is written well within
// WriteTimeout; a client that sends its headers or body too slowly, or
// keeps an idle connection, is cut off.
const (
	ReadHeaderTimeout = 10 * time.Second
	ReadTimeout       = 30 * time.Second
	WriteTimeout      = MaxTimeout + 30*time.Second
	IdleTimeout       = 2 * time.Minute
)

// NewServer is the HTTP server `dqtest node` runs: Handler(n, log) with
// the timeouts above, so no connection can hold the server forever.
func NewServer(n Node, log *slog.Logger) *http.Server {
	h := Handler(n, log)
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    64 << 10,
	}
	// Shutdown does not wait for upgraded connections: they end by themselves.
	srv.RegisterOnShutdown(h.(*server).frames.shutdown)
	return srv
}

type server struct {
	node   Node
	log    *slog.Logger
	routes map[string]route
	frames frameConns
}

// A handler decodes its body with decode and answers a value to encode, or
// an error.
type route struct {
	method string
	handle func(w http.ResponseWriter, r *http.Request) (any, error)
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == FramesPath {
		s.serveFrames(w, r)
		return
	}
	start := time.Now()
	answer, err := s.serve(w, r)
	s.answer(w, r, start, answer, err)
}

// answer writes a JSON answer: answer with 200, or err's error object.
func (s *server) answer(w http.ResponseWriter, r *http.Request, start time.Time, answer any, err error) {
	status := http.StatusOK
	if err != nil {
		var cerr *Error
		if !errors.As(err, &cerr) {
			cerr = &Error{Kind: KindInternal, Message: err.Error()}
		}
		status = cerr.HTTPStatus()
		answer = errorAnswer{Error: cerr}
		s.log.Debug("control request failed", "method", r.Method, "path", r.URL.Path, "status", status, "err", cerr, "took", time.Since(start))
	} else {
		s.log.Debug("control request", "method", r.Method, "path", r.URL.Path, "took", time.Since(start))
	}
	body, merr := json.Marshal(answer)
	if merr != nil {
		status = http.StatusInternalServerError
		body, _ = json.Marshal(errorAnswer{Error: &Error{Kind: KindInternal, Message: "encoding the answer: " + merr.Error()}})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

func (s *server) serve(w http.ResponseWriter, r *http.Request) (answer any, err error) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("control handler panicked", "path", r.URL.Path, "panic", p)
			answer, err = nil, &Error{Kind: KindInternal, Message: fmt.Sprintf("panic: %v", p)}
		}
	}()
	rt, ok := s.routes[r.URL.Path]
	if !ok {
		return nil, &Error{Status: http.StatusNotFound, Kind: KindBadRequest, Message: fmt.Sprintf("no endpoint %s", r.URL.Path)}
	}
	if r.Method != rt.method {
		w.Header().Set("Allow", rt.method)
		return nil, &Error{Status: http.StatusMethodNotAllowed, Kind: KindBadRequest, Message: fmt.Sprintf("%s %s: use %s", r.Method, r.URL.Path, rt.method)}
	}
	return rt.handle(w, r)
}

func badRequest(format string, args ...any) *Error {
	return &Error{Kind: KindBadRequest, Message: fmt.Sprintf(format, args...)}
}

// decode reads a JSON body of at most MaxBody bytes into v, refusing unknown
// fields and trailing data. An empty body leaves v as it is.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &Error{Status: http.StatusRequestEntityTooLarge, Kind: KindBadRequest, Message: fmt.Sprintf("body over %d bytes", MaxBody)}
		}
		return badRequest("reading the body: %v", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("body: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("body: data after the JSON object")
	}
	return nil
}

// deadline is the request's context with its timeout: timeout_ms from the
// body, else the X-Dqtest-Timeout header, else DefaultTimeout; at most
// MaxTimeout.
func deadline(r *http.Request, ms int64) (context.Context, context.CancelFunc, error) {
	if ms == 0 {
		if h := r.Header.Get(TimeoutHeader); h != "" {
			var err error
			if ms, err = strconv.ParseInt(h, 10, 64); err != nil || ms <= 0 {
				return nil, nil, badRequest("%s %q: want a positive number of milliseconds", TimeoutHeader, h)
			}
		}
	}
	if ms < 0 {
		return nil, nil, badRequest("timeout_ms %d: want a positive number of milliseconds", ms)
	}
	d := DefaultTimeout
	if ms > 0 {
		d = min(time.Duration(ms)*time.Millisecond, MaxTimeout)
	}
	ctx, cancel := context.WithTimeout(r.Context(), d)
	return ctx, cancel, nil
}

type empty struct{}

func (s *server) health(w http.ResponseWriter, r *http.Request) (any, error) {
	return map[string]bool{"ok": true}, nil
}

func (s *server) status(w http.ResponseWriter, r *http.Request) (any, error) {
	ctx, cancel, err := deadline(r, 0)
	if err != nil {
		return nil, err
	}
	defer cancel()
	return s.node.Status(ctx), nil
}

// onDB is what a request's statements run on: the node itself, or, for a
// request whose db field names a database, the node's DBChooser for it.
// release must be called when the request is done.
func (s *server) onDB(ctx context.Context, db string) (SQL, func(), error) {
	if db == "" {
		return s.node, func() {}, nil
	}
	if err := CheckDBName(db); err != nil {
		return nil, nil, badRequest("%v", err)
	}
	chooser, ok := s.node.(DBChooser)
	if !ok {
		return nil, nil, badRequest("db %q: this node runs statements on its own database only", db)
	}
	sql, release, err := chooser.OnDB(ctx, db)
	if err != nil {
		return nil, nil, err
	}
	return sql, release, nil
}

// statement decodes an exec or query request and finds what runs it.
func (s *server) statement(w http.ResponseWriter, r *http.Request) (ctx context.Context, done func(), on SQL, sql string, args []any, err error) {
	var req execRequest
	if err := decode(w, r, &req); err != nil {
		return nil, nil, nil, "", nil, err
	}
	if req.SQL == "" {
		return nil, nil, nil, "", nil, badRequest("missing sql")
	}
	if args, err = decodeValues(req.Args); err != nil {
		return nil, nil, nil, "", nil, badRequest("%v", err)
	}
	ctx, cancel, err := deadline(r, req.TimeoutMS)
	if err != nil {
		return nil, nil, nil, "", nil, err
	}
	on, release, err := s.onDB(ctx, req.DB)
	if err != nil {
		cancel()
		return nil, nil, nil, "", nil, err
	}
	return ctx, func() { release(); cancel() }, on, req.SQL, args, nil
}

func (s *server) exec(w http.ResponseWriter, r *http.Request) (any, error) {
	ctx, done, on, sql, args, err := s.statement(w, r)
	if err != nil {
		return nil, err
	}
	defer done()
	res, err := on.Exec(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return wireResult{LastInsertID: res.LastInsertID, RowsAffected: res.RowsAffected}, nil
}

func (s *server) query(w http.ResponseWriter, r *http.Request) (any, error) {
	ctx, done, on, sql, args, err := s.statement(w, r)
	if err != nil {
		return nil, err
	}
	defer done()
	rows, err := on.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	wire, err := encodeRows(rows)
	if err != nil {
		return nil, err
	}
	return queryAnswer{Rows: wire}, nil
}

func (s *server) txn(w http.ResponseWriter, r *http.Request) (any, error) {
	return s.statements(w, r, true, func(on SQL) func(context.Context, []Statement) ([]Result, error) { return on.Txn })
}

func (s *server) holdTxn(w http.ResponseWriter, r *http.Request) (any, error) {
	return s.statements(w, r, false, func(SQL) func(context.Context, []Statement) ([]Result, error) { return s.node.HoldTxn })
}

// statements serves a request of several statements (txn, txn/hold): run
// picks the function that runs them on what the request's db chose (only
// when withDB; a held transaction stays on the node's own database).
func (s *server) statements(w http.ResponseWriter, r *http.Request, withDB bool, run func(SQL) func(context.Context, []Statement) ([]Result, error)) (any, error) {
	var req txnRequest
	if err := decode(w, r, &req); err != nil {
		return nil, err
	}
	if len(req.Statements) == 0 {
		return nil, badRequest("no statements")
	}
	if req.DB != "" && !withDB {
		return nil, badRequest("db: %s runs on the node's own database only", r.URL.Path)
	}
	stmts := make([]Statement, len(req.Statements))
	for i, ws := range req.Statements {
		if ws.SQL == "" {
			return nil, badRequest("statement %d: missing sql", i)
		}
		args, err := decodeValues(ws.Args)
		if err != nil {
			return nil, badRequest("statement %d: %v", i, err)
		}
		stmts[i] = Statement{SQL: ws.SQL, Args: args}
	}
	ctx, cancel, err := deadline(r, req.TimeoutMS)
	if err != nil {
		return nil, err
	}
	defer cancel()
	on, release, err := s.onDB(ctx, req.DB)
	if err != nil {
		return nil, err
	}
	defer release()
	results, err := run(on)(ctx, stmts)
	if err != nil {
		return nil, err
	}
	answer := txnAnswer{Results: make([]wireResult, len(results))}
	for i, res := range results {
		rows, err := encodeRows(res.Rows)
		if err != nil {
			return nil, err
		}
		if res.Rows == nil {
			rows = nil
		}
		answer.Results[i] = wireResult{LastInsertID: res.LastInsertID, RowsAffected: res.RowsAffected, Rows: rows}
	}
	return answer, nil
}

func (s *server) handover(w http.ResponseWriter, r *http.Request) (any, error) {
	var req timeoutRequest
	return s.simple(w, r, &req, &req.TimeoutMS, func(ctx context.Context) error { return s.node.Handover(ctx) })
}

func (s *server) transfer(w http.ResponseWriter, r *http.Request) (any, error) {
	var req transferRequest
	return s.simple(w, r, &req, &req.TimeoutMS, func(ctx context.Context) error { return s.node.Transfer(ctx, req.ToID) })
}

func (s *server) memberRemove(w http.ResponseWriter, r *http.Request) (any, error) {
	var req memberRemoveRequest
	return s.simple(w, r, &req, &req.TimeoutMS, func(ctx context.Context) error {
		if req.ID == 0 {
			return badRequest("missing id")
		}
		return s.node.RemoveMember(ctx, req.ID)
	})
}

func (s *server) memberAdd(w http.ResponseWriter, r *http.Request) (any, error) {
	var req memberAddRequest
	return s.simple(w, r, &req, &req.TimeoutMS, func(ctx context.Context) error {
		switch {
		case req.ID == 0:
			return badRequest("missing id")
		case req.Address == "":
			return badRequest("missing address")
		}
		switch req.Role {
		case "", "voter", "standby", "spare":
		default:
			return badRequest("role %q: want voter, standby or spare", req.Role)
		}
		return s.node.AddMember(ctx, Member{ID: req.ID, Address: req.Address, Role: req.Role})
	})
}

func (s *server) stop(w http.ResponseWriter, r *http.Request) (any, error) {
	var req stopRequest
	return s.simple(w, r, &req, &req.TimeoutMS, func(ctx context.Context) error {
		if req.Mode != "" && !mode.Stop(req.Mode).Valid() {
			return badRequest("mode %q: want %s", req.Mode, mode.Names(mode.StopModes()))
		}
		return s.node.Stop(ctx, req.Mode)
	})
}

func (s *server) start(w http.ResponseWriter, r *http.Request) (any, error) {
	var req timeoutRequest
	return s.simple(w, r, &req, &req.TimeoutMS, func(ctx context.Context) error { return s.node.Start(ctx) })
}

// simple serves an endpoint that answers {} on success: decode req (whose
// timeout field is *ms), then run f under the request's deadline.
func (s *server) simple(w http.ResponseWriter, r *http.Request, req any, ms *int64, f func(context.Context) error) (any, error) {
	if err := decode(w, r, req); err != nil {
		return nil, err
	}
	ctx, cancel, err := deadline(r, *ms)
	if err != nil {
		return nil, err
	}
	defer cancel()
	if err := f(ctx); err != nil {
		return nil, err
	}
	return empty{}, nil
}
