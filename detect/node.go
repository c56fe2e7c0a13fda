package detect

import "github.com/dqtest/dqtest/history"

// NodeExit is what a backend knows about a node's process.
type NodeExit struct {
	Running  bool   `json:"running"`
	ExitCode int    `json:"exit_code"`
	Signal   string `json:"signal,omitempty"` // e.g. "SIGABRT", when killed by a signal
	OOM      bool   `json:"oom,omitempty"`
	Restarts int    `json:"restarts"`
}

// NodeReport is one node's exit status and log at the end of a run.
type NodeReport struct {
	Node string
	Exit NodeExit
	Log  []byte `json:"-"`
}

// KilledNodes are the nodes the nemesis sent SIGKILL: their SIGKILL exit
// is the fault working, not a crash.
func KilledNodes(events []history.Event) map[string]bool {
	killed := map[string]bool{}
	for _, e := range events {
		if !e.IsClient() && (e.F == "start-kill" || e.F == KillHung) {
			for _, n := range e.Nodes {
				killed[n] = true
			}
		}
	}
	return killed
}

// LogTail is the last lines of a node's log that a finding keeps.
func LogTail(log []byte) []string { return lastLines(splitLines(log), crashTailLines) }

// KillHung is the nemesis event of the kill that ends a hung stop-path call
// (a stop, start or handover past its deadline): like a nemesis SIGKILL, its
// exit is the harness working, not a crash.
const KillHung = "kill-hung"
