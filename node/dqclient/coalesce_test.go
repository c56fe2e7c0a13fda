package dqclient

import (
	"encoding/binary"
	"errors"
	"net"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// writes records every Write that reaches the socket; after failAfter
// bytes it fails, having written only what fit.
type writes struct {
	net.Conn
	got       [][]byte
	failAfter int
	total     int
}

func (w *writes) Write(p []byte) (int, error) {
	if w.failAfter > 0 && w.total+len(p) > w.failAfter {
		n := w.failAfter - w.total
		w.got = append(w.got, append([]byte{}, p[:n]...))
		w.total += n
		return n, &net.OpError{Op: "write", Net: "tcp", Err: syscall.EPIPE}
	}
	w.got = append(w.got, append([]byte{}, p...))
	w.total += len(p)
	return len(p), nil
}

func header(words uint32, typ byte) []byte {
	h := binary.LittleEndian.AppendUint32(nil, words)
	return append(h, typ, 0, 0, 0)
}

func TestCoalescingSendsAHeaderWithItsBodyInOneWrite(t *testing.T) {
	w := &writes{}
	c := &coalescing{Conn: w}
	version := binary.LittleEndian.AppendUint64(nil, 1)
	n, err := c.Write(version)
	require.NoError(t, err)
	require.Equal(t, 8, n)
	require.Equal(t, [][]byte{version}, w.got, "before arming (the handshake) writes go as they are")

	c.arm()
	w.got = nil
	body := make([]byte, 16)
	body[0] = 7
	n, err = c.Write(header(2, 5))
	require.NoError(t, err)
	require.Equal(t, 8, n)
	require.Empty(t, w.got, "the header waits for its body")
	n, err = c.Write(body)
	require.NoError(t, err)
	require.Equal(t, 16, n)
	require.Equal(t, [][]byte{append(header(2, 5), body...)}, w.got, "one write")

	// A body of one word, the size of a header, is still a body.
	w.got = nil
	_, err = c.Write(header(1, 3))
	require.NoError(t, err)
	_, err = c.Write(header(9, 9))
	require.NoError(t, err)
	require.Equal(t, [][]byte{append(header(1, 3), header(9, 9)...)}, w.got)

	// A header without a body goes at once.
	w.got = nil
	_, err = c.Write(header(0, 4))
	require.NoError(t, err)
	require.Equal(t, [][]byte{header(0, 4)}, w.got)

	// A body that is not the announced length: both go, in order.
	w.got = nil
	_, err = c.Write(header(3, 1))
	require.NoError(t, err)
	_, err = c.Write(body)
	require.NoError(t, err)
	require.Equal(t, [][]byte{header(3, 1), body}, w.got)
}

func TestCoalescingReportsAFailedWriteAsNotWhollySent(t *testing.T) {
	w := &writes{failAfter: 12}
	c := &coalescing{Conn: w}
	c.arm()
	_, err := c.Write(header(2, 5))
	require.NoError(t, err)
	n, err := c.Write(make([]byte, 16))
	var oe *net.OpError
	require.True(t, errors.As(err, &oe))
	require.Equal(t, "write", oe.Op, "a failed write, as go-dqlite's own would be: cause.logf takes it for not sent")
	require.Equal(t, 4, n, "of the body, what went out")

	w = &writes{failAfter: 3}
	c = &coalescing{Conn: w}
	c.arm()
	_, err = c.Write(header(2, 5))
	require.NoError(t, err)
	n, err = c.Write(make([]byte, 16))
	require.ErrorAs(t, err, &oe)
	require.Zero(t, n, "not even the header went out")
}

func TestCoalescingKeepsTheSocketInReach(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	nc, err := coalescingDial(t.Context(), l.Addr().String())
	require.NoError(t, err)
	defer nc.Close()
	peer, err := l.Accept()
	require.NoError(t, err)
	c := &conn{nc: nc}
	require.False(t, c.peerClosed())
	require.NoError(t, peer.Close())
	require.Eventually(t, c.peerClosed, 2e9, 1e7, "peerClosed sees through the wrapper")
}
