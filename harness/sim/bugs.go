package sim

import (
	"fmt"
	"strings"
)

// A Bug is a deliberate fault in the simulated cluster, for proving that the
// scenarios and checkers catch what they claim to. The bug-free simulator
// must come out valid on every shipped scenario; each bug must be caught by
// at least one of them (dqtest sim matrix shows both).
type Bug struct {
	Name string
	// What says what the bug does, for --help and docs/simulator.md.
	What string
	// Workloads are the workloads whose histories can show the bug; crash
	// bugs show in any workload (the crash detector reads node logs).
	Workloads []string
}

const (
	BugStaleRead         = "stale-read"
	BugLostWrite         = "lost-write"
	BugNonAtomicTxn      = "non-atomic-txn"
	BugDuplicateWrite    = "duplicate-write"
	BugDirtyRead         = "dirty-read"
	BugCrashOnDoubleStop = "crash-on-double-stop"
	BugDiverge           = "diverge"
)

var bugs = []Bug{
	{BugStaleRead, "a leader answers reads from its local state without confirming its leadership, and keeps doing so after it was deposed until it hears from a newer leader", []string{"register", "append"}},
	{BugLostWrite, "a new leader truncates the last entries of earlier terms, acknowledged ones included, and makes its followers do the same", []string{"register", "set", "append"}},
	{BugNonAtomicTxn, "a transaction with several writes is committed as two log entries, so reads between them see half of it (and a leader change between them loses the other half)", []string{"bank", "append"}},
	{BugDuplicateWrite, "a node retries a forwarded write whose outcome it lost (connection cut, leadership lost), like database/sql retrying ErrBadConn, so a write that did commit is applied twice", []string{"set", "append"}},
	{BugDirtyRead, "reads ignore the write lock: they see the statements an in-flight transaction has executed and the leader's uncommitted log entries", []string{"bank", "append"}},
	{BugDiverge, "one replica (the last node) skips a committed write: it holds back each write entry that changes its data until the next one is applied, so the run's last such write never reaches its copy, while every other replica has it (and while it leads, its reads miss that write)", []string{"register", "bank", "set", "append"}},
	{BugCrashOnDoubleStop, "stopping a node that is already stopped aborts its process, as canonical/dqlite#737 does: the assertion `rv == 0' in dqlite_node_stop, then SIGABRT", nil},
}

// Bugs lists the bugs the simulator can inject.
func Bugs() []Bug { return append([]Bug(nil), bugs...) }

// BugNames lists the bugs' names.
func BugNames() []string {
	names := make([]string, len(bugs))
	for i, b := range bugs {
		names[i] = b.Name
	}
	return names
}

// checkBug reports whether name is "" (no bug) or a known bug.
func checkBug(name string) error {
	if name == "" {
		return nil
	}
	for _, b := range bugs {
		if b.Name == name {
			return nil
		}
	}
	return fmt.Errorf("unknown simulator bug %q (known: %s)", name, strings.Join(BugNames(), ", "))
}
