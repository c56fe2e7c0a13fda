package node

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPooledConnectionsSeeTheirSocketAndAClosingPeer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	n, err := New(addr, t.TempDir(), Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	defer n.Close()
	require.NoError(t, n.Start(ctx))
	require.NoError(t, n.OpenDB(ctx, ""))

	c, gen, err := n.conns.get()
	require.NoError(t, err)
	require.NotNil(t, c, "OpenDB left a connection in the pool")
	require.NotNil(t, c.nc, "the socket under go-dqlite's connection was found")
	require.False(t, c.peerClosed(), "a live server")
	n.conns.put(c, gen)

	// A guarded stop makes dqlite close its client connections.
	n.mu.Lock()
	cn := n.cn
	n.mu.Unlock()
	require.NoError(t, cn.stop())
	defer func() {
		n.mu.Lock()
		n.cn, n.state = nil, stopped
		n.mu.Unlock()
		cn.destroy()
	}()
	require.Eventually(t, c.peerClosed, 5*time.Second, 10*time.Millisecond, "the closed peer is noticed before the connection is used")
	c, _, err = n.conns.get()
	require.NoError(t, err)
	require.Nil(t, c, "the pool drops a connection whose peer closed it")
}
