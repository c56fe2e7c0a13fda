package mode

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseStopAcceptsTheThreeModesOnly(t *testing.T) {
	for _, m := range StopModes() {
		got, err := ParseStop(string(m))
		require.NoError(t, err)
		require.Equal(t, m, got)
	}
	_, err := ParseStop("gentle")
	require.EqualError(t, err, `stop mode "gentle": want guarded, unguarded or bypass`)
	_, err = ParseStop("")
	require.Error(t, err)
}

func TestValidity(t *testing.T) {
	require.True(t, ClientDirect.Valid())
	require.False(t, Client("tcp").Valid())
	require.True(t, Sim.Valid())
	require.False(t, Backend("k8s").Valid())
	require.True(t, ValidNodes(5))
	require.False(t, ValidNodes(4))
	require.Equal(t, "node or direct", Names(ClientModes()))
}
