package dqclient

import (
	"database/sql/driver"
	"errors"
	"io"
	"log/slog"
	"net"
	"syscall"
	"testing"

	"github.com/canonical/go-dqlite/v2/client"
	gdriver "github.com/canonical/go-dqlite/v2/driver"
	"github.com/stretchr/testify/require"
)

// go-dqlite's driverError (driver.go, v2.0.1) turns these causes into
// driver.ErrBadConn after logging them in exactly these formats; the
// connection's cause recorder is where they are told apart.
func TestConnectionFailuresAreClassifiedByTheirCause(t *testing.T) {
	writeErr := &net.OpError{Op: "write", Net: "tcp", Err: syscall.EPIPE}
	readErr := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	for _, tc := range []struct {
		name     string
		format   string
		args     []any
		err      error
		want     any
		code     int
		definite bool
		bad      bool
	}{
		{"not leader", "leadership lost (%d - %s)", []any{uint64(10250), "not leader"}, driver.ErrBadConn, &NoLeaderError{}, CodeNotLeader, true, true},
		{"leadership lost", "leadership lost (%d - %s)", []any{uint64(10506), "leadership lost"}, driver.ErrBadConn, &IndeterminateError{}, CodeLeadershipLost, false, true},
		{"no database after a leader change", "not found - potentially after leadership loss (%d - %s)", []any{uint64(12), "no database opened"}, driver.ErrBadConn, &NoLeaderError{}, 12, true, true},
		{"write failed: not sent", "network connection lost: %v", []any{writeErr}, driver.ErrBadConn, &NoLeaderError{}, 0, true, true},
		{"read failed: sent", "network connection lost: %v", []any{readErr}, driver.ErrBadConn, &IndeterminateError{}, 0, false, true},
		{"EOF: sent", "EOF detected: %v", []any{io.EOF}, driver.ErrBadConn, &IndeterminateError{}, 0, false, true},
		{"server code 0", "unexpected error code (%d - %s)", []any{uint64(0), "?"}, driver.ErrBadConn, &IndeterminateError{}, 0, false, true},
		{"SQL error", "", nil, gdriver.Error{Code: 2067, Message: "UNIQUE constraint failed"}, &DatabaseError{}, 2067, true, false},
		{"disk I/O error at commit: may have committed", "", nil, gdriver.Error{Code: 778, Message: "disk I/O error"}, &IndeterminateError{}, 778, false, false},
		{"disk full: may have committed", "", nil, gdriver.Error{Code: 13, Message: "database or disk is full"}, &IndeterminateError{}, 13, false, false},
		{"not leader as a server error", "", nil, gdriver.Error{Code: 10250, Message: "not leader"}, &NoLeaderError{}, 10250, true, true},
		{"disk I/O error at commit: may have committed", "", nil, gdriver.Error{Code: 778, Message: "disk I/O error"}, &IndeterminateError{}, 778, false, false},
		{"disk full: may have committed", "", nil, gdriver.Error{Code: 13, Message: "database or disk is full"}, &IndeterminateError{}, 13, false, false},
		{"not leader as a server error", "", nil, gdriver.Error{Code: 10250, Message: "not leader"}, &NoLeaderError{}, 10250, true, true},
		{"anything else", "", nil, errors.New("decode failed"), &IndeterminateError{}, 0, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &conn{cause: &cause{log: slog.New(slog.DiscardHandler)}}
			c.cause.logf(client.LogDebug, "attempt 1: server x: connect to reported leader %s", "y") // noise
			if tc.format != "" {
				c.cause.logf(client.LogDebug, tc.format, tc.args...)
			}
			got, bad := c.classify(tc.err)
			require.IsType(t, tc.want, got)
			require.Equal(t, tc.bad, bad)
			var d interface{ Definite() bool }
			require.ErrorAs(t, got, &d)
			require.Equal(t, tc.definite, d.Definite(), "%v", got)
			switch e := got.(type) {
			case *NoLeaderError:
				require.Equal(t, tc.code, e.Code)
				require.True(t, e.stale, "a fresh connection may do better")
			case *IndeterminateError:
				require.Equal(t, tc.code, e.ExtendedCode)
			case *DatabaseError:
				require.Equal(t, tc.code, e.ExtendedCode)
				require.Equal(t, tc.code&0xff, e.Code)
			}
		})
	}
}
