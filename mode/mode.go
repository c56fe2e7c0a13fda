// Package mode holds the small closed sets of names that travel from a
// scenario file to the node: the stop mode, the client mode, the backend and
// the cluster-size limits. It has no dependencies (and no cgo), so the
// scenario, the harness, the backends, the control API and the node all use
// the same typed values and the same validation.
package mode

import (
	"fmt"
	"slices"
	"strings"
)

// Stop says what a node's Stop does with the C dqlite node.
type Stop string

const (
	// Guarded: Stop before Start is refused, a second Stop is a no-op,
	// dqlite_node_stop runs at most once per started node (after any
	// handover in flight has returned) and is bounded by the stop timeout.
	Guarded Stop = "guarded"
	// Unguarded: Stop calls dqlite_node_stop every time it is called,
	// whatever the state (reproduces canonical/dqlite#737 and #848 on
	// purpose).
	Unguarded Stop = "unguarded"
	// Bypass: Stop never calls dqlite_node_stop; the C node keeps running
	// inside the process until it exits (avoids every shutdown bug).
	Bypass Stop = "bypass"
)

// StopModes lists the stop modes, default first.
func StopModes() []Stop { return []Stop{Guarded, Unguarded, Bypass} }

// ParseStop parses a stop mode name; "" is not a stop mode here (callers
// that have a default apply it first).
func ParseStop(s string) (Stop, error) {
	m := Stop(s)
	if slices.Contains(StopModes(), m) {
		return m, nil
	}
	return "", fmt.Errorf("stop mode %q: want %s", s, join(StopModes()))
}

// Valid reports whether m is one of StopModes.
func (m Stop) Valid() bool { return slices.Contains(StopModes(), m) }

// Client is how a run's workload clients reach dqlite.
type Client string

const (
	// ClientNode sends each operation to its node's control API, and that
	// node's own go-dqlite client runs it on the leader (an application
	// embedded in a node).
	ClientNode Client = "node"
	// ClientDirect runs each operation from dqtest's own process straight
	// to the leader's dqlite port (an application outside the cluster).
	ClientDirect Client = "direct"
)

// ClientModes lists the client modes, default first.
func ClientModes() []Client { return []Client{ClientNode, ClientDirect} }

// Valid reports whether c is one of ClientModes.
func (c Client) Valid() bool { return slices.Contains(ClientModes(), c) }

// Backend names what runs a scenario's cluster.
type Backend string

const (
	// Docker runs real dqlite nodes in containers.
	Docker Backend = "docker"
	// Sim is the deterministic simulator: a test double, not dqlite.
	Sim Backend = "sim"
)

// Backends lists the backends, default first.
func Backends() []Backend { return []Backend{Docker, Sim} }

// Valid reports whether b is one of Backends.
func (b Backend) Valid() bool { return slices.Contains(Backends(), b) }

// DqliteVersions are the C dqlite versions dqtest ships node images for
// (1.18.1 from Debian trixie with go-dqlite v2, 1.18.7 from sid with
// go-dqlite v3), oldest first.
var DqliteVersions = []string{"1.18.1", "1.18.7"}

// DefaultDqlite is the version a run uses when neither the scenario nor the
// command line names one: the newest dqtest ships.
const DefaultDqlite = "1.18.7"

// ClusterSizes are the cluster sizes a scenario may ask for: odd sizes up
// to seven voters, as dqlite's own tests and Jepsen's use.
var ClusterSizes = []int{1, 3, 5, 7}

// MaxNodes is the largest cluster size.
const MaxNodes = 7

// ValidNodes reports whether n is one of ClusterSizes.
func ValidNodes(n int) bool { return slices.Contains(ClusterSizes, n) }

func join[T ~string](xs []T) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = string(x)
	}
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// Names renders a list of modes for an error message: "a, b or c".
func Names[T ~string](xs []T) string { return join(xs) }
