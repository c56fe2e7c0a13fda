package checker

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/history"
)

// elleCase is one entry of testdata/append/elle/cases.json: a list-append
// case of Elle's test suite (jepsen-io/elle, test/elle/list_append_test.clj)
// as a dqtest history, with what Elle asserts and what dqtest must say.
type elleCase struct {
	File string `json:"file"`
	// Elle names the deftest (and testing block) the history comes from.
	Elle []string `json:"elle"`
	// ElleAsserts is Elle's expectation, in Elle's words (the model or
	// anomalies it checked, then what it found).
	ElleAsserts string `json:"elle_asserts"`
	// Strict and Serializable are the anomaly kinds dqtest reports under
	// each model (none: valid).
	Strict       []string `json:"strict"`
	Serializable []string `json:"serializable"`
	// Unknown, when set, is part of the reason of an Unknown verdict under
	// both models.
	Unknown string `json:"unknown"`
	// Edges, when present, are the dependency graph's edges (ww, wr, rw;
	// or only EdgeKind's), between transactions numbered 1, 2, ... in
	// invocation order: Elle's graph tests.
	Edges    [][2]int32 `json:"edges"`
	EdgeKind string     `json:"edge_kind"`
	// Note says where and why dqtest's answer differs from Elle's.
	Note string `json:"note"`
}

func loadElleCases(t *testing.T) []elleCase {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "append", "elle", "cases.json"))
	require.NoError(t, err)
	var cases []elleCase
	require.NoError(t, json.Unmarshal(b, &cases))
	return cases
}

// Every list-append case of Elle's test suite, as a history, gives the
// anomalies Elle asserts (named as dqtest names them: Elle's G-single-item,
// G-nonadjacent-item and G2-item are G-single, G-nonadjacent and G2), or
// the differences cases.json explains.
func TestAppendElleCases(t *testing.T) {
	cases := loadElleCases(t)
	require.GreaterOrEqual(t, len(cases), 54)
	files, err := filepath.Glob(filepath.Join("testdata", "append", "elle", "*.jsonl"))
	require.NoError(t, err)
	require.Len(t, files, len(cases), "every history in testdata/append/elle has an entry in cases.json")
	for _, c := range cases {
		t.Run(c.File, func(t *testing.T) {
			require.NotEmpty(t, c.Elle)
			require.NotEmpty(t, c.ElleAsserts)
			events := loadAppendHistory(t, filepath.Join("elle", c.File))
			for _, m := range []struct {
				model string
				kinds []string
			}{{StrictSerializable, c.Strict}, {Serializable, c.Serializable}} {
				r := checkAppend(t, m.model, events)
				require.Equal(t, m.model, r.Stats["consistency"])
				if c.Unknown != "" {
					require.Equal(t, Unknown, r.Verdict, "%s: %+v", m.model, r.Anomalies)
					require.Contains(t, r.Reason, c.Unknown)
					continue
				}
				if len(m.kinds) == 0 {
					require.Equal(t, Valid, r.Verdict, "%s: %s %+v", m.model, r.Reason, r.Anomalies)
					continue
				}
				require.Equal(t, Invalid, r.Verdict, m.model)
				require.Equal(t, m.kinds, anomalyKinds(r), "%s: %+v", m.model, r.Anomalies)
				for _, a := range r.Anomalies {
					require.NotEmpty(t, a.Ops, "an anomaly names its transactions")
					require.NotEmpty(t, a.Explanation)
					require.NotContains(t, a.Explanation, "?", "every edge of a cycle is explained")
				}
			}
			if c.Edges != nil {
				require.ElementsMatch(t, c.Edges, elleEdges(t, c), "graph edges")
			}
		})
	}
}

// elleEdges returns the dependency edges (no real-time ones) of a case's
// history, numbered from 1 in invocation order.
func elleEdges(t *testing.T, c elleCase) [][2]int32 {
	events := loadAppendHistory(t, filepath.Join("elle", c.File))
	a := &appendAnalysis{opts: AppendOptions{Consistency: Serializable, MaxCycles: 10, MaxPerKind: 10}, events: events, counts: map[string]int{}}
	if err := a.run(context.Background()); err != nil || a.graph == nil {
		return [][2]int32{}
	}
	mask := depWW | depWR | depRW
	switch c.EdgeKind {
	case "ww":
		mask = depWW
	case "wr":
		mask = depWR
	case "rw":
		mask = depRW
	}
	edges := [][2]int32{}
	g := a.graph
	for v := int32(0); int(v) < g.nodes(); v++ {
		for e := g.off[v]; e < g.off[v+1]; e++ {
			if g.kind[e]&mask != 0 {
				edges = append(edges, [2]int32{v + 1, g.to[e] + 1})
			}
		}
	}
	slices.SortFunc(edges, func(x, y [2]int32) int {
		if x[0] != y[0] {
			return int(x[0] - y[0])
		}
		return int(x[1] - y[1])
	})
	return edges
}

// Elle's unfindable-g-single (list_append_test.clj): one G-single cycle, a
// ring of 1,000 transactions closed by one anti-dependency, awash in ~8,000
// transactions of noise that hang G2 cycles off it. Elle (checking snapshot
// isolation) times out in its G-single search and falls back to proving a
// cycle exists; dqtest must name the G-single. Keys are strings here (Elle
// uses :ring, :anti, integers and [:anti i]), and the one append Elle
// writes as :first is 0. The history is sequential, as Elle's; it is
// checked for serializability.
func TestAppendElleUnfindableGSingle(t *testing.T) {
	const n, noiseN = 1000, 10
	var txns [][]any
	mop := func(f string, k any, v any) []any { return []any{f, fmt.Sprint(k), v} }
	ints := func(lo, hi int) []any {
		var l []any
		for v := lo; v < hi; v++ {
			l = append(l, int64(v))
		}
		return l
	}
	for i := range n {
		var second []any
		switch i {
		case 0:
			second = mop("append", "anti", int64(0))
		case n - 1:
			second = mop("r", "anti", nil)
		default:
			second = mop("append", i, int64(0))
		}
		txns = append(txns, []any{mop("append", "ring", int64(i)), second})
	}
	txns = append(txns, []any{mop("r", "ring", ints(0, n))})
	for i := 1; i < n-1; i++ {
		for j := 1; j < noiseN; j++ {
			switch j {
			case noiseN - 2:
				txns = append(txns, []any{mop("r", i, ints(0, noiseN-2)), mop("r", fmt.Sprintf("anti-%d", i), nil)})
			case noiseN - 1:
				txns = append(txns, []any{mop("append", fmt.Sprintf("anti-%d", i), int64(0)), mop("r", "ring", nil)})
			default:
				txns = append(txns, []any{mop("append", i, int64(j))})
			}
		}
	}
	b := newHist()
	for _, ok := range txns {
		inv := make([]any, len(ok))
		for j, m := range ok {
			m := m.([]any)
			if m[0] == "r" {
				inv[j] = []any{"r", m[1], nil}
			} else {
				inv[j] = m
			}
		}
		b.op(0, history.OK, "txn", "", inv, ok)
	}
	r := checkAppend(t, Serializable, b.build())
	require.Equal(t, Invalid, r.Verdict, r.Reason)
	require.Contains(t, anomalyKinds(r), "G-single", "%v", r.Stats)
	// The searches for rarer cycles (G-nonadjacent: there is none) may
	// give up on their budget in a component this size; they say so.
	for _, a := range r.Anomalies {
		if a.Kind == "G-single" {
			require.Contains(t, a.Explanation, "read anti = [], without 0")
		}
	}
}
