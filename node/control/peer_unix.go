//go:build unix

package control

import (
	"net"
	"syscall"
)

// PeerClosed reports whether the peer has closed an idle connection (or
// sent something unasked): a non-blocking peek finds EOF or data. A request
// written to such a connection would be lost with its outcome unknown;
// checked first, it goes on a fresh connection.
func PeerClosed(nc net.Conn) bool {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	closed := false
	err = raw.Read(func(fd uintptr) bool {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		closed = n > 0 || (n == 0 && err == nil) || (err != nil && err != syscall.EAGAIN && err != syscall.EINTR)
		return true
	})
	return err == nil && closed
}
