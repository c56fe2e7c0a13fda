// Package converge compares the replicas of a cluster after a run: every
// node's own copy of the workload's data, read through that node, must be
// identical. A replica that applied an entry twice, skipped one, or kept a
// write the others lost holds different rows; the histories' checkers can
// miss that when no client read happened to show it.
//
// The package only compares: the backends read each node's copy (the docker
// backend by moving leadership to the node and querying through it, the
// simulator from each node's applied state) and render rows with Row, so
// both give the same text for the same data.
package converge

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/dqtest/dqtest/checker"
)

// CheckerName is the Result.Checker of Compare.
const CheckerName = "convergence"

// KindDiverged is the anomaly kind of replicas whose data differ.
const KindDiverged = "replicas-diverged"

// maxListed bounds the rows one anomaly lists; its counts are always whole.
const maxListed = 20

// State is one node's own copy of the workload's data, read through that node.
type State struct {
	Node string `json:"node"`
	// Tables maps a table name to its rows, each row rendered canonically
	// (columns in order, values JSON-encoded, see Row), sorted.
	Tables map[string][]string `json:"tables,omitempty"`
	// Err is why the node could not be read (then Tables is nil).
	Err string `json:"error,omitempty"`
	// Skip says why the node holds no replica to compare: it is not a
	// voter in the cluster's configuration (removed, a spare, or never
	// joined). Compare leaves it out and names it in its stats.
	Skip string `json:"skip,omitempty"`
}

// Row renders one row canonically: {"col":value,...} with the columns in
// the given order and each value JSON-encoded. Integers and floats with an
// integral value render alike (5), so a row read from SQL and the same row
// built in a model compare equal. A value JSON cannot encode renders as its
// Go syntax in a string, never an error: the row still compares by content.
func Row(columns []string, values []any) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, col := range columns {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(col)
		b.Write(k)
		b.WriteByte(':')
		var v any
		if i < len(values) {
			v = values[i]
		}
		enc, err := json.Marshal(v)
		if err != nil {
			enc, _ = json.Marshal(fmt.Sprintf("%#v", v))
		}
		b.Write(enc)
	}
	b.WriteByte('}')
	return b.String()
}

// Compare returns the convergence verdict of the nodes' states:
//   - valid when every node's state is identical (same tables, same rows,
//     duplicates counted);
//   - invalid, one anomaly of kind "replicas-diverged" per node group that
//     differs from the largest group of identical nodes, per table, naming
//     the nodes and listing the rows only on each side (at most 20 listed,
//     counts whole). Readable nodes that differ are invalid even when
//     another node could not be read: the divergence is a fact either way;
//   - unknown, with the reason, when a node could not be read (and the
//     readable ones agree), or when fewer than 2 states were given
//     ("nothing to compare").
func Compare(states []State) checker.Result {
	res := checker.Result{Checker: CheckerName, Stats: map[string]any{"nodes": len(states)}}
	var replicas []State
	var skipped []string
	for _, s := range states {
		if s.Skip != "" {
			skipped = append(skipped, s.Node+": "+s.Skip)
			continue
		}
		replicas = append(replicas, s)
	}
	if len(skipped) > 0 {
		res.Stats["not_compared"] = skipped
	}
	states = replicas
	if len(states) < 2 {
		res.Verdict = checker.Unknown
		res.Reason = fmt.Sprintf("nothing to compare: %d node state(s), need at least 2", len(states))
		return res
	}
	var unreadable []string
	var groups []*group
	rows := map[string]int{}
	for _, s := range states {
		if s.Err != "" || s.Tables == nil {
			why := s.Err
			if why == "" {
				why = "no tables read"
			}
			unreadable = append(unreadable, fmt.Sprintf("%s: %s", s.Node, why))
			continue
		}
		n := 0
		for _, r := range s.Tables {
			n += len(r)
		}
		rows[s.Node] = n
		key := fingerprint(s.Tables)
		i := slices.IndexFunc(groups, func(g *group) bool { return g.key == key })
		if i < 0 {
			groups = append(groups, &group{key: key, tables: s.Tables})
			i = len(groups) - 1
		}
		groups[i].nodes = append(groups[i].nodes, s.Node)
	}
	res.Stats["rows"] = rows
	if len(unreadable) > 0 {
		res.Stats["unreadable"] = unreadable
	}
	if len(groups) > 1 {
		// The reference is the largest group (the first such on a tie):
		// the anomalies then name the odd ones out.
		ref := groups[0]
		for _, g := range groups[1:] {
			if len(g.nodes) > len(ref.nodes) {
				ref = g
			}
		}
		for _, g := range groups {
			if g != ref {
				res.Anomalies = append(res.Anomalies, diff(ref, g)...)
			}
		}
		res.Verdict = checker.Invalid
		res.Stats["groups"] = len(groups)
		return res
	}
	if len(unreadable) > 0 {
		res.Verdict = checker.Unknown
		res.Reason = "could not read every node's own copy: " + strings.Join(unreadable, "; ")
		if len(groups) == 1 && len(groups[0].nodes) < 2 {
			res.Reason += " (nothing left to compare)"
		}
		return res
	}
	res.Verdict = checker.Valid
	return res
}

// group is the nodes whose states are identical.
type group struct {
	key    string
	tables map[string][]string
	nodes  []string
}

// fingerprint is a state's identity: its tables in name order with their
// rows in sorted order (a caller's unsorted rows compare by content).
func fingerprint(tables map[string][]string) string {
	names := make([]string, 0, len(tables))
	for t := range tables {
		names = append(names, t)
	}
	slices.Sort(names)
	var b strings.Builder
	for _, t := range names {
		r := slices.Clone(tables[t])
		slices.Sort(r)
		fmt.Fprintf(&b, "%q %d\n", t, len(r))
		for _, row := range r {
			b.WriteString(row)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// diff is the anomalies between the reference group and g, one per table
// whose rows differ.
func diff(ref, g *group) []checker.Anomaly {
	names := map[string]bool{}
	for t := range ref.tables {
		names[t] = true
	}
	for t := range g.tables {
		names[t] = true
	}
	sorted := make([]string, 0, len(names))
	for t := range names {
		sorted = append(sorted, t)
	}
	slices.Sort(sorted)
	a, b := strings.Join(ref.nodes, ","), strings.Join(g.nodes, ",")
	var out []checker.Anomaly
	for _, t := range sorted {
		ra, okA := ref.tables[t]
		rb, okB := g.tables[t]
		onlyA, onlyB := multisetDiff(ra, rb)
		if okA == okB && len(onlyA) == 0 && len(onlyB) == 0 {
			continue
		}
		var e strings.Builder
		fmt.Fprintf(&e, "the replicas differ in table %s: %s (%d rows) and %s (%d rows) hold different data", t, nodesPhrase(ref.nodes), len(ra), nodesPhrase(g.nodes), len(rb))
		if !okA {
			fmt.Fprintf(&e, "; the table is missing on %s", a)
		}
		if !okB {
			fmt.Fprintf(&e, "; the table is missing on %s", b)
		}
		fmt.Fprintf(&e, "; %d row(s) only on %s, %d row(s) only on %s", len(onlyA), a, len(onlyB), b)
		listed := 0
		list := func(side string, rows []string) {
			for _, r := range rows {
				if listed == maxListed {
					return
				}
				fmt.Fprintf(&e, "\n  only on %s: %s", side, r)
				listed++
			}
		}
		list(a, onlyA)
		list(b, onlyB)
		if n := len(onlyA) + len(onlyB); n > listed {
			fmt.Fprintf(&e, "\n  (%d more differing row(s) not listed)", n-listed)
		}
		out = append(out, checker.Anomaly{Kind: KindDiverged, Explanation: e.String(), Key: t})
	}
	return out
}

func nodesPhrase(nodes []string) string {
	if len(nodes) == 1 {
		return "node " + nodes[0]
	}
	return "nodes " + strings.Join(nodes, ",")
}

// multisetDiff returns the rows of a not matched in b and of b not matched
// in a, counting duplicates: a row twice on one side and once on the other
// is one row only on the first.
func multisetDiff(a, b []string) (onlyA, onlyB []string) {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] == b[j]:
			i++
			j++
		case a[i] < b[j]:
			onlyA = append(onlyA, a[i])
			i++
		default:
			onlyB = append(onlyB, b[j])
			j++
		}
	}
	return append(onlyA, a[i:]...), append(onlyB, b[j:]...)
}
