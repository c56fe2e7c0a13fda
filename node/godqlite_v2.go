//go:build !dqlite_v3

package node

// The go-dqlite adapter for C dqlite 1.18.1 (Debian trixie): go-dqlite v2.
// Its twin godqlite_v3.go (build tag dqlite_v3) binds go-dqlite v3 for
// dqlite 1.18.7 (Debian sid). They are the only files that import a
// go-dqlite root package (the C bindings); everything else in node uses
// go-dqlite v2's client package, which is pure Go and, apart from import
// paths, identical in v2.0.1 and v3.0.4 (see docs/node.md).

import dqlite "github.com/canonical/go-dqlite/v2"

// GoDqliteModule is the go-dqlite module whose C bindings this build links.
const GoDqliteModule = "github.com/canonical/go-dqlite/v2"

// goNode is go-dqlite's node type. Its layout (server *bindings.Node, whose
// node field is the C pointer) is what cHandle reads.
type goNode = dqlite.Node

// bootstrapID is dqlite's magic ID of a node that forms a cluster.
const bootstrapID = dqlite.BootstrapID

func newGoNode(id uint64, address, bindAddress, dir string, s Settings) (*goNode, error) {
	opts := []dqlite.Option{dqlite.WithBindAddress(bindAddress)}
	if s.SnapshotThreshold != 0 || s.SnapshotTrailing != 0 {
		th, tr := s.snapshot()
		opts = append(opts, dqlite.WithSnapshotParams(dqlite.SnapshotParams{Threshold: th, Trailing: tr}))
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

// diskModeSupported: 1.18.1 still has (experimental) disk mode.
const diskModeSupported = true

func generateID(address string) uint64 { return dqlite.GenerateID(address) }
