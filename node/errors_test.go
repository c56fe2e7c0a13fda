package node

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/node/control"
)

func TestNodeErrorsMapToControlKinds(t *testing.T) {
	lost := &IndeterminateError{ExtendedCode: CodeLeadershipLost, Err: errors.New("leadership lost")}
	for _, tc := range []struct {
		name     string
		err      error
		kind     string
		definite bool
		code     int
	}{
		{"not running", ErrNotRunning, control.KindNotRunning, true, 0},
		{"closed", fmt.Errorf("x: %w", ErrClosed), control.KindNotRunning, true, 0},
		{"already running", ErrAlreadyRunning, control.KindAlreadyRunning, true, 0},
		{"database", &DatabaseError{Code: 19, ExtendedCode: 2067}, control.KindDatabase, true, 2067},
		{"busy", &DatabaseError{Code: CodeBusy, ExtendedCode: CodeBusy}, control.KindDatabase, true, CodeBusy},
		{"not leader", &NoLeaderError{Code: CodeNotLeader, Err: errors.New("not leader")}, control.KindNotLeader, true, CodeNotLeader},
		{"leadership lost", lost, control.KindIndeterminate, false, CodeLeadershipLost},
		{"txn lost before commit", &TxnError{Statement: 1, Err: lost}, control.KindAborted, true, 0},
		{"txn aborted", &TxnError{Statement: 2, Err: fmt.Errorf("%w (%w)", lost, ErrTxnAborted)}, control.KindAborted, true, 0},
		{"txn commit lost", &TxnError{Statement: 2, Commit: true, Err: lost}, control.KindIndeterminate, false, CodeLeadershipLost},
		{"txn commit refused", &TxnError{Statement: 2, Commit: true, Err: &DatabaseError{Code: 5, ExtendedCode: 5}}, control.KindDatabase, true, 5},
		{"start", &StartError{Err: errors.New("bind")}, control.KindStart, true, 0},
		{"stop", &StopError{Err: context.DeadlineExceeded}, control.KindStop, true, 0},
		{"deadline", fmt.Errorf("transfer: %w", context.DeadlineExceeded), control.KindIndeterminate, false, 0},
		{"bad argument", &ArgError{Err: errors.New("argument 1: unsupported type")}, control.KindBadRequest, true, 0},
		{"anything else", errors.New("go-dqlite said no"), control.KindInternal, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d interface{ Definite() bool }
			if errors.As(tc.err, &d) {
				require.Equal(t, tc.definite, d.Definite(), "the node error's own Definite")
			}
			var ce *control.Error
			require.ErrorAs(t, controlError(tc.err), &ce)
			require.Equal(t, tc.kind, ce.Kind)
			require.Equal(t, tc.definite, ce.Definite())
			require.Equal(t, tc.code, ce.ExtendedCode)
		})
	}
	require.NoError(t, controlError(nil))
}
