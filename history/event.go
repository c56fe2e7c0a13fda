// Package history defines dqtest's history format: one JSON object per line,
// in Jepsen's vocabulary (DESIGN.md, "Histories"). A history is the unit of
// evidence: everything downstream (checkers, reports) is a pure function of it.
package history

import (
	"fmt"
	"strconv"
)

// Type is the kind of an event: an invocation, or one of its three completions.
type Type string

const (
	Invoke Type = "invoke"
	// OK means the operation happened.
	OK Type = "ok"
	// Fail means the operation certainly did not happen.
	Fail Type = "fail"
	// Info means the outcome is unknown (timeout, lost connection, leadership
	// lost). The process that got it never issues another operation.
	Info Type = "info"
)

// Process identifies who performed an event: a client process number (0, 1, ...)
// or the nemesis. It is encoded as a JSON number, or the string "nemesis".
type Process int

// Nemesis is the process of fault events.
const Nemesis Process = -1

func (p Process) String() string {
	if p == Nemesis {
		return "nemesis"
	}
	return strconv.Itoa(int(p))
}

func (p Process) MarshalJSON() ([]byte, error) {
	if p == Nemesis {
		return []byte(`"nemesis"`), nil
	}
	return []byte(strconv.Itoa(int(p))), nil
}

func (p *Process) UnmarshalJSON(b []byte) error {
	if string(b) == `"nemesis"` {
		*p = Nemesis
		return nil
	}
	n, err := strconv.Atoi(string(b))
	if err != nil || n < 0 {
		return fmt.Errorf("process must be a non-negative integer or \"nemesis\", got %s", b)
	}
	*p = Process(n)
	return nil
}

// Event is one line of history.jsonl.
//
// Value depends on the operation (DESIGN.md): a register read/write carries an
// integer or null, cas carries [old, new], a transaction carries its micro-ops
// [["append","k3",7],["r","k1",null]] with reads filled in on ok. Values read
// back from JSON are normalised by Normalize: integers become int64, arrays
// []any, objects map[string]any; checkers may rely on that shape.
type Event struct {
	Index   int64   `json:"index"`
	Time    int64   `json:"time"` // nanoseconds since the run started, monotonic
	Process Process `json:"process"`
	Type    Type    `json:"type"`
	F       string  `json:"f"`
	Key     string  `json:"key,omitempty"`
	Value   any     `json:"value"`
	// Node is the node that served a client operation.
	Node string `json:"node,omitempty"`
	// Nodes are the targets of a nemesis event.
	Nodes []string `json:"nodes,omitempty"`
	// Error explains a fail or info completion.
	Error string `json:"error,omitempty"`
}

// IsClient reports whether the event belongs to a client process.
func (e Event) IsClient() bool { return e.Process != Nemesis }
