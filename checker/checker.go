// Package checker turns a history into a verdict. Checkers are pure functions
// of a history: they never talk to a cluster and do no I/O beyond reading the
// events they are given.
package checker

import (
	"context"

	"github.com/dqtest/dqtest/history"
)

// Verdict is the outcome of a check. Exit codes follow it: valid 0, invalid 1,
// unknown 2.
type Verdict string

const (
	Valid   Verdict = "valid"
	Invalid Verdict = "invalid"
	// Unknown means the checker could not decide (time budget exhausted, or
	// the history did not contain what the checker needs). It is never a guess.
	Unknown Verdict = "unknown"
)

// Worst returns the worse of two verdicts: invalid > unknown > valid.
func Worst(a, b Verdict) Verdict {
	rank := map[Verdict]int{Valid: 0, Unknown: 1, Invalid: 2}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// Anomaly is one thing that went wrong, explained for a person.
type Anomaly struct {
	// Kind names the anomaly class, e.g. "nonlinearizable", "lost", "G1c".
	Kind string `json:"kind"`
	// Explanation is a sentence a person understands without the tool.
	Explanation string `json:"explanation"`
	// Ops are the events involved (invocations and completions).
	Ops []history.Event `json:"ops,omitempty"`
	// Key is the key involved, when there is one.
	Key string `json:"key,omitempty"`
}

// Result is what a checker says about a history.
type Result struct {
	Checker   string         `json:"checker"`
	Verdict   Verdict        `json:"verdict"`
	Anomalies []Anomaly      `json:"anomalies,omitempty"`
	Stats     map[string]any `json:"stats,omitempty"`
	// Reason says why the verdict is unknown.
	Reason string `json:"reason,omitempty"`
	// Artifacts are files the caller should write into the run directory,
	// keyed by file name (e.g. porcupine's HTML visualization).
	Artifacts map[string][]byte `json:"-"`
}

// Checker checks a history. Implementations must honour ctx: when it is done
// they return Unknown, not a guess.
type Checker interface {
	Name() string
	Check(ctx context.Context, events []history.Event) Result
}
