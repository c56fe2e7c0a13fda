package nemesis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The rolling-upgrade faults: dqlite's users upgrade a running cluster one
// node at a time, each node restarted on the new build with its data
// directory, while the others keep serving.
//
//	upgrade    restart one node on the next newer dqlite the backend has,
//	           keeping its data directory and address          instantaneous
//	downgrade  the same, onto the next older dqlite            instantaneous
//
// Without targets (a fixed or random schedule, or a timeline step that
// names none) the node is chosen when the step is applied: the first node,
// in the cluster's order, that has a newer (older) version to go to,
// followers before the leader, as an operator rolls an upgrade. A timeline
// may name the node instead. Nothing is undone: the cluster stays on the
// versions the steps left it on, and a step with no node left to move
// records an error (a fault that did not happen).
var upgradeFaults = []fault{
	{name: "upgrade", minNodes: 1, shape: shapeRolling, instant: true, act: reinstall(false)},
	{name: "downgrade", minNodes: 1, shape: shapeRolling, instant: true, act: reinstall(true)},
}

func init() { catalogue = append(catalogue, upgradeFaults...) }

// Upgrader is a Cluster whose nodes can be moved to another C dqlite
// version (the docker backend: another node image). It is optional, like
// DiskFaulter: the simulator models no versions.
type Upgrader interface {
	// DqliteVersions are the versions the backend can run a node on,
	// oldest first.
	DqliteVersions() []string
	// DqliteVersion is the version node runs now.
	DqliteVersion(node string) string
	// Reinstall stops node (its stop mode's stop, as SIGTERM does, then
	// SIGKILL after a grace period) and starts it again on version, with
	// the same data directory, address and flags. It returns once the
	// node's control API answers (it may still be catching up), with what
	// it did for the record.
	Reinstall(ctx context.Context, node, version string) (Reinstalled, error)
}

// Reinstalled is what one Reinstall did, for the step's record.
type Reinstalled struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Image string `json:"image,omitempty"`
	// ExitCode is the old process's exit status (0: it stopped cleanly on
	// SIGTERM; 137: it had to be killed).
	ExitCode int `json:"exit_code"`
	// DataBytes is the size of the data directory carried over, and
	// Carried how it was (a volume both containers mount, or a copy).
	DataBytes int64  `json:"data_bytes"`
	Carried   string `json:"carried,omitempty"`
	// StopMs, CarryMs and StartMs split the step's time: the old node's
	// stop, moving its data, and the new one's start until its control API
	// answered.
	StopMs  int64 `json:"stop_ms"`
	CarryMs int64 `json:"carry_ms"`
	StartMs int64 `json:"start_ms"`
}

// nextVersion is the version after (down: before) v among versions, or "".
func nextVersion(versions []string, v string, down bool) string {
	sorted := slices.Clone(versions)
	slices.SortFunc(sorted, compareVersions)
	best := ""
	for _, w := range sorted {
		c := compareVersions(w, v)
		if !down && c > 0 {
			return w
		}
		if down && c < 0 {
			best = w
		}
	}
	return best
}

// compareVersions orders dotted numeric versions.
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		x, _ := strconv.Atoi(as[i])
		y, _ := strconv.Atoi(bs[i])
		if x != y {
			return x - y
		}
	}
	return len(as) - len(bs)
}

func upgrader(c Cluster, name string) (Upgrader, error) {
	u, ok := capability[Upgrader](c)
	if !ok {
		return nil, fmt.Errorf("%s: %w (%T cannot run a node on another dqlite)", name, ErrUnsupported, c)
	}
	return u, nil
}

// rollingTarget chooses the node a rolling step moves: the first in the
// cluster's order with a version to go to, followers first.
func rollingTarget(ctx context.Context, c Cluster, f fault) ([]string, error) {
	u, err := upgrader(c, f.name)
	if err != nil {
		return nil, err
	}
	down := f.name == "downgrade"
	var movable []string
	for _, n := range c.Nodes() {
		if nextVersion(u.DqliteVersions(), u.DqliteVersion(n), down) != "" {
			movable = append(movable, n)
		}
	}
	if len(movable) == 0 {
		way := "newer"
		if down {
			way = "older"
		}
		return nil, fmt.Errorf("%s: no node has a %s dqlite to go to (the backend has %s)", f.name, way, strings.Join(u.DqliteVersions(), ", "))
	}
	leader, _ := c.Leader(ctx) // no leader: any order will do
	for _, n := range movable {
		if n != leader {
			return []string{n}, nil
		}
	}
	return movable[:1], nil
}

// reinstall moves each target to the next newer (down: older) version.
func reinstall(down bool) func(context.Context, Cluster, []string) ([]string, []Call, error) {
	name := "upgrade"
	if down {
		name = "downgrade"
	}
	return func(ctx context.Context, c Cluster, targets []string) ([]string, []Call, error) {
		u, err := upgrader(c, name)
		if err != nil {
			return nil, nil, err
		}
		cs := newCalls()
		var done []string
		var errs []error
		for _, n := range targets {
			from := u.DqliteVersion(n)
			to := nextVersion(u.DqliteVersions(), from, down)
			if to == "" {
				err := fmt.Errorf("%s runs dqlite %s: no %s version to go to (the backend has %s)", n, from, map[bool]string{false: "newer", true: "older"}[down], strings.Join(u.DqliteVersions(), ", "))
				cs.list = append(cs.list, Call{Call: name, Node: n, Error: err.Error()})
				errs = append(errs, err)
				continue
			}
			start := time.Now()
			r, err := u.Reinstall(ctx, n, to)
			call := Call{Call: name + " " + from + " -> " + to, Node: n, Offset: start.Sub(cs.began).Milliseconds(), Took: time.Since(start).Milliseconds(), Reinstalled: &r}
			if err != nil {
				call.Error = err.Error()
				errs = append(errs, fmt.Errorf("%s: %w", n, err))
			} else {
				done = append(done, n)
			}
			cs.list = append(cs.list, call)
		}
		return done, cs.list, errors.Join(errs...)
	}
}
