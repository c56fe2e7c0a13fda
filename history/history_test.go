package history

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func ev(index, t int64, p Process, typ Type, f string, value any) Event {
	return Event{Index: index, Time: t, Process: p, Type: typ, F: f, Value: value}
}

func TestWriterAndReaderRoundTripEveryValueShape(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	in := []Event{
		{Time: 10, Process: 0, Type: Invoke, F: "write", Key: "k1", Value: 4, Node: "n2"},
		{Time: 20, Process: 0, Type: OK, F: "write", Key: "k1", Value: 4, Node: "n2"},
		{Time: 30, Process: 1, Type: Invoke, F: "cas", Key: "k1", Value: []int{4, 5}},
		{Time: 40, Process: 1, Type: Info, F: "cas", Key: "k1", Value: []int{4, 5}, Error: "timeout"},
		{Time: 45, Process: Nemesis, Type: Info, F: "start-partition-halves", Nodes: []string{"n1", "n2"}, Value: map[string][]string{"n1": {"n3"}}},
		{Time: 50, Process: 2, Type: Invoke, F: "read", Key: "k1"},
		{Time: 60, Process: 2, Type: OK, F: "read", Key: "k1", Value: nil},
		{Time: 70, Process: 3, Type: OK, F: "read", Value: map[string]int64{"0": 10, "1": -3}},
		{Time: 80, Process: 4, Type: OK, F: "txn", Value: []any{[]any{"append", "k3", 7}, []any{"r", "k1", []int64{1, 4}}}},
		{Time: 90, Process: 5, Type: OK, F: "x", Value: 1.5},
	}
	for i, e := range in {
		got, err := w.Write(e)
		require.NoError(t, err)
		require.Equal(t, int64(i), got.Index)
	}
	require.NoError(t, w.Close())
	require.Equal(t, len(in), strings.Count(buf.String(), "\n"), "one line per event")

	out, torn, err := ReadAll(&buf)
	require.NoError(t, err)
	require.Zero(t, torn)
	require.Len(t, out, len(in))
	for i := range in {
		want := in[i]
		want.Index = int64(i)
		want.Value = Normalize(want.Value)
		require.Equal(t, want, out[i])
	}
	require.Equal(t, []any{int64(4), int64(5)}, out[2].Value)
	require.Equal(t, map[string]any{"n1": []any{"n3"}}, out[4].Value)
	require.Equal(t, 1.5, out[9].Value)
}

func TestNormalizeEqualsTheJSONRoundTrip(t *testing.T) {
	type point struct {
		X int `json:"x"`
	}
	values := []any{
		nil, 3, int8(-3), uint64(7), int64(-1 << 62), 4.0, 4.5, float32(2), 1e21, "s", true,
		[]int{1, 2}, []int64{}, []any{1, []any{2.0, "x"}}, map[string]int{"a": 1},
		map[int]string{1: "a"}, point{X: 3}, &point{X: 4}, [2]int{1, 2}, []string(nil),
	}
	for _, v := range values {
		var buf bytes.Buffer
		w := NewWriter(&buf)
		_, err := w.Write(Event{Type: OK, F: "x", Value: v})
		require.NoError(t, err)
		got, _, err := ReadAll(&buf)
		require.NoError(t, err)
		require.Equal(t, got[0].Value, Normalize(v), "value %#v", v)
	}
}

func TestNormalizeLeavesNormalValuesUncopied(t *testing.T) {
	s := []any{int64(1), []any{"x"}, map[string]any{"a": nil}}
	n := Normalize(s).([]any)
	require.Same(t, &s[0], &n[0])
	m := map[string]any{"a": []any{int64(1)}}
	m2 := Normalize(m).(map[string]any)
	m2["b"] = true
	require.Contains(t, m, "b", "the same map came back")
	changed := Normalize([]any{int64(1), 2}).([]any)
	require.Equal(t, []any{int64(1), int64(2)}, changed)
}

func TestWriterIsSafeForConcurrentUseAndKeepsTimeMonotonic(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	var wg sync.WaitGroup
	const writers, each = 8, 200
	for p := 0; p < writers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				// Times taken out of order with respect to the Writer.
				_, err := w.Write(Event{Time: int64((i * 7919 * (p + 1)) % 1000), Process: Process(p), Type: Info, F: "x"})
				require.NoError(t, err)
			}
		}()
	}
	wg.Wait()
	require.NoError(t, w.Close())
	events, _, err := ReadAll(&buf)
	require.NoError(t, err)
	require.Len(t, events, writers*each)
	for i, e := range events {
		require.Equal(t, int64(i), e.Index)
		if i > 0 {
			require.GreaterOrEqual(t, e.Time, events[i-1].Time)
		}
	}
}

func TestWriterFlushesEveryEventSoACrashLosesNothingWritten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.jsonl")
	w, err := Create(path)
	require.NoError(t, err)
	for i := 0; i < 3; i++ {
		_, err := w.Write(ev(0, int64(i), 0, Info, "x", nil))
		require.NoError(t, err)
	}
	// No Close: read what a crash right now would leave behind.
	events, torn, err := ReadFile(path)
	require.NoError(t, err)
	require.Zero(t, torn)
	require.Len(t, events, 3)
	require.NoError(t, w.Close())
	require.NoError(t, w.Close(), "Close is idempotent")
	_, err = w.Write(ev(0, 9, 0, Info, "x", nil))
	require.Error(t, err)
}

func TestCreateRefusesToOverwriteAHistory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.jsonl")
	require.NoError(t, os.WriteFile(path, []byte("evidence\n"), 0o644))
	_, err := Create(path)
	require.ErrorIs(t, err, os.ErrExist)
}

func TestWriterRejectsAnUnencodableValueWithoutWritingAnything(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	_, err := w.Write(Event{Type: OK, F: "x", Value: make(chan int)})
	require.Error(t, err)
	got, err := w.Write(Event{Type: OK, F: "x"})
	require.NoError(t, err)
	require.Equal(t, int64(0), got.Index, "the failed event used no index")
	require.Equal(t, 1, strings.Count(buf.String(), "\n"))
}

func TestReaderDropsATornLastLineAndReportsIt(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for i := 0; i < 3; i++ {
		_, err := w.Write(ev(0, int64(i), Process(i), Invoke, "write", i))
		require.NoError(t, err)
	}
	full := buf.String()
	start := strings.LastIndex(full[:len(full)-1], "\n") + 1 // of the third line
	lineLen := len(full) - 1 - start
	for cut := 1; cut < lineLen; cut++ {
		// The writer died cut bytes into the third line.
		truncated := full[:start+cut]
		events, torn, err := ReadAll(strings.NewReader(truncated))
		require.NoError(t, err, "cut %d", cut)
		require.Len(t, events, 2)
		require.Equal(t, 3, torn)
	}
	events, torn, err := ReadAll(strings.NewReader(strings.TrimSuffix(full, "\n")))
	require.NoError(t, err)
	require.Len(t, events, 3, "a complete last line without newline is kept")
	require.Zero(t, torn)
}

func TestReaderNamesTheLineOfAMalformedEvent(t *testing.T) {
	good := `{"index":0,"time":1,"process":0,"type":"invoke","f":"read","value":null}`
	cases := map[string]struct {
		line string
		want string
	}{
		"not JSON":        {`{"index":1,`, "not a JSON event"},
		"missing process": {`{"index":1,"time":1,"type":"ok","f":"read"}`, `missing field "process"`},
		"missing type":    {`{"index":1,"time":1,"process":0,"f":"read"}`, `missing field "type"`},
		"missing f":       {`{"index":1,"time":1,"process":0,"type":"ok"}`, `missing field "f"`},
		"missing index":   {`{"time":1,"process":0,"type":"ok","f":"read"}`, `missing field "index"`},
		"missing time":    {`{"index":1,"process":0,"type":"ok","f":"read"}`, `missing field "time"`},
		"bad type":        {`{"index":1,"time":1,"process":0,"type":"done","f":"read"}`, "type must be"},
		"bad process":     {`{"index":1,"time":1,"process":"alice","type":"ok","f":"read"}`, "process must be"},
		"negative proc":   {`{"index":1,"time":1,"process":-1,"type":"ok","f":"read"}`, "process must be"},
		"two values":      {`{"index":1,"time":1,"process":0,"type":"ok","f":"read"} {}`, "more than one"},
		"empty line":      {``, "empty line"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, _, err := ReadAll(strings.NewReader(good + "\n" + c.line + "\n" + good + "\n"))
			var le *LineError
			require.ErrorAs(t, err, &le)
			require.Equal(t, 2, le.Line)
			require.Contains(t, err.Error(), c.want)
			require.True(t, strings.HasPrefix(err.Error(), "line 2: "), err.Error())
		})
	}
}

func TestReaderAcceptsUnknownFieldsAndTheNemesis(t *testing.T) {
	in := `{"index":0,"time":1,"process":"nemesis","type":"info","f":"start-kill","nodes":["n1"],"future":1}` + "\n"
	events, _, err := ReadAll(strings.NewReader(in))
	require.NoError(t, err)
	require.Equal(t, Nemesis, events[0].Process)
	require.False(t, events[0].IsClient())
	require.Equal(t, []string{"n1"}, events[0].Nodes)
}

func TestReaderStreamsEventsWithTheirLines(t *testing.T) {
	in := `{"index":0,"time":1,"process":0,"type":"invoke","f":"read"}` + "\n" + `{"index":1,"time":2,"process":0,"type":"ok","f":"read","value":3}` + "\n"
	r := NewReader(strings.NewReader(in))
	e, err := r.Next()
	require.NoError(t, err)
	require.Equal(t, 1, r.Line())
	require.Nil(t, e.Value)
	e, err = r.Next()
	require.NoError(t, err)
	require.Equal(t, 2, r.Line())
	require.Equal(t, int64(3), e.Value)
	_, err = r.Next()
	require.True(t, errors.Is(err, io.EOF))
}

func TestValidateAcceptsAWellFormedHistory(t *testing.T) {
	h := []Event{
		ev(0, 1, 0, Invoke, "write", 1),
		ev(1, 2, 1, Invoke, "read", nil),
		ev(2, 2, Nemesis, Info, "start-kill", nil),
		ev(3, 3, 0, OK, "write", 1),
		ev(4, 4, 1, Info, "read", nil),
		ev(5, 5, 2, Invoke, "read", nil),
		ev(6, 6, 2, Fail, "read", nil),
		ev(7, 7, 2, Invoke, "write", 2), // still open at the end: allowed
	}
	require.NoError(t, Validate(h))
	require.NoError(t, Validate(nil))
}

func TestValidateReportsTheLineThatBreaksEachRule(t *testing.T) {
	cases := map[string]struct {
		h    []Event
		line int
		want string
	}{
		"completion without invoke": {[]Event{
			ev(0, 1, 0, Invoke, "read", nil), ev(1, 2, 1, OK, "read", 3),
		}, 2, "matches no open invoke"},
		"completion of another f": {[]Event{
			ev(0, 1, 0, Invoke, "read", nil), ev(1, 2, 0, OK, "write", 3),
		}, 2, "does not match its invoke"},
		"completion of another key": {[]Event{
			{Index: 0, Time: 1, Type: Invoke, F: "read", Key: "a"}, {Index: 1, Time: 2, Type: OK, F: "read", Key: "b"},
		}, 2, "does not match its invoke"},
		"second completion": {[]Event{
			ev(0, 1, 0, Invoke, "read", nil), ev(1, 2, 0, OK, "read", 3), ev(2, 3, 0, OK, "read", 3),
		}, 3, "matches no open invoke"},
		"invoke while open": {[]Event{
			ev(0, 1, 0, Invoke, "read", nil), ev(1, 2, 0, Invoke, "write", 3),
		}, 2, "still open"},
		"operation after info": {[]Event{
			ev(0, 1, 0, Invoke, "write", 1), ev(1, 2, 0, Info, "write", 1), ev(2, 3, 0, Invoke, "read", nil),
		}, 3, "got info at line 2"},
		"time goes backwards": {[]Event{
			ev(0, 5, 0, Invoke, "read", nil), ev(1, 4, 0, OK, "read", nil),
		}, 2, "time goes backwards"},
		"negative time": {[]Event{ev(0, -1, 0, Invoke, "read", nil)}, 1, "negative time"},
		"index repeats": {[]Event{
			ev(0, 1, 0, Invoke, "read", nil), ev(0, 2, 0, OK, "read", nil),
		}, 2, "index does not increase"},
		"index goes backwards": {[]Event{
			ev(5, 1, 0, Invoke, "read", nil), ev(4, 2, 0, OK, "read", nil),
		}, 2, "index does not increase"},
		"unknown type": {[]Event{ev(0, 1, 0, "done", "read", nil)}, 1, "type must be"},
		"missing f":    {[]Event{ev(0, 1, 0, Invoke, "", nil)}, 1, "missing f"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			err := Validate(c.h)
			var le *LineError
			require.ErrorAs(t, err, &le)
			require.Equal(t, c.line, le.Line)
			require.Contains(t, err.Error(), c.want)
		})
	}
}

func TestPairMatchesCompletionsAndLeavesUnfinishedOperationsOpen(t *testing.T) {
	h := []Event{
		ev(0, 1, 0, Invoke, "write", 1),
		ev(1, 2, 1, Invoke, "read", nil),
		ev(2, 2, Nemesis, Info, "start-kill", nil),
		ev(3, 3, 1, OK, "read", 1),
		ev(4, 4, 0, Info, "write", 1),
		ev(5, 5, 1, Invoke, "write", 2),
		ev(6, 6, 7, OK, "read", 1), // stray completion: skipped
	}
	ops := Pair(h)
	require.Len(t, ops, 3)
	require.Equal(t, h[0], ops[0].Invoke)
	require.Equal(t, h[4], *ops[0].Completion)
	require.Equal(t, Info, ops[0].Outcome())
	_, bounded := ops[0].Return()
	require.False(t, bounded, "an info operation may take effect any time later")
	require.Equal(t, h[3], *ops[1].Completion)
	ret, bounded := ops[1].Return()
	require.True(t, bounded)
	require.Equal(t, int64(3), ret)
	require.Nil(t, ops[2].Completion)
	require.Equal(t, Info, ops[2].Outcome(), "an open operation's outcome is unknown")
}
