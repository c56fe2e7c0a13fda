package checker

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/history"
)

// loadAppendHistory reads a JSONL history from testdata/append, with values
// normalised as the history reader does (integers int64, arrays []any).
func loadAppendHistory(t testing.TB, name string) []history.Event {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "append", name+".jsonl"))
	require.NoError(t, err)
	var events []history.Event
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.UseNumber()
		var e history.Event
		require.NoError(t, dec.Decode(&e), "%s: %s", name, sc.Text())
		e.Value = normaliseNumbers(t, e.Value)
		events = append(events, e)
	}
	require.NoError(t, sc.Err())
	return events
}

func normaliseNumbers(t testing.TB, v any) any {
	switch x := v.(type) {
	case json.Number:
		n, err := x.Int64()
		require.NoError(t, err)
		return n
	case []any:
		for i := range x {
			x[i] = normaliseNumbers(t, x[i])
		}
	}
	return v
}

func anomalyKinds(r Result) []string {
	seen := map[string]bool{}
	var kinds []string
	for _, a := range r.Anomalies {
		if !seen[a.Kind] {
			seen[a.Kind] = true
			kinds = append(kinds, a.Kind)
		}
	}
	sort.Strings(kinds)
	return kinds
}

func checkAppend(t testing.TB, consistency string, events []history.Event) Result {
	t.Helper()
	return NewAppend(AppendOptions{Consistency: consistency}).Check(context.Background(), events)
}

// Every anomaly class has a minimal history in testdata/append that shows
// it and nothing else; the valid ones show nothing at all.
func TestAppendMinimalHistoriesShowExactlyTheirAnomaly(t *testing.T) {
	const strict, serial = "strict-serializable", "serializable"
	tests := []struct {
		file string
		// kinds expected under each model; none means valid.
		strict, serializable []string
	}{
		{file: "valid-serial"},
		{file: "valid-concurrent"},
		{file: "internal", strict: []string{"internal"}, serializable: []string{"internal"}},
		{file: "duplicate-elements", strict: []string{"duplicate-elements"}, serializable: []string{"duplicate-elements"}},
		{file: "incompatible-order", strict: []string{"incompatible-order"}, serializable: []string{"incompatible-order"}},
		{file: "G1a", strict: []string{"G1a"}, serializable: []string{"G1a"}},
		// T1 saw T0 half-done (G1b); T0's second append, which no read
		// shows, came after the 1 T1 read, so T1 -rw-> T0 -wr-> T1 is
		// also a G-single. Elle's own G1b case (list_append_test.clj,
		// checker-test "G1b") asserts exactly these two under
		// strict-serializable. (This expected G1b alone until the checker
		// ordered unobserved appends.)
		{file: "G1b", strict: []string{"G-single", "G1b"}, serializable: []string{"G-single", "G1b"}},
		{file: "garbage-read", strict: []string{"garbage-read"}, serializable: []string{"garbage-read"}},
		{file: "G0", strict: []string{"G0"}, serializable: []string{"G0"}},
		{file: "G1c", strict: []string{"G1c"}, serializable: []string{"G1c"}},
		{file: "G-single", strict: []string{"G-single"}, serializable: []string{"G-single"}},
		{file: "G2", strict: []string{"G2"}, serializable: []string{"G2"}},
		// T2 read T0's append and appended before it. T0 also completed
		// before T2 began, but the cycle needs no real time: it is G1c,
		// not also G0-realtime.
		{file: "G1c-also-realtime", strict: []string{"G1c"}, serializable: []string{"G1c"}},
		// An acknowledged append no later read shows: the read began
		// after it completed, so under strict serializability it must see
		// it. Serializable: the read may be ordered first.
		{file: "lost-write", strict: []string{"G-single-realtime"}},
		// 2 is lost between 1 and 3: T2's append came after 3, the last
		// element the read shows (ww T4 -> T2), though T2 completed
		// before T4 began (G0-realtime), and the read lacks it (rw),
		// though T2 completed before the read began (G-single-realtime).
		{file: "lost-write-middle", strict: []string{"G-single-realtime", "G0-realtime"}},
		// The same with an indeterminate (info) append, which may never
		// have happened: valid, also with other transactions around it.
		{file: "lost-write-info"},
		// Real-time cycles: serializable, not strict-serializable.
		{file: "G0-realtime", strict: []string{"G0-realtime"}},
		{file: "G1c-realtime", strict: []string{"G1c-realtime"}},
		{file: "G-single-realtime", strict: []string{"G-single-realtime"}},
	}
	for _, tt := range tests {
		events := loadAppendHistory(t, tt.file)
		for _, m := range []struct {
			consistency string
			kinds       []string
		}{{strict, tt.strict}, {serial, tt.serializable}} {
			t.Run(tt.file+"/"+m.consistency, func(t *testing.T) {
				r := checkAppend(t, m.consistency, events)
				require.Equal(t, "append", r.Checker)
				if len(m.kinds) == 0 {
					require.Equal(t, Valid, r.Verdict, "anomalies: %+v", r.Anomalies)
					require.Empty(t, r.Anomalies)
					return
				}
				require.Equal(t, Invalid, r.Verdict)
				require.Equal(t, m.kinds, anomalyKinds(r), "anomalies: %+v", r.Anomalies)
				for _, a := range r.Anomalies {
					require.NotEmpty(t, a.Ops, "an anomaly names its transactions")
					require.NotEmpty(t, a.Explanation)
				}
			})
		}
	}
}

// A cycle's explanation names every transaction on it and says why each
// edge exists, in terms of the values read and appended.
func TestAppendCycleExplanationShowsTransactionsAndEdges(t *testing.T) {
	tests := []struct {
		file        string
		consistency string
		want        []string
		txns        []int64 // history indexes of the invocations on the cycle
	}{
		{"G-single", "serializable", []string{
			"T0 -wr-> T1 -rw-> T0",
			"T0 appended 1 to y, and T1 read y = [1], which includes it (wr)",
			"T1 read x = [], without 1, which T0 appended next (rw)",
		}, []int64{0, 1}},
		{"G0", "serializable", []string{
			"T0 appended 1 to x, and T1 appended 2 right after it (ww)",
			"T1 appended 2 to y, and T0 appended 1 right after it (ww)",
		}, []int64{0, 1}},
		{"lost-write", "strict-serializable", []string{
			"T0 -rt-> T2 -rw-> T0",
			"T0 completed (index 1) before T2 was invoked (index 2) (rt)",
			"T2 read x = [], without 1, which T0 appended and no read shows (rw)",
		}, []int64{0, 2}},
		{"G-single-realtime", "strict-serializable", []string{
			// T0 -rt-> T4 is implied by T0 -wr-> T2 -rt-> T4: real-time
			// edges are transitively reduced.
			"T0 -wr-> T2 -rt-> T4 -rw-> T0",
			"T2 completed (index 3) before T4 was invoked (index 4) (rt)",
			"T4 read x = [], without 1, which T0 appended next (rw)",
		}, []int64{0, 2, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			r := checkAppend(t, tt.consistency, loadAppendHistory(t, tt.file))
			require.Len(t, r.Anomalies, 1)
			a := r.Anomalies[0]
			for _, w := range tt.want {
				require.Contains(t, a.Explanation, w)
			}
			var invoked []int64
			for _, e := range a.Ops {
				if e.Type == history.Invoke {
					invoked = append(invoked, e.Index)
				}
			}
			sort.Slice(invoked, func(i, j int) bool { return invoked[i] < invoked[j] })
			require.Equal(t, tt.txns, invoked)
		})
	}
}

func TestAppendNonCycleAnomaliesExplainTheRead(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{"internal", "T0 read x = [], which does not end with its own earlier appends [1]"},
		{"duplicate-elements", "T2 read x = [1 1], which holds the same appended value more than once"},
		{"incompatible-order", "neither list is a prefix of the other"},
		{"G1a", "T2 read x = [1], which contains 1, appended by T0; but T0 failed"},
		{"G1b", "T1 read x = [1], ending in 1, which T0 appended before also appending [2] to x"},
		{"garbage-read", "contains 7, a value no transaction appended to x"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			r := checkAppend(t, "strict-serializable", loadAppendHistory(t, tt.file))
			require.NotEmpty(t, r.Anomalies)
			require.Contains(t, r.Anomalies[0].Explanation, tt.want)
			require.Equal(t, "x", r.Anomalies[0].Key)
		})
	}
}

// A read after a read of the same key in one transaction must see the
// first read plus the transaction's own appends since.
func TestAppendInternalReadMustExtendEarlierRead(t *testing.T) {
	events := []history.Event{
		{Index: 0, Process: 0, Type: history.Invoke, F: "txn", Value: []any{
			[]any{"r", "x", nil}, []any{"append", "x", int64(3)}, []any{"r", "x", nil}}},
		{Index: 1, Process: 0, Type: history.OK, F: "txn", Value: []any{
			[]any{"r", "x", []any{int64(1)}}, []any{"append", "x", int64(3)}, []any{"r", "x", []any{int64(1), int64(2), int64(3)}}}},
	}
	r := checkAppend(t, "serializable", events)
	require.Equal(t, Invalid, r.Verdict)
	require.Contains(t, anomalyKinds(r), "internal")
	require.Contains(t, r.Anomalies[0].Explanation, "it should have read [1 3]")
}

// Malformed input gives Unknown with the offending history index, never a
// panic and never a verdict on what could not be read.
func TestAppendMalformedHistoryIsUnknownWithTheIndex(t *testing.T) {
	ok := func(v any) []history.Event {
		return []history.Event{
			{Index: 7, Process: 1, Type: history.Invoke, F: "txn", Value: []any{[]any{"r", "x", nil}}},
			{Index: 8, Process: 1, Type: history.OK, F: "txn", Value: v},
		}
	}
	inv := func(v any) []history.Event {
		return []history.Event{{Index: 7, Process: 1, Type: history.Invoke, F: "txn", Value: v}}
	}
	tests := []struct {
		name   string
		events []history.Event
		reason string
	}{
		{"value not a list", inv("append x 1"), "index 7"},
		{"micro-op not a triple", inv([]any{[]any{"append", "x"}}), "must be [f, key, value]"},
		{"unknown micro-op", inv([]any{[]any{"write", "x", int64(1)}}), `want "append" or "r"`},
		{"key not a string", inv([]any{[]any{"append", int64(1), int64(1)}}), "key must be a string"},
		{"appended value not an integer", inv([]any{[]any{"append", "x", "one"}}), "must be integers"},
		{"appended value fractional", inv([]any{[]any{"append", "x", 1.5}}), "must be integers"},
		{"read not a list", ok([]any{[]any{"r", "x", int64(3)}}), "index 8"},
		{"read element not an integer", ok([]any{[]any{"r", "x", []any{int64(1), nil}}}), "element 1 is not an integer"},
		{"completion differs from invocation", ok([]any{[]any{"r", "y", nil}}), "differs from the invoked one"},
		{"completion has more micro-ops", ok([]any{[]any{"r", "x", nil}, []any{"r", "x", nil}}), "has 2 micro-ops"},
		{"ok value null", ok(nil), "index 8"},
		{"completion without invocation", []history.Event{{Index: 3, Process: 2, Type: history.OK, F: "txn"}}, "no open invocation"},
		{"unknown type", append(inv([]any{}), history.Event{Index: 8, Process: 1, Type: "done", F: "txn"}), `unknown event type "done"`},
		{"second invocation while open", append(inv([]any{}), history.Event{Index: 8, Process: 1, Type: history.Invoke, F: "txn", Value: []any{}}), "still open"},
		{"value appended twice", []history.Event{
			{Index: 0, Process: 0, Type: history.Invoke, F: "txn", Value: []any{[]any{"append", "x", int64(1)}}},
			{Index: 1, Process: 1, Type: history.Invoke, F: "txn", Value: []any{[]any{"append", "x", int64(1)}}},
		}, "appended to key \"x\" twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Result
			require.NotPanics(t, func() { r = checkAppend(t, "strict-serializable", tt.events) })
			require.Equal(t, Unknown, r.Verdict)
			require.Contains(t, r.Reason, tt.reason)
		})
	}
}

func TestAppendUnknownConsistencyModelIsUnknown(t *testing.T) {
	r := NewAppend(AppendOptions{Consistency: "linearizable"}).Check(context.Background(), nil)
	require.Equal(t, Unknown, r.Verdict)
	require.Contains(t, r.Reason, `unknown consistency model "linearizable"`)
}

// Events of other workloads and of the nemesis are not transactions. The
// nemesis's are not judged; a client operation of another workload is not
// judged either, and says so: the verdict cannot be valid. (This test
// used to expect valid with the read silently ignored.)
func TestAppendIgnoresNemesisAndOtherOperations(t *testing.T) {
	nemesis := history.Event{Index: 100, Process: history.Nemesis, Type: history.Info, F: "start-partition-halves", Value: "garbage"}
	r := checkAppend(t, "strict-serializable", append(loadAppendHistory(t, "valid-serial"), nemesis))
	require.Equal(t, Valid, r.Verdict, "%s %+v", r.Reason, r.Anomalies)

	events := append(loadAppendHistory(t, "valid-serial"), nemesis,
		history.Event{Index: 101, Process: 9, Type: history.Invoke, F: "read", Key: "k1"},
	)
	r = checkAppend(t, "strict-serializable", events)
	require.Equal(t, Unknown, r.Verdict, "%+v", r.Anomalies)
	require.Equal(t, 1, r.Stats["ignored_events"])
	require.Contains(t, r.Reason, `"read" x1`)
	require.Equal(t, map[string]int{"read": 1}, r.Stats["unknown_f"])
}

// A transaction the history never completed is indeterminate: its append
// may show up in reads.
func TestAppendOpenInvocationCountsAsIndeterminate(t *testing.T) {
	events := []history.Event{
		{Index: 0, Process: 0, Type: history.Invoke, F: "txn", Value: []any{[]any{"append", "x", int64(1)}}},
		{Index: 1, Process: 1, Type: history.Invoke, F: "txn", Value: []any{[]any{"r", "x", nil}}},
		{Index: 2, Process: 1, Type: history.OK, F: "txn", Value: []any{[]any{"r", "x", []any{int64(1)}}}},
	}
	r := checkAppend(t, "strict-serializable", events)
	require.Equal(t, Valid, r.Verdict, "%+v", r.Anomalies)
	require.Equal(t, 1, r.Stats["info"])
}

func TestAppendDoneContextGivesUnknown(t *testing.T) {
	events := generateAppendHistory(appendGen{txns: 2000, seed: 1})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := NewAppend(AppendOptions{}).Check(ctx, events)
	require.Equal(t, Unknown, r.Verdict)
	require.Contains(t, r.Reason, "context canceled")

	ctx, cancel = context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	time.Sleep(time.Millisecond)
	r = NewAppend(AppendOptions{}).Check(ctx, events)
	require.Equal(t, Unknown, r.Verdict)
	require.True(t, strings.Contains(r.Reason, "deadline exceeded"), r.Reason)
}

// MaxCycles bounds the explained cycles; all are still counted.
func TestAppendMaxCyclesCapsExplanations(t *testing.T) {
	// Ten independent G1c cycles, each on its own pair of keys.
	var events []history.Event
	idx := int64(0)
	add := func(p int, typ history.Type, v []any) {
		events = append(events, history.Event{Index: idx, Time: idx, Process: history.Process(p), Type: typ, F: "txn", Value: v})
		idx++
	}
	for i := range 10 {
		x, y := "x"+string(rune('a'+i)), "y"+string(rune('a'+i))
		add(0, history.Invoke, []any{[]any{"append", x, int64(1)}, []any{"r", y, nil}})
		add(1, history.Invoke, []any{[]any{"append", y, int64(1)}, []any{"r", x, nil}})
		add(0, history.OK, []any{[]any{"append", x, int64(1)}, []any{"r", y, []any{int64(1)}}})
		add(1, history.OK, []any{[]any{"append", y, int64(1)}, []any{"r", x, []any{int64(1)}}})
	}
	r := NewAppend(AppendOptions{MaxCycles: 3}).Check(context.Background(), events)
	require.Equal(t, Invalid, r.Verdict)
	require.Len(t, r.Anomalies, 3)
	require.Equal(t, 10, r.Stats["anomaly_counts"].(map[string]int)["G1c"])
	require.Equal(t, 10, r.Stats["sccs"])
}

// FuzzAppendCheck feeds arbitrary JSONL to the checker: whatever the
// input, it returns a verdict and never panics. `go test` runs the seed
// corpus (every testdata history); `go test -fuzz FuzzAppendCheck` explores.
func FuzzAppendCheck(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "append", "*.jsonl"))
	require.NoError(f, err)
	elle, err := filepath.Glob(filepath.Join("testdata", "append", "elle", "*.jsonl"))
	require.NoError(f, err)
	for _, file := range append(files, elle...) {
		b, err := os.ReadFile(file)
		require.NoError(f, err)
		f.Add(b)
	}
	f.Add([]byte(`{"process":0,"type":"ok","f":"txn","value":[["r","x",[1,[2]]]]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var events []history.Event
		for _, line := range bytes.Split(data, []byte("\n")) {
			dec := json.NewDecoder(bytes.NewReader(line))
			dec.UseNumber()
			var e history.Event
			if dec.Decode(&e) != nil {
				continue
			}
			e.Value = fuzzNormalise(e.Value)
			events = append(events, e)
		}
		for _, c := range []string{"strict-serializable", "serializable"} {
			r := NewAppend(AppendOptions{Consistency: c}).Check(context.Background(), events)
			if r.Verdict == Unknown && r.Reason == "" {
				t.Fatal("unknown verdict without a reason")
			}
		}
	})
}

func fuzzNormalise(v any) any {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
		f, _ := x.Float64()
		return f
	case []any:
		for i := range x {
			x[i] = fuzzNormalise(x[i])
		}
	}
	return v
}

// A history built in memory (the simulator's) may carry plain ints; they
// are read as history.Normalize reads them.
func TestAppendAcceptsUnnormalisedIntegers(t *testing.T) {
	events := []history.Event{
		{Index: 0, Process: 0, Type: history.Invoke, F: "txn", Value: [][]any{{"append", "x", 1}, {"append", "x", int32(2)}}},
		{Index: 1, Process: 0, Type: history.OK, F: "txn", Value: [][]any{{"append", "x", 1}, {"append", "x", int32(2)}}},
		{Index: 2, Process: 0, Type: history.Invoke, F: "txn", Value: []any{[]any{"r", "x", nil}}},
		{Index: 3, Process: 0, Type: history.OK, F: "txn", Value: []any{[]any{"r", "x", []int{1, 2}}}},
	}
	r := checkAppend(t, "strict-serializable", events)
	require.Equal(t, Valid, r.Verdict, "%s %+v", r.Reason, r.Anomalies)
	require.Equal(t, 2, r.Stats["ok"])
}

// The anomalies Elle names that need no cycle explain themselves in terms
// of the values read and appended.
func TestAppendElleNamedAnomaliesExplainTheValues(t *testing.T) {
	tests := []struct{ file, kind, want string }{
		{"lost-update", "lost-update", "T2 and T4 both read x = [0] and then appended to x (T2 appended 1, T4 appended 2)"},
		{"checker-dirty-update-indirect", "dirty-update", "The order of x, [1 2 3], shows T0's append of 1, though T0 failed, and then T2's append of 3"},
		{"future-read", "future-read", "T0 read x = [1], which contains 1, a value T0 itself appends to x only later"},
		{"lost-update", "G2", "T2 read x = [0], without 2, which T4 appended and no read shows (rw)"},
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+tt.kind, func(t *testing.T) {
			r := checkAppend(t, Serializable, loadAppendHistory(t, filepath.Join("elle", tt.file)))
			i := slices.IndexFunc(r.Anomalies, func(a Anomaly) bool { return a.Kind == tt.kind })
			require.GreaterOrEqual(t, i, 0, "%+v", r.Anomalies)
			require.Contains(t, r.Anomalies[i].Explanation, tt.want)
			require.Equal(t, "x", r.Anomalies[i].Key)
		})
	}
}
