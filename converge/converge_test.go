package converge

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/checker"
)

func regs(kv ...any) []string {
	var rows []string
	for i := 0; i+1 < len(kv); i += 2 {
		rows = append(rows, Row([]string{"k", "v"}, []any{kv[i], kv[i+1]}))
	}
	return rows
}

func st(node string, rows []string) State {
	return State{Node: node, Tables: map[string][]string{"registers": rows}}
}

func TestRowCanonical(t *testing.T) {
	require.Equal(t, `{"k":"k1","v":5}`, Row([]string{"k", "v"}, []any{"k1", int64(5)}))
	// An integral float (a JSON round trip) renders as the integer does.
	require.Equal(t, Row([]string{"v"}, []any{int64(7)}), Row([]string{"v"}, []any{float64(7)}))
	require.Equal(t, `{"a":null,"b":"x\"y"}`, Row([]string{"a", "b"}, []any{nil, `x"y`}))
	// Columns keep their given order.
	require.Equal(t, `{"v":1,"k":"a"}`, Row([]string{"v", "k"}, []any{1, "a"}))
	// A value JSON cannot encode still renders (no panic, no error).
	require.Contains(t, Row([]string{"c"}, []any{make(chan int)}), `"c":"`)
}

func TestCompareIdentical(t *testing.T) {
	rows := regs("k1", 1, "k2", 2)
	res := Compare([]State{st("n1", rows), st("n2", rows), st("n3", rows)})
	require.Equal(t, CheckerName, res.Checker)
	require.Equal(t, checker.Valid, res.Verdict, res.Reason)
	require.Empty(t, res.Anomalies)
	// Rows in a different order are the same data.
	res = Compare([]State{st("n1", regs("k1", 1, "k2", 2)), st("n2", regs("k2", 2, "k1", 1))})
	require.Equal(t, checker.Valid, res.Verdict)
	// Empty tables on every node converge too.
	res = Compare([]State{st("n1", nil), st("n2", []string{})})
	require.Equal(t, checker.Valid, res.Verdict)
}

func TestCompareOneDifferingRow(t *testing.T) {
	res := Compare([]State{
		st("n1", regs("k1", 1, "k2", 2)),
		st("n2", regs("k1", 1, "k2", 2)),
		st("n3", regs("k1", 1, "k2", 3)),
	})
	require.Equal(t, checker.Invalid, res.Verdict)
	require.Len(t, res.Anomalies, 1)
	a := res.Anomalies[0]
	require.Equal(t, KindDiverged, a.Kind)
	require.Equal(t, "registers", a.Key)
	// The majority is the reference; the odd node is named with its rows.
	require.Contains(t, a.Explanation, "nodes n1,n2")
	require.Contains(t, a.Explanation, "node n3")
	require.Contains(t, a.Explanation, `only on n1,n2: {"k":"k2","v":2}`)
	require.Contains(t, a.Explanation, `only on n3: {"k":"k2","v":3}`)
	require.Contains(t, a.Explanation, "1 row(s) only on n1,n2, 1 row(s) only on n3")
	require.NotContains(t, a.Explanation, `"k1"`, "rows every node has are not listed")
}

func TestCompareMissingRow(t *testing.T) {
	res := Compare([]State{
		st("n1", regs("k1", 1, "k2", 2)),
		st("n2", regs("k1", 1)),
	})
	require.Equal(t, checker.Invalid, res.Verdict)
	require.Len(t, res.Anomalies, 1)
	e := res.Anomalies[0].Explanation
	require.Contains(t, e, "1 row(s) only on n1, 0 row(s) only on n2")
	require.Contains(t, e, `only on n1: {"k":"k2","v":2}`)
	require.NotContains(t, e, "only on n2:")
}

func TestCompareDuplicatedRow(t *testing.T) {
	sets := func(node string, vs ...int) State {
		var rows []string
		for _, v := range vs {
			rows = append(rows, Row([]string{"v"}, []any{v}))
		}
		return State{Node: node, Tables: map[string][]string{"sets": rows}}
	}
	res := Compare([]State{sets("n1", 1, 2, 3), sets("n2", 1, 2, 2, 3), sets("n3", 1, 2, 3)})
	require.Equal(t, checker.Invalid, res.Verdict)
	require.Len(t, res.Anomalies, 1)
	e := res.Anomalies[0].Explanation
	require.Contains(t, e, "0 row(s) only on n1,n3, 1 row(s) only on n2")
	require.Contains(t, e, `only on n2: {"v":2}`)
}

func TestCompareMissingTableAndManyRows(t *testing.T) {
	var many []string
	for i := range 50 {
		many = append(many, Row([]string{"v"}, []any{i}))
	}
	res := Compare([]State{
		{Node: "n1", Tables: map[string][]string{"sets": many}},
		{Node: "n2", Tables: map[string][]string{}},
	})
	require.Equal(t, checker.Invalid, res.Verdict)
	require.Len(t, res.Anomalies, 1)
	e := res.Anomalies[0].Explanation
	require.Contains(t, e, "the table is missing on n2")
	require.Contains(t, e, "50 row(s) only on n1")
	require.Equal(t, maxListed, strings.Count(e, "\n  only on "), "at most 20 rows listed")
	require.Contains(t, e, "(30 more differing row(s) not listed)")
}

func TestCompareTwoTablesTwoGroups(t *testing.T) {
	s := func(node string, a, b int) State {
		return State{Node: node, Tables: map[string][]string{
			"x": {Row([]string{"v"}, []any{a})},
			"y": {Row([]string{"v"}, []any{b})},
		}}
	}
	res := Compare([]State{s("n1", 1, 1), s("n2", 1, 2), s("n3", 2, 1)})
	require.Equal(t, checker.Invalid, res.Verdict)
	// Three singleton groups: n1 is the reference; n2 differs in y, n3 in x.
	require.Len(t, res.Anomalies, 2)
	var keys []string
	for _, a := range res.Anomalies {
		keys = append(keys, a.Key+":"+fmt.Sprint(strings.Contains(a.Explanation, "node n1")))
	}
	require.ElementsMatch(t, []string{"y:true", "x:true"}, keys)
}

func TestCompareUnreadable(t *testing.T) {
	rows := regs("k1", 1)
	res := Compare([]State{st("n1", rows), {Node: "n2", Err: "not leader after 3 transfers"}, st("n3", rows)})
	require.Equal(t, checker.Unknown, res.Verdict)
	require.Contains(t, res.Reason, "n2: not leader after 3 transfers")
	require.Empty(t, res.Anomalies)
	// Readable nodes that differ are invalid whatever the unreadable one holds.
	res = Compare([]State{st("n1", rows), {Node: "n2", Err: "down"}, st("n3", regs("k1", 2))})
	require.Equal(t, checker.Invalid, res.Verdict)
	require.Len(t, res.Anomalies, 1)
	// Only one readable node: nothing to compare it with.
	res = Compare([]State{st("n1", rows), {Node: "n2", Err: "down"}})
	require.Equal(t, checker.Unknown, res.Verdict)
	require.Contains(t, res.Reason, "nothing left to compare")
	// A state with neither tables nor an error is unreadable, not empty.
	res = Compare([]State{st("n1", rows), {Node: "n2"}})
	require.Equal(t, checker.Unknown, res.Verdict)
	require.Contains(t, res.Reason, "n2: no tables read")
}

func TestCompareNothing(t *testing.T) {
	for _, states := range [][]State{nil, {}, {st("n1", regs("k", 1))}} {
		res := Compare(states)
		require.Equal(t, checker.Unknown, res.Verdict)
		require.Contains(t, res.Reason, "nothing to compare")
		require.Equal(t, CheckerName, res.Checker)
	}
}
