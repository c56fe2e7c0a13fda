package dqclient

import (
	"context"
	"encoding/binary"
	"net"
	"syscall"

	"github.com/canonical/go-dqlite/v2/client"
)

// headerSize is the size of a dqlite message header: the body's length in
// 8-byte words (uint32, little-endian), the type, a schema byte and two
// bytes for the server's use.
const headerSize = 8

// coalescing is a connection that sends a dqlite request's header and body
// in one write. go-dqlite writes them with two (Protocol.send: the header,
// then at once the body): two system calls and, with TCP_NODELAY, two
// segments, each of which can wake the server for half a request. Once
// armed (after go-dqlite's handshake, whose 8-byte protocol version is no
// header), a Write of a header whose body is not empty is held and sent
// with the next Write, the body. Nothing is ever sent in part that would
// not have been: the header's Write reports success without sending, and
// the body's Write reports what the combined write did, so a request that
// failed to go out is still a failed write (cause.logf's notSent), whole or
// in part. Writes are serialized by go-dqlite (Protocol.mu).
type coalescing struct {
	net.Conn
	armed   bool
	pending []byte // a held header, or nil
	buf     []byte
}

// coalescingDial is go-dqlite's default dial with the connection wrapped.
func coalescingDial(ctx context.Context, address string) (net.Conn, error) {
	return coalescingVia(client.DefaultDialFunc)(ctx, address)
}

// coalescingVia is dial with the connection wrapped.
func coalescingVia(dial client.DialFunc) client.DialFunc {
	return func(ctx context.Context, address string) (net.Conn, error) {
		nc, err := dial(ctx, address)
		if err != nil {
			return nil, err
		}
		return &coalescing{Conn: nc}, nil
	}
}

// arm starts coalescing: call it once the handshake is done.
func (c *coalescing) arm() { c.armed = true }

func (c *coalescing) Write(p []byte) (int, error) {
	if !c.armed {
		return c.Conn.Write(p)
	}
	if c.pending == nil {
		if len(p) == headerSize && binary.LittleEndian.Uint32(p) > 0 {
			c.pending = append(c.buf[:0], p...)
			return len(p), nil
		}
		return c.Conn.Write(p)
	}
	hdr := c.pending
	c.pending = nil
	if uint64(len(p)) != uint64(binary.LittleEndian.Uint32(hdr))*8 {
		// Not the body the header announced: send both as they came.
		if _, err := c.Conn.Write(hdr); err != nil {
			return 0, err
		}
		return c.Conn.Write(p)
	}
	c.buf = append(hdr[:headerSize], p...)
	n, err := c.Conn.Write(c.buf)
	if len(c.buf) > 64<<10 {
		c.buf = nil // a large request's buffer is not kept
	}
	return max(n-headerSize, 0), err
}

// SyscallConn is the socket's, so that peerClosed can look at it.
func (c *coalescing) SyscallConn() (syscall.RawConn, error) {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return nil, syscall.EINVAL
	}
	return sc.SyscallConn()
}
