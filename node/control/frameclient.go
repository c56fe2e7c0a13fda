package control

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Frames is a pool of framed connections to nodes' control APIs (see
// FramesPath): one connection per request in flight, kept for the next.
// Clients given it with WithFrames send exec, query and txn as frames;
// every other request, and every request to a server that does not offer
// frames, goes as JSON. Like an http.Transport it is shared by the clients
// of many nodes and safe for concurrent use.
type Frames struct {
	// MaxIdlePerHost is how many idle connections are kept per node; 0 is
	// 64. Size it to the requests a node gets at once.
	MaxIdlePerHost int
	// IdleTimeout closes a connection idle that long instead of reusing
	// it, well before the server drops it (IdleTimeout of the server, 2
	// minutes); 0 is 30 s.
	IdleTimeout time.Duration
	// Dialer dials; nil is a dialer with a 3 s timeout.
	Dialer *net.Dialer

	mu          sync.Mutex
	idle        map[string][]*frameConn
	unsupported map[string]bool
}

type frameConn struct {
	nc   net.Conn
	br   *bufio.Reader
	buf  []byte
	used time.Time
}

// errNoFrames: the server answered the upgrade with something else; the
// request goes as JSON.
var errNoFrames = errors.New("the server does not offer frames")

// WithFrames returns a client that sends exec, query and txn through f's
// framed connections (to an http:// base URL; https stays JSON).
func (c *Client) WithFrames(f *Frames) *Client {
	d := *c
	d.frames, d.host = nil, ""
	if host, ok := strings.CutPrefix(c.base, "http://"); ok && f != nil {
		d.frames, d.host = f, host
	}
	return &d
}

// CloseIdle closes every idle connection.
func (f *Frames) CloseIdle() {
	if f == nil {
		return
	}
	f.mu.Lock()
	idle := f.idle
	f.idle = nil
	f.mu.Unlock()
	for _, conns := range idle {
		for _, fc := range conns {
			fc.nc.Close()
		}
	}
}

func (f *Frames) offered(host string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.unsupported[host]
}

// get returns an idle connection to host that the server has not closed,
// or a new one.
func (f *Frames) get(ctx context.Context, host string) (*frameConn, error) {
	idleTimeout := f.IdleTimeout
	if idleTimeout <= 0 {
		idleTimeout = 30 * time.Second
	}
	for {
		f.mu.Lock()
		conns := f.idle[host]
		if len(conns) == 0 {
			f.mu.Unlock()
			break
		}
		fc := conns[len(conns)-1]
		f.idle[host] = conns[:len(conns)-1]
		f.mu.Unlock()
		if time.Since(fc.used) > idleTimeout || PeerClosed(fc.nc) {
			fc.nc.Close()
			continue
		}
		return fc, nil
	}
	return f.dial(ctx, host)
}

func (f *Frames) put(host string, fc *frameConn) {
	limit := f.MaxIdlePerHost
	if limit <= 0 {
		limit = 64
	}
	fc.used = time.Now()
	if cap(fc.buf) > 1<<20 {
		fc.buf = nil // a large request's or answer's buffer is not kept
	}
	f.mu.Lock()
	if len(f.idle[host]) < limit {
		if f.idle == nil {
			f.idle = map[string][]*frameConn{}
		}
		f.idle[host] = append(f.idle[host], fc)
		fc = nil
	}
	f.mu.Unlock()
	if fc != nil {
		fc.nc.Close()
	}
}

// dial connects to host and upgrades the connection. A server that answers
// the upgrade with an HTTP error does not offer frames: errNoFrames, and
// the host is remembered.
func (f *Frames) dial(ctx context.Context, host string) (*frameConn, error) {
	d := f.Dialer
	if d == nil {
		d = &net.Dialer{Timeout: 3 * time.Second, KeepAlive: 15 * time.Second}
	}
	nc, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := io.WriteString(nc, "GET "+FramesPath+" HTTP/1.1\r\nHost: "+host+"\r\nConnection: Upgrade\r\nUpgrade: "+FramesProtocol+"\r\n\r\n"); err != nil {
		nc.Close()
		return nil, err
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("upgrading to frames: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || !strings.EqualFold(resp.Header.Get("Upgrade"), FramesProtocol) {
		nc.Close()
		if resp.StatusCode/100 == 4 {
			f.mu.Lock()
			if f.unsupported == nil {
				f.unsupported = map[string]bool{}
			}
			f.unsupported[host] = true
			f.mu.Unlock()
		}
		return nil, errNoFrames
	}
	return &frameConn{nc: nc, br: br}, nil
}

// frame sends one request as a frame and reads its answer. ok is false when
// the server does not offer frames (nothing was sent): the caller sends the
// request as JSON. Errors classify as the JSON path's do: unreachable
// until the whole frame is written, indeterminate once it is and no answer
// came, internal for an answer that does not decode.
func (c *Client) frame(ctx context.Context, req *frameRequest) (results []Result, err error, ok bool) {
	if !c.frames.offered(c.host) {
		return nil, nil, false
	}
	name := opName(req.Op)
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout+time.Second)
		defer cancel()
	}
	budget := serverBudget(ctx)
	if budget <= 0 {
		return nil, &Error{Kind: KindUnreachable, Message: fmt.Sprintf("%s: deadline passed before sending", name)}, true
	}
	req.TimeoutMS = max(budget.Milliseconds(), 1)
	fc, err := c.frames.get(ctx, c.host)
	if errors.Is(err, errNoFrames) {
		return nil, nil, false
	}
	if err != nil {
		return nil, &Error{Kind: KindUnreachable, Message: fmt.Sprintf("frames %s: request not sent: %v", name, err)}, true
	}
	b, err := appendRequest(append(fc.buf[:0], 0, 0, 0, 0), req)
	if err != nil {
		c.frames.put(c.host, fc)
		return nil, &Error{Kind: KindBadRequest, Message: err.Error()}, true
	}
	fc.buf = b
	if len(b)-4 > MaxBody {
		c.frames.put(c.host, fc)
		return nil, &Error{Status: http.StatusRequestEntityTooLarge, Kind: KindBadRequest, Message: fmt.Sprintf("request of %d bytes: at most %d", len(b)-4, MaxBody)}, true
	}
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	dl, _ := ctx.Deadline()
	_ = fc.nc.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { _ = fc.nc.SetDeadline(time.Unix(1, 0)) })
	if _, err := fc.nc.Write(b); err != nil {
		// Not wholly written: the server runs only a whole frame.
		stop()
		fc.nc.Close()
		return nil, &Error{Kind: KindUnreachable, Message: fmt.Sprintf("frames %s: request not sent: %v", name, err)}, true
	}
	answer, rerr := fc.readAnswer()
	// stop is false when the context ended meanwhile and set the deadline
	// in the past: the connection is not reused (its answer, if read, is).
	reusable := stop() && rerr == nil
	if !reusable {
		fc.nc.Close()
	}
	if rerr != nil {
		return nil, &Error{Kind: KindIndeterminate, Message: fmt.Sprintf("frames %s: sent, no answer: %v", name, rerr)}, true
	}
	results, cerr, err := parseAnswer(answer)
	if reusable {
		c.frames.put(c.host, fc)
	}
	switch {
	case err != nil:
		// It happened, but we cannot tell the caller what it returned.
		return nil, &Error{Kind: KindInternal, Message: fmt.Sprintf("frames %s: decoding the answer: %v", name, err)}, true
	case cerr != nil:
		return nil, cerr, true
	}
	return results, nil, true
}

func opName(op byte) string {
	switch op {
	case frameExec:
		return "exec"
	case frameQuery:
		return "query"
	case frameTxn:
		return "txn"
	}
	return fmt.Sprintf("op %q", op)
}

// readAnswer reads one answer frame's payload into fc.buf.
func (fc *frameConn) readAnswer() ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(fc.br, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > MaxAnswer {
		return nil, fmt.Errorf("answer of %d bytes: at most %d", n, MaxAnswer)
	}
	if cap(fc.buf) < int(n) {
		fc.buf = make([]byte, n)
	}
	fc.buf = fc.buf[:n]
	if _, err := io.ReadFull(fc.br, fc.buf); err != nil {
		return nil, err
	}
	return fc.buf, nil
}
