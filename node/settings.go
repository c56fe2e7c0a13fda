package node

import (
	"errors"
	"fmt"
	"time"
)

// Settings are the dqlite node settings where bugs live, set on the C node
// before it starts (go-dqlite's node options). The zero value is dqlite's
// defaults. Which C dqlite supports each (the scenario's dqlite section
// refuses the others before a run):
//
//	setting              1.18.1 (go-dqlite v2)   1.18.7 (go-dqlite v3)   C call
//	snapshot threshold   yes                     yes                     dqlite_node_set_snapshot_params
//	snapshot trailing    yes                     yes                     dqlite_node_set_snapshot_params
//	network latency      yes                     yes                     dqlite_node_set_network_latency
//	failure domain       yes                     yes                     dqlite_node_set_failure_domain
//	auto-recovery off    yes                     yes                     dqlite_node_set_auto_recovery
//	disk mode            yes (experimental)      no: dropped in 1.18.3   dqlite_node_enable_disk_mode
type Settings struct {
	// SnapshotThreshold is how many raft log entries a snapshot is taken
	// after, SnapshotTrailing how many entries it keeps behind it (dqlite's
	// defaults: 1024 and 8192). Either 0 leaves both at dqlite's defaults
	// unless the other is set (then the 0 one takes dqlite's default).
	SnapshotThreshold, SnapshotTrailing uint64
	// NetworkLatency is the average one-way latency dqlite tunes its raft
	// timeouts to (heartbeat, election); 0 leaves dqlite's default.
	NetworkLatency time.Duration
	// FailureDomain is the node's failure domain code (dqlite spreads
	// voters over domains when it hands roles over); 0 leaves it unset.
	FailureDomain uint64
	// DiskMode stores the databases on disk instead of in memory
	// (experimental in 1.18.1, gone from 1.18.3 on).
	DiskMode bool
	// NoAutoRecovery turns auto-recovery off: corrupt snapshots and
	// segments fail the start instead of being deleted. dqlite's default
	// is on.
	NoAutoRecovery bool
}

// dqlite's snapshot defaults (src/server.c), used when only one of the
// two parameters is set.
const (
	defaultSnapshotThreshold = 1024
	defaultSnapshotTrailing  = 8192
)

// ErrDiskModeUnsupported is returned by New when disk mode is asked of a
// build whose dqlite dropped it.
var ErrDiskModeUnsupported = errors.New("disk mode: this dqlite dropped it (1.18.3 and later always fail dqlite_node_enable_disk_mode; go-dqlite v3 deprecates WithDiskMode)")

// check validates the settings for this build.
func (s Settings) check() error {
	if s.DiskMode && !diskModeSupported {
		return fmt.Errorf("%w; this node links dqlite %s", ErrDiskModeUnsupported, DqliteVersionString())
	}
	if s.SnapshotThreshold != 0 || s.SnapshotTrailing != 0 {
		// dqlite_node_set_snapshot_params refuses (DQLITE_MISUSE) a
		// trailing under 4 or under the threshold: it keeps the entries
		// behind the last snapshot to recover from the one before.
		th, tr := s.snapshot()
		if th < 2 {
			return fmt.Errorf("snapshot threshold %d: want at least 2", th)
		}
		if tr < 4 || tr < th {
			return fmt.Errorf("snapshot trailing %d: dqlite wants at least 4 and at least the threshold (%d)", tr, th)
		}
	}
	if s.NetworkLatency < 0 || (s.NetworkLatency > 0 && s.NetworkLatency < time.Millisecond) || s.NetworkLatency > time.Hour {
		return fmt.Errorf("network latency %s: want 0 (dqlite's default) or 1ms to 1h (dqlite takes whole milliseconds)", s.NetworkLatency)
	}
	return nil
}

// snapshot is the threshold and trailing to set, the unset one defaulted.
func (s Settings) snapshot() (threshold, trailing uint64) {
	threshold, trailing = s.SnapshotThreshold, s.SnapshotTrailing
	if threshold == 0 {
		threshold = defaultSnapshotThreshold
	}
	if trailing == 0 {
		trailing = defaultSnapshotTrailing
	}
	return threshold, trailing
}

// logAttrs are the settings that differ from dqlite's defaults, for the
// node's start-up log line.
func (s Settings) logAttrs() []any {
	var a []any
	if s.SnapshotThreshold != 0 || s.SnapshotTrailing != 0 {
		th, tr := s.snapshot()
		a = append(a, "snapshot_threshold", th, "snapshot_trailing", tr)
	}
	if s.NetworkLatency != 0 {
		a = append(a, "network_latency", s.NetworkLatency.String())
	}
	if s.FailureDomain != 0 {
		a = append(a, "failure_domain", s.FailureDomain)
	}
	if s.DiskMode {
		a = append(a, "disk_mode", true)
	}
	if s.NoAutoRecovery {
		a = append(a, "auto_recovery", false)
	}
	return a
}
