package workloads

import (
	"context"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/history"
)

// Op is an operation to invoke, as it appears in the history's invoke event.
type Op struct {
	F     string
	Key   string
	Value any
}

// Completion is the outcome of invoking an Op: its type (ok, fail or info),
// the value for the completion event (reads filled in), and why it failed.
type Completion struct {
	Type  history.Type
	Value any
	Error string
}

// Generator yields one client slot's operations. The same seed and slot give
// the same sequence. A client slot keeps its generator when its process is
// replaced after an info.
type Generator interface {
	// Next returns the next operation, or false when the slot has no more.
	Next() (Op, bool)
}

// Workload is one kind of traffic: its schema, its operations, how a client
// performs them, its final reads, and the checker its history needs.
type Workload interface {
	Name() string
	// Setup creates the schema and initial rows. It is idempotent and runs
	// once, through one node, before any client starts.
	Setup(ctx context.Context, c Client) error
	// Generator returns the operation stream of client slot `slot`.
	Generator(seed int64, slot int) Generator
	// Invoke performs op through c and maps the outcome honestly: certainly
	// not applied is fail, unknown is info.
	Invoke(ctx context.Context, c Client, op Op) Completion
	// FinalOps are the reads to run through every node after healing (e.g.
	// the set workload's read of the whole set), in order.
	FinalOps() []Op
	// Checker returns the checker for this workload's histories.
	Checker() checker.Checker
}
