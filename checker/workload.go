package checker

import (
	"fmt"
	"sort"
	"strings"

	"github.com/dqtest/dqtest/history"
)

// InferWorkload names the workload that produced a history from its
// operations' f (docs/history.md): txn is append; transfer, or a read
// returning an object, is bank; add or final-read, or a read returning a
// list, is set; write or cas, or a read returning an integer, is register.
// A history showing signs of two workloads, or of none, is an error that
// says what was seen.
func InferWorkload(events []history.Event) (string, error) {
	var w WorkloadInference
	w.Observe(events)
	return w.Result()
}

// WorkloadInference is InferWorkload for a history read as a stream: it
// keeps the evidence seen, not the events. The zero value is ready to use.
type WorkloadInference struct {
	seen uint16 // bit i: evidenceKinds[i] seen
}

// evidenceKinds are the signs of a workload InferWorkload reads.
var evidenceKinds = [...]struct{ workload, evidence string }{
	{"append", "txn"}, {"bank", "transfer"}, {"set", "add"}, {"set", "final-read"},
	{"register", "write"}, {"register", "cas"},
	{"bank", "read of balances"}, {"set", "read of a list"}, {"register", "read of an integer"},
}

// Observe sees the next events.
func (w *WorkloadInference) Observe(events []history.Event) {
	for i := range events {
		e := &events[i]
		if !e.IsClient() {
			continue
		}
		switch e.F {
		case "txn":
			w.seen |= 1 << 0
		case "transfer":
			w.seen |= 1 << 1
		case "add":
			w.seen |= 1 << 2
		case "final-read":
			w.seen |= 1 << 3
		case "write":
			w.seen |= 1 << 4
		case "cas":
			w.seen |= 1 << 5
		case "read":
			if e.Type != history.OK || e.Value == nil {
				continue
			}
			switch history.Normalize(e.Value).(type) {
			case map[string]any:
				w.seen |= 1 << 6
			case []any:
				w.seen |= 1 << 7
			case int64:
				w.seen |= 1 << 8
			}
		}
	}
}

// Result names the workload of the events observed, as InferWorkload does.
func (w *WorkloadInference) Result() (string, error) {
	seen := map[string]map[string]bool{} // workload -> evidence
	for i, k := range evidenceKinds {
		if w.seen&(1<<i) == 0 {
			continue
		}
		if seen[k.workload] == nil {
			seen[k.workload] = map[string]bool{}
		}
		seen[k.workload][k.evidence] = true
	}
	var names []string
	for w := range seen {
		names = append(names, w)
	}
	sort.Strings(names)
	switch len(names) {
	case 1:
		return names[0], nil
	case 0:
		return "", fmt.Errorf("cannot tell the workload: no client operation has an f that names one (txn, transfer, add, final-read, write, cas)")
	}
	var parts []string
	for _, w := range names {
		var ev []string
		for e := range seen[w] {
			ev = append(ev, e)
		}
		sort.Strings(ev)
		parts = append(parts, fmt.Sprintf("%s (%s)", w, strings.Join(ev, ", ")))
	}
	return "", fmt.Errorf("cannot tell the workload: the history shows signs of %s; name one with --workload", strings.Join(parts, " and "))
}
