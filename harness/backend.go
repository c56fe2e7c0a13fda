// Package harness runs a scenario: it loads it, brings up a cluster through a
// backend, drives the workload's clients and the nemesis, records the history,
// checks it and writes the run directory.
package harness

import (
	"context"
	"errors"

	"github.com/dqtest/dqtest/detect"
	"github.com/dqtest/dqtest/mode"
	"github.com/dqtest/dqtest/nemesis"
	"github.com/dqtest/dqtest/verdict"
	"github.com/dqtest/dqtest/workloads"
)

// ClusterSpec says what cluster a backend must bring up.
type ClusterSpec struct {
	// RunID names the run; backends put it in container and network names
	// and labels so leftovers can be found and removed.
	RunID string
	// Nodes is the cluster size (1, 3, 5 or 7).
	Nodes int
	// Dqlite is the C dqlite version every node runs, NodeDqlite the
	// nodes that run another (docker backend: the node image
	// dqtest-node:<version>; "" is mode.DefaultDqlite).
	Dqlite     string
	NodeDqlite map[string]string
	// Image, when set, is the node image of every node, whatever Dqlite
	// says (dqtest run --image); its labels say which dqlite it carries.
	Image string
	// NodeArgs are extra `dqtest node` flags per node name ("n1".."nN"),
	// e.g. a self-test flag for one node.
	NodeArgs map[string][]string
	// StopMode is how the Node API stops dqlite: guarded, unguarded or bypass.
	StopMode mode.Stop
	// ClientMode is how Cluster.Client reaches dqlite (docker backend):
	// mode.ClientNode ("" too) through the node's control API, mode.ClientDirect from
	// this process straight to the dqlite ports (Scenario.Client).
	ClientMode mode.Client
	// DataDirSize, when set (e.g. "256m"), puts each node's data directory
	// on a file system of that size of its own (docker: a tmpfs volume), so
	// that the disk nemesis can fill it. Empty: the backend's default.
	DataDirSize string
}

// Cluster is a running cluster as the harness sees it: the nemesis's view
// plus clients, logs and exit status.
type Cluster interface {
	nemesis.Cluster
	// Client returns a client bound to one node. Calls on it honour their
	// context's deadline.
	Client(node string) workloads.Client
	// Logs returns everything the node's processes wrote (all restarts).
	Logs(ctx context.Context, node string) ([]byte, error)
	// Exit reports the node's process state.
	Exit(ctx context.Context, node string) (detect.NodeExit, error)
	// Down removes every container and network of the cluster. It is
	// idempotent and must work after a panic or cancellation (give it a
	// fresh context).
	Down(ctx context.Context) error
}

// Backend brings clusters up.
type Backend interface {
	Name() string
	// Capabilities are the fault capabilities its clusters have (the core
	// ones at least); a scenario needing another is refused before it runs.
	Capabilities() []nemesis.Capability
	Up(ctx context.Context, spec ClusterSpec) (Cluster, error)
}

// Builder is a Cluster that can say which dqlite each node runs (docker:
// from its image's labels), for results.json.
type Builder interface {
	Builds() []verdict.Build
}

// ErrAlreadyRunning is what a Cluster's Start wraps when the node's Node
// was running already (a restarted process starts itself).
var ErrAlreadyRunning = errors.New("the node is running already")

// StatusReader is a Cluster that can ask a node whether its Node runs (its
// process may run with the Node stopped): the docker backend. The run
// starts such nodes again before the final reads.
type StatusReader interface {
	NodeRunning(ctx context.Context, node string) (bool, error)
}
