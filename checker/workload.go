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
	seen := map[string]map[string]bool{} // workload -> evidence
	note := func(workload, evidence string) {
		if seen[workload] == nil {
			seen[workload] = map[string]bool{}
		}
		seen[workload][evidence] = true
	}
	for _, e := range events {
		if !e.IsClient() {
			continue
		}
		switch e.F {
		case "txn":
			note("append", "txn")
		case "transfer":
			note("bank", "transfer")
		case "add", "final-read":
			note("set", e.F)
		case "write", "cas":
			note("register", e.F)
		case "read":
			if e.Type != history.OK || e.Value == nil {
				continue
			}
			switch history.Normalize(e.Value).(type) {
			case map[string]any:
				note("bank", "read of balances")
			case []any:
				note("set", "read of a list")
			case int64:
				note("register", "read of an integer")
			}
		}
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
