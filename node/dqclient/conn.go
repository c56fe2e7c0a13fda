package dqclient

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/canonical/go-dqlite/v2/client"
	gdriver "github.com/canonical/go-dqlite/v2/driver"

	"github.com/dqtest/dqtest/internal/peek"
	"github.com/dqtest/dqtest/node/control"
)

// conn is one connection to the leader, opened by a go-dqlite driver of its
// own so that the driver's log function tells this connection's failures
// apart (see cause).
type conn struct {
	dc    *gdriver.Conn
	nc    net.Conn // its socket, when it could be found (see peerClosed)
	cause *cause
}

// cause records why go-dqlite's driver last turned an error into
// driver.ErrBadConn. Its driverError maps not-leader (nothing ran),
// leadership-lost (outcome unknown) and network errors all to ErrBadConn, and
// the only place the difference survives is the log call it makes just
// before returning. Each connection has its own driver and cause, and a
// connection is used by one goroutine at a time, so the last record is the
// cause of the error being classified.
type cause struct {
	mu      sync.Mutex
	code    uint64 // dqlite's code, when the server sent one
	notSent bool   // writing the request failed: the server has no whole request
	msg     string
	log     *slog.Logger
}

func (c *cause) reset() {
	c.mu.Lock()
	c.code, c.notSent, c.msg = 0, false, ""
	c.mu.Unlock()
}

func (c *cause) get() (code uint64, notSent bool, msg string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.code, c.notSent, c.msg
}

// logf is the go-dqlite driver's log function (client.LogFunc).
func (c *cause) logf(level client.LogLevel, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	c.log.Debug("go-dqlite: "+msg, "level", level.String())
	var code uint64
	var notSent bool
	switch {
	case strings.HasPrefix(format, "leadership lost ("),
		strings.HasPrefix(format, "not found - "),
		strings.HasPrefix(format, "unexpected error code ("):
		if len(args) > 0 {
			code, _ = args[0].(uint64)
		}
	case strings.HasPrefix(format, "network connection lost"):
		// go-dqlite writes a request (header, then body) and then reads
		// the answer; only the write can fail with Op "write". A request
		// not wholly written is never run: dqlite waits for the rest.
		if len(args) > 0 {
			var oe *net.OpError
			if err, ok := args[0].(error); ok && errors.As(err, &oe) {
				notSent = oe.Op == "write"
			}
		}
	case strings.HasPrefix(format, "EOF detected"):
	default:
		return
	}
	c.mu.Lock()
	c.code, c.notSent, c.msg = code, notSent, msg
	c.mu.Unlock()
}

// dial opens a connection to the leader as the node's own dqlite server sees
// it, on database db, every socket opened with dialFn.
func dial(ctx context.Context, store client.NodeStore, db string, dialFn client.DialFunc, log *slog.Logger) (*conn, error) {
	rec := &cause{log: log}
	drv, err := gdriver.New(store, gdriver.WithLogFunc(rec.logf), gdriver.WithDialFunc(coalescingVia(dialFn)))
	if err != nil {
		return nil, err
	}
	connector, err := drv.OpenConnector(db)
	if err != nil {
		return nil, err
	}
	dc, err := connector.(driver.Connector).Connect(ctx)
	if err != nil {
		return nil, &NoLeaderError{Err: err}
	}
	c, ok := dc.(*gdriver.Conn)
	if !ok {
		dc.Close()
		return nil, fmt.Errorf("go-dqlite returned a %T, want *driver.Conn", dc)
	}
	cn := &conn{dc: c, cause: rec}
	if v, err := peek.Field(c, reflect.Interface, "protocol", "conn"); err == nil && !v.IsNil() {
		cn.nc, _ = v.Interface().(net.Conn)
		if co, ok := cn.nc.(*coalescing); ok {
			co.arm() // the handshake is done: from here on, requests
		}
	} else {
		log.Debug("cannot watch connections for a closing peer", "err", err)
	}
	return cn, nil
}

// peerClosed reports whether the server has closed the connection (or sent
// something unasked): a non-blocking peek at the socket finds EOF or data.
// A pooled connection to a leader that was killed or stopped would
// otherwise take the next statement and answer EOF, and that statement's
// outcome would be unknown; checked first, it runs on a fresh connection.
// A peer that vanished without closing (paused, cut off) still passes.
func (c *conn) peerClosed() bool { return control.PeerClosed(c.nc) }

// classify turns an error of a statement that was (possibly) sent into one
// of the Node's errors. bad reports whether the connection must be dropped.
func (c *conn) classify(err error) (out error, bad bool) {
	var dbErr gdriver.Error
	if errors.As(err, &dbErr) {
		dbe := &DatabaseError{Code: dbErr.Code & 0xff, ExtendedCode: dbErr.Code, Message: dbErr.Message}
		switch {
		case dbErr.Code == CodeNotLeader:
			return &NoLeaderError{Code: dbErr.Code, Err: dbe, stale: true}, true
		case dbErr.Code == CodeLeadershipLost:
			return &IndeterminateError{ExtendedCode: CodeLeadershipLost, Err: dbe}, true
		case dbe.Code == sqliteIOErr || dbe.Code == sqliteFull:
			// An I/O error or a full disk on the leader comes from its raft
			// log append, after the entry went to the followers, which may
			// still commit it: the matrix's append/disk cell saw a COMMIT
			// answered "disk I/O error" (778) take effect. Unknown, not failed.
			return &IndeterminateError{ExtendedCode: dbErr.Code, Err: dbe}, false
		}
		return dbe, false
	}
	if errors.Is(err, driver.ErrBadConn) {
		code, notSent, msg := c.cause.get()
		switch code {
		case CodeNotLeader, codeNotLeaderOld, codeNotFound:
			return &NoLeaderError{Code: int(code), Err: errors.New(msg), stale: true}, true
		case CodeLeadershipLost, codeLostOld:
			return &IndeterminateError{ExtendedCode: CodeLeadershipLost, Err: errors.New(msg)}, true
		}
		if notSent {
			return &NoLeaderError{Err: fmt.Errorf("request not sent: %s", msg), stale: true}, true
		}
		if msg == "" {
			msg = err.Error()
		}
		return &IndeterminateError{Err: errors.New(msg)}, true
	}
	// Anything else (a response that did not decode, a context error from
	// go-dqlite) happened after sending: unknown.
	return &IndeterminateError{Err: err}, true
}

// exec runs one statement that returns no rows.
func (c *conn) exec(ctx context.Context, sql string, args []driver.NamedValue) (lastID, affected int64, err error, bad bool) {
	if err := ctx.Err(); err != nil {
		return 0, 0, &NoLeaderError{Err: fmt.Errorf("deadline passed before sending: %w", err)}, false
	}
	c.cause.reset()
	res, err := c.dc.ExecContext(ctx, sql, args)
	if err != nil {
		err, bad = c.classify(err)
		return 0, 0, err, bad
	}
	lastID, _ = res.LastInsertId()
	affected, _ = res.RowsAffected()
	return lastID, affected, nil, false
}

// query runs one statement and reads all its rows.
func (c *conn) query(ctx context.Context, sql string, args []driver.NamedValue) (rows []map[string]any, err error, bad bool) {
	if err := ctx.Err(); err != nil {
		return nil, &NoLeaderError{Err: fmt.Errorf("deadline passed before sending: %w", err)}, false
	}
	c.cause.reset()
	dr, err := c.dc.QueryContext(ctx, sql, args)
	if err != nil {
		err, bad = c.classify(err)
		return nil, err, bad
	}
	cols := dr.Columns()
	dest := make([]driver.Value, len(cols))
	rows = []map[string]any{}
	for {
		if err := dr.Next(dest); err != nil {
			if err == io.EOF {
				break
			}
			err, _ = c.classify(err)
			return nil, err, true
		}
		row := make(map[string]any, len(cols))
		for i, col := range cols {
			row[col] = fromDriver(dest[i])
		}
		rows = append(rows, row)
	}
	if err := dr.Close(); err != nil {
		// All rows were read; the statement is done. A failing close only
		// means the connection is not fit for reuse.
		return rows, nil, true
	}
	return rows, nil, false
}

func (c *conn) close() { c.dc.Close() }

// pool keeps idle connections to the leader. A connection is handed to one
// caller at a time. drain closes every idle connection and makes connections
// in use close when they come back: after a stop, or after any connection
// found that the leader moved or vanished, all of them point at the old one.
type pool struct {
	mu     sync.Mutex
	idle   []*conn
	gen    int
	closed bool
	max    int
}

func (p *pool) get() (*conn, int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, 0, ErrNotRunning
	}
	for len(p.idle) > 0 {
		n := len(p.idle)
		c := p.idle[n-1]
		p.idle = p.idle[:n-1]
		if c.peerClosed() {
			c.close()
			continue
		}
		return c, p.gen, nil
	}
	return nil, p.gen, nil
}

func (p *pool) put(c *conn, gen int) {
	p.mu.Lock()
	if p.closed || gen != p.gen || len(p.idle) >= p.max {
		p.mu.Unlock()
		c.close()
		return
	}
	p.idle = append(p.idle, c)
	p.mu.Unlock()
}

func (p *pool) drain(close bool) {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.gen++
	if close {
		p.closed = true
	}
	p.mu.Unlock()
	for _, c := range idle {
		c.close()
	}
}

// toDriver converts statement arguments to the types go-dqlite encodes
// (it panics on any other). Integers become int64, floats float64.
func toDriver(args []any) ([]driver.NamedValue, error) {
	out := make([]driver.NamedValue, len(args))
	for i, a := range args {
		var v driver.Value
		switch x := a.(type) {
		case nil, int64, float64, string, []byte, bool:
			v = x
		case int:
			v = int64(x)
		case int8:
			v = int64(x)
		case int16:
			v = int64(x)
		case int32:
			v = int64(x)
		case uint8:
			v = int64(x)
		case uint16:
			v = int64(x)
		case uint32:
			v = int64(x)
		case uint:
			if uint64(x) > math.MaxInt64 {
				return nil, fmt.Errorf("argument %d: %d does not fit in int64", i+1, x)
			}
			v = int64(x)
		case uint64:
			if x > math.MaxInt64 {
				return nil, fmt.Errorf("argument %d: %d does not fit in int64", i+1, x)
			}
			v = int64(x)
		case float32:
			v = float64(x)
		default:
			return nil, fmt.Errorf("argument %d: unsupported type %T (want int64, float64, string, []byte, bool or nil)", i+1, a)
		}
		out[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return out, nil
}

// TimeLayout is how a value go-dqlite decodes as a time (a column declared
// DATETIME, DATE or TIMESTAMP) comes back from Query: as text again.
const TimeLayout = "2006-01-02 15:04:05.999999999-07:00"

// fromDriver maps a decoded value to the Node's value set: int64, float64,
// string, []byte or nil. go-dqlite decodes BOOLEAN columns as bool and time
// columns as time.Time; SQLite stored integers and text.
func fromDriver(v driver.Value) any {
	switch x := v.(type) {
	case bool:
		if x {
			return int64(1)
		}
		return int64(0)
	case time.Time:
		return x.Format(TimeLayout)
	}
	return v
}

// returnsRows tells Txn whether to run a statement as a query (its rows are
// wanted) or as an exec (its last insert id and rows affected are wanted).
func returnsRows(sql string) bool {
	s := strings.ToUpper(strings.TrimSpace(sql))
	for _, kw := range []string{"SELECT", "VALUES", "WITH", "PRAGMA", "EXPLAIN"} {
		if strings.HasPrefix(s, kw) {
			return true
		}
	}
	return strings.Contains(s, "RETURNING")
}
