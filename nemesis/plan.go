package nemesis

import (
	"context"
	"time"
)

// Step is one scheduled fault action: at offset At from the start of the
// workload, start or stop one fault. Steps are computed up front from the
// scenario and the seed (Plan), so the same seed gives the same faults at the
// same offsets; targets that depend on the cluster's state (the current
// leader) are resolved when the step is applied, and recorded then.
type Step struct {
	At     time.Duration `json:"at"`
	Fault  string        `json:"fault"`  // e.g. "partition-halves", "kill"
	Action string        `json:"action"` // "start" or "stop"
	// Targets are the nodes chosen at plan time (may be empty when the
	// fault resolves them at apply time, e.g. the leader).
	Targets []string `json:"targets,omitempty"`
	// Loss is a packet start's probability of dropping a packet (Plan
	// fills it in from Spec.PacketLoss); 0 for every other step.
	Loss float64 `json:"loss,omitempty"`
}

// Record is what the nemesis reports about an applied step; the harness turns
// it into a history event with process "nemesis".
type Record struct {
	F     string   // e.g. "start-partition-halves"
	Nodes []string // the nodes affected
	Value any      // details, e.g. the grudge
	Err   error
}

// Applier applies steps to a cluster. Both backends' executors (the real-time
// harness loop and the simulator's virtual clock) call Apply for each step at
// its offset, so a fault behaves the same whichever backend runs it.
type Applier interface {
	Apply(ctx context.Context, c Cluster, s Step) Record
	// HealAll undoes every fault still in force (heal partitions, resume
	// paused nodes, restart killed or stopped ones, re-add removed members).
	HealAll(ctx context.Context, c Cluster) []Record
}
