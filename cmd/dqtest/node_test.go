package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestTheControlAPIListensOnTheNodesOwnAddressUnlessAskedOtherwise(t *testing.T) {
	for _, tc := range []struct {
		name, control string
		all           bool
		address, want string
	}{
		{"a node started by hand on loopback", "", false, "127.0.0.1:9001", "127.0.0.1:8080"},
		{"a node in a container", "", false, "172.29.14.11:9001", "172.29.14.11:8080"},
		{"an IPv6 address", "", false, "[::1]:9001", "[::1]:8080"},
		{"an explicit address", "127.0.0.2:9999", false, "127.0.0.1:9001", "127.0.0.2:9999"},
		{"every interface, explicitly", "0.0.0.0:8080", false, "127.0.0.1:9001", "0.0.0.0:8080"},
		{"every interface, the old default's spelling", ":8080", false, "127.0.0.1:9001", ":8080"},
		{"the all-interfaces flag", "", true, "127.0.0.1:9001", ":8080"},
		{"the all-interfaces flag with a port", ":8181", true, "127.0.0.1:9001", ":8181"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := controlListenAddress(tc.control, tc.all, tc.address)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
	for _, tc := range []struct {
		name, control string
		all           bool
		address, want string
	}{
		{"no port", "127.0.0.1", false, "127.0.0.1:9001", "want ip:port"},
		{"a specific host and the all-interfaces flag", "127.0.0.1:8080", true, "127.0.0.1:9001", "give one or the other"},
		{"an unspecified --address", "", false, "0.0.0.0:9001", "cannot be unspecified"},
		{"a bad --address", "", false, "nope", "want ip:port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := controlListenAddress(tc.control, tc.all, tc.address)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestNodeRefusesBadDqliteSettingsBeforeStarting(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    nodeFlags
		want string
	}{
		{"latency under a millisecond", nodeFlags{networkLatency: 500 * time.Microsecond}, "network latency 500µs"},
		{"trailing under the threshold", nodeFlags{snapshotThreshold: 128, snapshotTrailing: 64}, "snapshot trailing 64: dqlite wants at least 4 and at least the threshold (128)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.f.address, tc.f.dataDir, tc.f.autoRecovery = "127.0.0.1:9001", filepath.Join(t.TempDir(), "data"), true
			err := runNode(context.Background(), tc.f)
			require.ErrorContains(t, err, tc.want)
			_, statErr := os.Stat(tc.f.dataDir)
			require.True(t, os.IsNotExist(statErr), "nothing was created")
		})
	}
}
