package control

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Client drives one node through its control API. Every error it returns is
// an *Error, whose Definite method tells whether the operation certainly did
// not take effect (workloads.IsDefinite uses it).
//
// A call's context deadline is split: the server gets the remaining time
// minus a margin as its timeout_ms, so that it answers (with an outcome, or
// with kind indeterminate) before the client gives up on it. A call without
// a deadline gets DefaultTimeout.
type Client struct {
	base string
	hc   *http.Client
	db   string // "" for the node's own database
	// frames, when set (WithFrames), carries exec, query and txn to host.
	frames *Frames
	host   string
}

// MaxAnswer is the largest answer body the client reads.
const MaxAnswer = 64 << 20

// NewClient returns a client for the node whose control API is at baseURL
// (e.g. http://127.0.0.1:8081). hc nil means a client that follows no
// redirects; net/http does not retry a POST by itself.
func NewClient(baseURL string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), hc: hc}
}

// OnDB returns a client whose Exec, Query and Txn run on database name (the
// request's db field) instead of the node's own; "" means the node's own.
// The server refuses a name that is not a plain file name.
func (c *Client) OnDB(name string) *Client {
	d := *c
	d.db = name
	return &d
}

// Health reports whether the node's process answers (even if its node is
// stopped).
func (c *Client) Health(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/health", nil, nil, nil)
}

// Status returns the node's status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var st Status
	err := c.do(ctx, http.MethodGet, "/status", nil, nil, &st)
	return st, err
}

// Exec runs a statement that returns no rows.
func (c *Client) Exec(ctx context.Context, sql string, args ...any) (Result, error) {
	if c.frames != nil {
		results, err, ok := c.frame(ctx, &frameRequest{Op: frameExec, DB: c.db, SQL: sql, Args: args})
		switch {
		case !ok:
		case err != nil:
			return Result{}, err
		case len(results) != 1:
			return Result{}, &Error{Kind: KindInternal, Message: fmt.Sprintf("frames exec: %d results, want 1", len(results))}
		default:
			return Result{LastInsertID: results[0].LastInsertID, RowsAffected: results[0].RowsAffected}, nil
		}
	}
	wargs, err := encodeValues(args)
	if err != nil {
		return Result{}, &Error{Kind: KindBadRequest, Message: err.Error()}
	}
	req := &execRequest{SQL: sql, Args: wargs, DB: c.db}
	var ans wireResult
	if err := c.do(ctx, http.MethodPost, "/exec", req, &req.TimeoutMS, &ans); err != nil {
		return Result{}, err
	}
	return Result{LastInsertID: ans.LastInsertID, RowsAffected: ans.RowsAffected}, nil
}

// Query runs a statement and returns its rows.
func (c *Client) Query(ctx context.Context, sql string, args ...any) ([]map[string]any, error) {
	if c.frames != nil {
		results, err, ok := c.frame(ctx, &frameRequest{Op: frameQuery, DB: c.db, SQL: sql, Args: args})
		switch {
		case !ok:
		case err != nil:
			return nil, err
		case len(results) != 1 || results[0].Rows == nil:
			return nil, &Error{Kind: KindInternal, Message: "frames query: the answer has no rows"}
		default:
			return results[0].Rows, nil
		}
	}
	wargs, err := encodeValues(args)
	if err != nil {
		return nil, &Error{Kind: KindBadRequest, Message: err.Error()}
	}
	req := &execRequest{SQL: sql, Args: wargs, DB: c.db}
	var ans queryAnswer
	if err := c.do(ctx, http.MethodPost, "/query", req, &req.TimeoutMS, &ans); err != nil {
		return nil, err
	}
	rows, err := decodeRows(ans.Rows)
	if err != nil {
		return nil, &Error{Kind: KindInternal, Message: "decoding rows: " + err.Error()}
	}
	return rows, nil
}

// Txn runs stmts in one transaction and commits.
func (c *Client) Txn(ctx context.Context, stmts []Statement) ([]Result, error) {
	if c.frames != nil {
		results, err, ok := c.frame(ctx, &frameRequest{Op: frameTxn, DB: c.db, Statements: stmts})
		switch {
		case !ok:
		case err != nil:
			return nil, err
		case len(results) != len(stmts):
			return nil, &Error{Kind: KindInternal, Message: fmt.Sprintf("frames txn: %d results for %d statements", len(results), len(stmts))}
		default:
			return results, nil
		}
	}
	return c.statements(ctx, "/txn", c.db, stmts)
}

// HoldTxn begins a transaction, runs stmts in it and leaves it open until
// the node stops: for trying a stop while a transaction is open.
func (c *Client) HoldTxn(ctx context.Context, stmts []Statement) ([]Result, error) {
	return c.statements(ctx, "/txn/hold", "", stmts)
}

func (c *Client) statements(ctx context.Context, path, db string, stmts []Statement) ([]Result, error) {
	req := &txnRequest{Statements: make([]wireStatement, len(stmts)), DB: db}
	for i, s := range stmts {
		args, err := encodeValues(s.Args)
		if err != nil {
			return nil, &Error{Kind: KindBadRequest, Message: fmt.Sprintf("statement %d: %v", i, err)}
		}
		req.Statements[i] = wireStatement{SQL: s.SQL, Args: args}
	}
	var ans txnAnswer
	if err := c.do(ctx, http.MethodPost, path, req, &req.TimeoutMS, &ans); err != nil {
		return nil, err
	}
	results := make([]Result, len(ans.Results))
	for i, r := range ans.Results {
		results[i] = Result{LastInsertID: r.LastInsertID, RowsAffected: r.RowsAffected}
		if r.Rows != nil {
			rows, err := decodeRows(r.Rows)
			if err != nil {
				return nil, &Error{Kind: KindInternal, Message: fmt.Sprintf("result %d: decoding rows: %v", i, err)}
			}
			results[i].Rows = rows
		}
	}
	return results, nil
}

// Handover asks the node to hand leadership (and its role, if a non-voter
// can take it) to another node.
func (c *Client) Handover(ctx context.Context) error {
	req := &timeoutRequest{}
	return c.do(ctx, http.MethodPost, "/handover", req, &req.TimeoutMS, nil)
}

// Transfer moves leadership to node toID (0: dqlite picks a voter).
func (c *Client) Transfer(ctx context.Context, toID uint64) error {
	req := &transferRequest{ToID: toID}
	return c.do(ctx, http.MethodPost, "/transfer", req, &req.TimeoutMS, nil)
}

// AddMember adds a node to the cluster (or assigns its role).
func (c *Client) AddMember(ctx context.Context, m Member) error {
	req := &memberAddRequest{ID: m.ID, Address: m.Address, Role: m.Role}
	return c.do(ctx, http.MethodPost, "/member/add", req, &req.TimeoutMS, nil)
}

// RemoveMember removes node id from the cluster.
func (c *Client) RemoveMember(ctx context.Context, id uint64) error {
	req := &memberRemoveRequest{ID: id}
	return c.do(ctx, http.MethodPost, "/member/remove", req, &req.TimeoutMS, nil)
}

// Stop stops the node in mode ("" for the node's own); the process stays.
func (c *Client) Stop(ctx context.Context, mode string) error {
	req := &stopRequest{Mode: mode}
	return c.do(ctx, http.MethodPost, "/stop", req, &req.TimeoutMS, nil)
}

// Start starts the node again.
func (c *Client) Start(ctx context.Context) error {
	req := &timeoutRequest{}
	return c.do(ctx, http.MethodPost, "/start", req, &req.TimeoutMS, nil)
}

// do sends one request. body (nil for GET) gets its timeout field *ms set
// from ctx; the answer is decoded into out when it is not nil.
func (c *Client) do(ctx context.Context, method, path string, body any, ms *int64, out any) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout+time.Second)
		defer cancel()
	}
	budget := serverBudget(ctx)
	if budget <= 0 {
		return &Error{Kind: KindUnreachable, Message: fmt.Sprintf("%s: deadline passed before sending", path)}
	}
	var payload []byte
	if body != nil {
		*ms = budget.Milliseconds()
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return &Error{Kind: KindBadRequest, Message: err.Error()}
		}
	}
	// wrote turns true once the whole request was written: before that a
	// failure means the server cannot have acted on it.
	var wrote atomic.Bool
	trace := &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
		if i.Err == nil {
			wrote.Store(true)
		}
	}}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), method, c.base+path, bytes.NewReader(payload))
	if err != nil {
		return &Error{Kind: KindBadRequest, Message: err.Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(TimeoutHeader, strconv.FormatInt(max(budget.Milliseconds(), 1), 10))
	resp, err := c.hc.Do(req)
	if err != nil {
		if !wrote.Load() {
			return &Error{Kind: KindUnreachable, Message: fmt.Sprintf("%s %s: request not sent: %v", method, path, err)}
		}
		return &Error{Kind: KindIndeterminate, Message: fmt.Sprintf("%s %s: sent, no answer: %v", method, path, err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswer))
	if err != nil {
		return &Error{Kind: KindIndeterminate, Message: fmt.Sprintf("%s %s: status %d, reading the answer: %v", method, path, resp.StatusCode, err)}
	}
	if resp.StatusCode/100 == 2 {
		if out == nil {
			return nil
		}
		if err := json.Unmarshal(data, out); err != nil {
			// It happened, but we cannot tell the caller what it returned.
			return &Error{Kind: KindInternal, Message: fmt.Sprintf("%s %s: decoding the answer: %v", method, path, err)}
		}
		return nil
	}
	var ans errorAnswer
	if err := json.Unmarshal(data, &ans); err != nil || ans.Error == nil || ans.Error.Kind == "" {
		return &Error{Status: resp.StatusCode, Kind: KindInternal, Message: fmt.Sprintf("%s %s: status %d: %.200s", method, path, resp.StatusCode, data)}
	}
	ans.Error.Status = resp.StatusCode
	return ans.Error
}

// serverBudget is the server's share of ctx's remaining time: all of it but
// a margin for the answer to travel back.
func serverBudget(ctx context.Context) time.Duration {
	d, _ := ctx.Deadline()
	left := time.Until(d)
	margin := min(max(left/10, 20*time.Millisecond), time.Second)
	return min(left-margin, MaxTimeout)
}
