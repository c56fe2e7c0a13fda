package control

import (
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

// frameConns are the server's upgraded connections, closed at shutdown.
type frameConns struct {
	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	closing bool
}

// shutdown makes every framed connection end: one waiting for a request
// at once, one serving a request once it has written the answer.
func (f *frameConns) shutdown() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closing = true
	for c := range f.conns {
		_ = c.SetReadDeadline(time.Now())
	}
}

// next arms c's deadline for reading the next request; false once the
// server is shutting down.
func (f *frameConns) next(c net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closing {
		return false
	}
	_ = c.SetDeadline(time.Now().Add(IdleTimeout))
	return true
}

func (f *frameConns) add(c net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closing {
		return false
	}
	if f.conns == nil {
		f.conns = map[net.Conn]struct{}{}
	}
	f.conns[c] = struct{}{}
	return true
}

func (f *frameConns) remove(c net.Conn) {
	f.mu.Lock()
	delete(f.conns, c)
	f.mu.Unlock()
}

// headerHas reports whether a comma-separated header of r lists token.
func headerHas(r *http.Request, name, token string) bool {
	for _, v := range r.Header.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// serveFrames upgrades the connection to frames and serves requests on it
// until the client closes it, it stays idle for IdleTimeout, a request
// takes longer than that to arrive, or the server shuts down.
func (s *server) serveFrames(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method != http.MethodGet:
		w.Header().Set("Allow", http.MethodGet)
		s.answer(w, r, time.Now(), nil, &Error{Status: http.StatusMethodNotAllowed, Kind: KindBadRequest, Message: fmt.Sprintf("%s %s: use GET", r.Method, r.URL.Path)})
		return
	case !headerHas(r, "Connection", "upgrade") || !headerHas(r, "Upgrade", FramesProtocol):
		s.answer(w, r, time.Now(), nil, badRequest("%s: send Connection: Upgrade and Upgrade: %s", FramesPath, FramesProtocol))
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		s.answer(w, r, time.Now(), nil, &Error{Kind: KindInternal, Message: "this server cannot upgrade a connection"})
		return
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		s.log.Debug("frames: hijack failed", "err", err)
		return
	}
	defer conn.Close()
	if !s.frames.add(conn) {
		return
	}
	defer s.frames.remove(conn)
	_ = conn.SetWriteDeadline(time.Now().Add(WriteTimeout))
	if _, err := io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: "+FramesProtocol+"\r\n\r\n"); err != nil {
		return
	}
	s.log.Debug("frames: connection upgraded", "remote", conn.RemoteAddr().String())
	var hdr [4]byte
	var in, out []byte
	for s.frames.next(conn) {
		if _, err := io.ReadFull(brw.Reader, hdr[:]); err != nil {
			if !errors.Is(err, io.EOF) {
				s.log.Debug("frames: connection ends", "remote", conn.RemoteAddr().String(), "err", err)
			}
			return
		}
		n := binary.BigEndian.Uint32(hdr[:])
		if n > MaxBody {
			// The rest of the frame is not read: the connection cannot go on.
			out = s.frameError(out[:0], &Error{Status: http.StatusRequestEntityTooLarge, Kind: KindBadRequest, Message: fmt.Sprintf("frame of %d bytes: at most %d", n, MaxBody)})
			_, _ = conn.Write(out)
			return
		}
		if cap(in) < int(n) {
			in = make([]byte, n)
		}
		in = in[:n]
		if _, err := io.ReadFull(brw.Reader, in); err != nil {
			// A request not wholly received is never run.
			s.log.Debug("frames: request cut short", "remote", conn.RemoteAddr().String(), "err", err)
			return
		}
		out = s.serveFrame(r.Context(), in, out[:0])
		_ = conn.SetWriteDeadline(time.Now().Add(WriteTimeout))
		if _, err := conn.Write(out); err != nil {
			s.log.Debug("frames: writing the answer", "remote", conn.RemoteAddr().String(), "err", err)
			return
		}
		if cap(out) > 1<<20 {
			out = nil // a large answer's buffer is not kept
		}
	}
}

// serveFrame runs one request frame and returns its answer frame (length
// and payload) in out, which must be empty.
func (s *server) serveFrame(parent context.Context, in, out []byte) []byte {
	start := time.Now()
	results, err := s.frameRequest(parent, in)
	out = append(out, 0, 0, 0, 0)
	if err == nil {
		var eerr error
		if out, eerr = appendResults(out, results); eerr != nil {
			err = &Error{Kind: KindInternal, Message: "encoding the answer: " + eerr.Error()}
			out = out[:4]
		}
	}
	if err != nil {
		var cerr *Error
		if !errors.As(err, &cerr) {
			cerr = &Error{Kind: KindInternal, Message: err.Error()}
		}
		s.log.Debug("control frame failed", "status", cerr.HTTPStatus(), "err", cerr, "took", time.Since(start))
		out = appendError(out, cerr)
	}
	binary.BigEndian.PutUint32(out, uint32(len(out)-4))
	return out
}

// frameError is an answer frame carrying e alone.
func (s *server) frameError(out []byte, e *Error) []byte {
	out = appendError(append(out, 0, 0, 0, 0), e)
	binary.BigEndian.PutUint32(out, uint32(len(out)-4))
	return out
}

// frameRequest decodes and runs one request: the JSON endpoints' checks,
// deadline and node calls.
func (s *server) frameRequest(parent context.Context, in []byte) (results []Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("control frame handler panicked", "panic", p)
			results, err = nil, &Error{Kind: KindInternal, Message: fmt.Sprintf("panic: %v", p)}
		}
	}()
	req, err := parseRequest(in)
	if err != nil {
		return nil, badRequest("frame: %v", err)
	}
	switch req.Op {
	case frameExec, frameQuery:
		if req.SQL == "" {
			return nil, badRequest("missing sql")
		}
	case frameTxn:
		if len(req.Statements) == 0 {
			return nil, badRequest("no statements")
		}
		for i, st := range req.Statements {
			if st.SQL == "" {
				return nil, badRequest("statement %d: missing sql", i)
			}
		}
	}
	d := DefaultTimeout
	if req.TimeoutMS > 0 {
		d = min(time.Duration(req.TimeoutMS)*time.Millisecond, MaxTimeout)
	}
	ctx, cancel := context.WithTimeout(parent, d)
	defer cancel()
	on, release, err := s.onDB(ctx, req.DB)
	if err != nil {
		return nil, err
	}
	defer release()
	switch req.Op {
	case frameExec:
		res, err := on.Exec(ctx, req.SQL, req.Args...)
		if err != nil {
			return nil, err
		}
		return []Result{{LastInsertID: res.LastInsertID, RowsAffected: res.RowsAffected}}, nil
	case frameQuery:
		rows, err := on.Query(ctx, req.SQL, req.Args...)
		if err != nil {
			return nil, err
		}
		if rows == nil {
			rows = []map[string]any{}
		}
		return []Result{{Rows: rows}}, nil
	}
	results, err = on.Txn(ctx, req.Statements)
	if err != nil {
		return nil, err
	}
	for i := range results {
		// As in the JSON answer, a statement without rows has none.
		if len(results[i].Rows) == 0 {
			results[i].Rows = nil
		}
	}
	return results, nil
}
