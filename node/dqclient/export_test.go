package dqclient

// Test hooks for the external tests, which need a real dqlite node (package
// node, which imports this one).

// IdleConn takes an idle connection from the pool (nil if none); put hands
// it back.
func (cl *Client) IdleConn() (c *conn, put func(), err error) {
	c, gen, err := cl.conns.get()
	if c == nil {
		return nil, func() {}, err
	}
	return c, func() { cl.conns.put(c, gen) }, err
}

// HasSocket says whether the socket under go-dqlite's connection was found.
func (c *conn) HasSocket() bool { return c.nc != nil }

// PeerClosed is peerClosed.
func (c *conn) PeerClosed() bool { return c.peerClosed() }
