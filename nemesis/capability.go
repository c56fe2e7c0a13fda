package nemesis

import (
	"fmt"
	"slices"
	"strings"
)

// Capability is a group of fault actions a backend may or may not be able
// to do. Every backend has the core ones; the rest are optional.
type Capability string

const (
	// Core capabilities: every Cluster has them.
	CapLifecycle  Capability = "lifecycle"  // kill, pause, stop (Lifecycle)
	CapNetwork    Capability = "network"    // partitions (Network)
	CapLeadership Capability = "leadership" // handover, transfer, member (Leadership)
	// Optional capabilities.
	CapDisk   Capability = "disk"   // fill a node's data volume (DiskFaulter)
	CapPacket Capability = "packet" // drop packets between nodes (PacketFaulter)
	CapTxn    Capability = "hold-txn"
	// CapStopPath is the real stop path: dqlite_node_stop and handover
	// called at the same moment, on stopped and never-started nodes, in
	// the three stop modes (the stop-path faults that need more than one
	// call in sequence; double-stop, stop-two, stop-after-start and
	// stop-start-loop need only Lifecycle).
	CapStopPath Capability = "stop-path"
	// CapUpgrade is restarting a node on another C dqlite version with its
	// data directory (Upgrader: the upgrade and downgrade faults).
	CapUpgrade Capability = "upgrade"
)

// CoreCapabilities are the capabilities every Cluster has.
func CoreCapabilities() []Capability {
	return []Capability{CapLifecycle, CapNetwork, CapLeadership}
}

// needs are the capabilities each fault kind needs.
func (f fault) needs() []Capability {
	switch f.name {
	case "disk":
		return []Capability{CapLifecycle, CapDisk}
	case "packet":
		return []Capability{CapPacket}
	case "stop-with-open-txn":
		return []Capability{CapLifecycle, CapTxn}
	case "never-started", "handover-never-started":
		return []Capability{CapLifecycle, CapLeadership, CapStopPath}
	case "handover", "transfer", "member":
		return []Capability{CapLeadership}
	case "upgrade", "downgrade":
		return []Capability{CapLifecycle, CapUpgrade}
	}
	if f.isPartition() {
		return []Capability{CapNetwork}
	}
	return []Capability{CapLifecycle}
}

// Needs lists the capabilities the named fault kind needs (nil for an
// unknown kind).
func Needs(fault string) []Capability {
	f, ok := lookup(fault)
	if !ok {
		return nil
	}
	return f.needs()
}

// IsStopPath reports whether the named fault is one of the stop-path
// faults (shutdown.go), whose calls failing is part of what they test (a
// guarded stop refusing a second stop), not a fault that did not happen.
func IsStopPath(name string) bool {
	return slices.ContainsFunc(stopFaults, func(f fault) bool { return f.name == name })
}

// UnsupportedError says which faults of a spec a backend cannot do.
type UnsupportedError struct {
	Backend string
	// Faults maps each fault the backend cannot do to the capability it
	// lacks.
	Faults map[string]Capability
}

func (e *UnsupportedError) Error() string {
	names := make([]string, 0, len(e.Faults))
	for f := range e.Faults {
		names = append(names, f)
	}
	slices.Sort(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s (needs %s)", n, e.Faults[n])
	}
	return fmt.Sprintf("the %s backend cannot do %s", e.Backend, strings.Join(parts, ", "))
}

// Missing checks the fault kinds spec uses (its faults, or its timeline's
// steps) against the capabilities a backend has, and returns an
// *UnsupportedError naming those it cannot do, or nil.
func Missing(spec Spec, backend string, have []Capability) error {
	var used []string
	used = append(used, spec.Faults...)
	for _, st := range spec.Schedule.Timeline {
		used = append(used, st.Fault)
	}
	var missing map[string]Capability
	for _, name := range used {
		for _, c := range Needs(name) {
			if !slices.Contains(have, c) {
				if missing == nil {
					missing = map[string]Capability{}
				}
				missing[name] = c
				break
			}
		}
	}
	if missing == nil {
		return nil
	}
	return &UnsupportedError{Backend: backend, Faults: missing}
}
