//go:build dqlite_v3

package node

// The go-dqlite adapter for C dqlite 1.18.7 (Debian sid): go-dqlite v3,
// selected by the build tag dqlite_v3. See godqlite_v2.go. v3.0.4 does not
// compile against 1.18.1's header (DQLITE_SNAPSHOT_TRAILING_STATIC), so the
// tag and the root it is built in go together.

import dqlite "github.com/canonical/go-dqlite/v3"

// GoDqliteModule is the go-dqlite module whose C bindings this build links.
const GoDqliteModule = "github.com/canonical/go-dqlite/v3"

// goNode is go-dqlite's node type. Its layout (server *bindings.Node, whose
// node field is the C pointer) is what cHandle reads; v3.0.4's is v2.0.1's.
type goNode = dqlite.Node

// bootstrapID is dqlite's magic ID of a node that forms a cluster.
const bootstrapID = dqlite.BootstrapID

func newGoNode(id uint64, address, bindAddress, dir string, s Settings) (*goNode, error) {
	opts := []dqlite.Option{dqlite.WithBindAddress(bindAddress)}
	if s.SnapshotThreshold != 0 || s.SnapshotTrailing != 0 {
		th, tr := s.snapshot()
		opts = append(opts, dqlite.WithSnapshotParams(dqlite.SnapshotParams{Threshold: th, Trailing: tr, Strategy: dqlite.TrailingStrategyStatic}))
	}
	if s.NetworkLatency != 0 {
		opts = append(opts, dqlite.WithNetworkLatency(s.NetworkLatency))
	}
	if s.FailureDomain != 0 {
		opts = append(opts, dqlite.WithFailureDomain(s.FailureDomain))
	}
	if s.DiskMode {
		opts = append(opts, dqlite.WithDiskMode(true))
	}
	if s.NoAutoRecovery {
		opts = append(opts, dqlite.WithAutoRecovery(false))
	}
	return dqlite.New(id, address, dir, opts...)
}

// diskModeSupported: dqlite 1.18.3 dropped disk mode (go-dqlite v3's
// WithDiskMode always fails from then on), so Settings.check refuses it.
const diskModeSupported = false

func generateID(address string) uint64 { return dqlite.GenerateID(address) }
