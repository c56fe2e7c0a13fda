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

func newGoNode(id uint64, address, bindAddress, dir string) (*goNode, error) {
	return dqlite.New(id, address, dir, dqlite.WithBindAddress(bindAddress))
}

func generateID(address string) uint64 { return dqlite.GenerateID(address) }
