package history

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// sameAsReference reads data with the reference decoder, ReadAll, and
// ReadFile at several chunk sizes, and requires identical events, torn
// line and error from all of them. It returns the reference's events.
func sameAsReference(t *testing.T, name string, data []byte) []Event {
	t.Helper()
	want, wantTorn, wantErr := refReadAll(bytes.NewReader(data))
	check := func(how string, got []Event, torn int, err error) {
		t.Helper()
		if wantErr != nil {
			require.Error(t, err, "%s %s", name, how)
			require.Equal(t, wantErr.Error(), err.Error(), "%s %s", name, how)
		} else {
			require.NoError(t, err, "%s %s", name, how)
		}
		require.Equal(t, wantTorn, torn, "%s %s: torn line", name, how)
		require.Equal(t, len(want), len(got), "%s %s: events", name, how)
		for i := range want {
			require.Equal(t, want[i], got[i], "%s %s: line %d", name, how, i+1)
		}
	}
	got, torn, err := ReadAll(bytes.NewReader(data))
	check("ReadAll", got, torn, err)
	got, torn, err = scanAll(t, bytes.NewReader(data), -1)
	check("scanStream", got, torn, err)
	for _, size := range []int{1, 7, 64, 4096, chunkSize} {
		got, torn, err := scanAll(t, bytes.NewReader(data), size)
		check(fmt.Sprintf("scan(%d)", size), got, torn, err)
	}
	for _, size := range []int{1, 7, 64, 4096, chunkSize} {
		got, torn, err := readFile(bytes.NewReader(data), size)
		if wantErr != nil {
			// ReadFile returns no events on error; ReadAll those before it.
			require.Error(t, err, "%s readFile(%d)", name, size)
			require.Equal(t, wantErr.Error(), err.Error(), "%s readFile(%d)", name, size)
			continue
		}
		check(fmt.Sprintf("readFile(%d)", size), got, torn, err)
	}
	return want
}

func TestDecoderMatchesTheReferenceOnEveryTestdataHistory(t *testing.T) {
	var files []string
	err := filepath.WalkDir("../checker/testdata", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".jsonl") {
			files = append(files, path)
		}
		return err
	})
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 3, "the register histories from porcupine and the append histories")
	sawEtcd, total := false, 0
	for _, path := range files {
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		events := sameAsReference(t, path, data)
		total += len(events)
		sawEtcd = sawEtcd || strings.Contains(path, "jepsen_etcd")
		// And through the real ReadFile.
		got, _, err := ReadFile(path)
		require.NoError(t, err)
		require.Equal(t, events, got, path)
	}
	require.True(t, sawEtcd, "porcupine's etcd histories are among them")
	require.Greater(t, total, 500)
}

// values are the shapes a value can take, the awkward ones included.
var values = []any{
	nil, true, false, 0, 1, -1, 255, 256, 1 << 40, int64(-1 << 63), int64(1<<63 - 1), uint64(1 << 63), uint64(1<<64 - 1),
	999999999999999999, 1000000000000000000, -999999999999999999, -1000000000000000000,
	0.5, -0.25, 1.5e300, 1e21, 1e20, 123456789012345678901234567890.0, 2.0,
	"", "k1", "append", "héllo wörld", "日本語", "emoji 😀", "quote \" and backslash \\", "tab\tnewline\n", "\u0000\u001f", "<html>&amp;",
	[]any{}, []any{nil}, []any{nil, 7}, []any{3, 4}, []any{"append", "k3", 7}, []any{[]any{"r", "k1", []any{1, 2, 3}}, []any{"append", "k2", 9}},
	[]any{[]any{"r", "k1", nil}, []any{"w", "k2", 1.5}}, map[string]any{}, map[string]any{"a": 1, "b": []any{true, nil}, "ü": "x"},
	map[string]any{"n1": []any{"n2", "n3"}}, []any{map[string]any{"deep": []any{[]any{[]any{[]any{1}}}}}},
}

func randomEvent(rng *rand.Rand, i int) Event {
	e := Event{Time: int64(i) * 1000, Process: Process(rng.Intn(70)), F: []string{"read", "write", "cas", "txn", "add", "transfer"}[rng.Intn(6)]}
	e.Type = []Type{Invoke, OK, Fail, Info}[rng.Intn(4)]
	if rng.Intn(10) == 0 {
		e.Process = Nemesis
		e.F = "start-partition"
		e.Nodes = []string{"n1", "n2", "n3"}[:rng.Intn(4)]
	}
	if rng.Intn(4) != 0 {
		e.Key = fmt.Sprintf("k%d", rng.Intn(50))
	}
	if rng.Intn(3) != 0 {
		e.Node = fmt.Sprintf("n%d", 1+rng.Intn(3))
	}
	if rng.Intn(5) == 0 {
		e.Error = []string{"timeout", `sqlite: "busy"`, "unicode ☃", "line\nbreak"}[rng.Intn(4)]
	}
	e.Value = values[rng.Intn(len(values))]
	return e
}

// writeHistory writes events as dqtest's Writer does.
func writeHistory(t *testing.T, events []Event) []byte {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for _, e := range events {
		_, err := w.Write(e)
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())
	return buf.Bytes()
}

func TestDecoderMatchesTheReferenceOnGeneratedHistories(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for round := range 20 {
		events := make([]Event, 300)
		for i := range events {
			events[i] = randomEvent(rng, i)
		}
		data := writeHistory(t, events)
		got := sameAsReference(t, fmt.Sprintf("round %d", round), data)
		require.Len(t, got, len(events))
		for i := range events {
			require.Equal(t, Normalize(events[i].Value), got[i].Value, "round %d line %d", round, i+1)
		}
	}
	// Every value on its own, so a failure names it.
	for _, v := range values {
		data := writeHistory(t, []Event{{Type: OK, F: "x", Value: v}})
		got := sameAsReference(t, fmt.Sprintf("value %#v", v), data)
		require.Equal(t, Normalize(v), got[0].Value, "value %#v", v)
	}
}

// TestDecoderMatchesTheReferenceOnLinesDqtestDoesNotWrite covers valid JSON
// in shapes the Writer never produces: other field orders, whitespace,
// escapes, unknown and case-variant fields, repeated fields, nulls, CRLF.
func TestDecoderMatchesTheReferenceOnLinesDqtestDoesNotWrite(t *testing.T) {
	lines := []string{
		`{"index":0,"time":1,"process":0,"type":"invoke","f":"read"}`,
		`{"f":"read","type":"invoke","process":0,"time":1,"index":0,"value":null}`,
		` { "index" : 0 , "time" : 1 , "process" : 0 , "type" : "invoke" , "f" : "read" , "value" : [ 1 , 2 ] } `,
		"{\t\"index\":0,\"time\":1,\"process\":0,\"type\":\"invoke\",\"f\":\"read\"}\r",
		`{"index":0,"time":1,"process":0,"type":"invoke","f":"r\u0065ad","key":"\u00e9\ud83d\ude00","value":"a\"b\\c\/d\n"}`,
		`{"index":0,"time":1,"process":0,"type":"invoke","f":"read","value":"\ud800"}`,
		`{"index":0,"time":1,"process":0,"type":"invoke","f":"read","future":{"x":[1,{"y":null}]},"more":"s"}`,
		`{"Index":5,"time":1,"process":0,"type":"invoke","f":"read"}`,
		`{"index":0,"TIME":1,"time":2,"process":0,"type":"invoke","f":"read"}`,
		`{"index":0,"time":1,"process":0,"type":"invoke","f":"read","KEY":"k1"}`,
		`{"index":0,"time":1,"process":0,"type":"invoke","f":"read","ſ":"long s"}`,
		`{"index":0,"time":1,"process":0,"type":"invoke","f":"read","\u212aey":"kelvin"}`,
		`{"index":0,"time":1,"process":0,"type":"invoke","f":"read","f":"write"}`,
		`{"index":0,"time":1,"process":0,"type":"invoke","f":"read","value":1,"value":2}`,
		`{"index":0,"time":1,"process":0,"type":"invoke","f":"read","key":null,"node":null,"error":null,"nodes":null}`,
		`{"index":0,"time":1,"process":0,"type":"invoke","f":"read","nodes":[]}`,
		`{"index":0,"time":1,"process":0,"type":"invoke","f":"read","nodes":["n1",null]}`,
		`{"index":0,"time":1,"process":"nemesis","type":"info","f":"kill","nodes":["n1","n2"]}`,
		`{"index":-0,"time":-5,"process":0,"type":"invoke","f":"read"}`,
		`{"index":9223372036854775807,"time":-9223372036854775808,"process":9223372036854775807,"type":"invoke","f":"read"}`,
		`{"index":0,"time":1,"process":0,"type":"invoke","f":"read","value":{"a":1,"a":2}}`,
		`{"index":0,"time":1,"process":0,"type":"invoke","f":"read","value":[1e2,1E-2,-0.0,0e0,1.0,100000000000000000000000,1e400,-1e400]}`,
		`{"index":0,"time":1,"process":0,"type":"invoke","f":"read","value":18446744073709551615}`,
		`{"index":0,"time":1,"process":0,"type":"invoke","f":"read","value":-9223372036854775809}`,
		"{\"index\":0,\"time\":1,\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"value\":\"\xff\xfe\"}",
		"{\"index\":0,\"time\":1,\"process\":0,\"type\":\"invoke\",\"f\":\"r\xc3\xa9ad\",\"key\":\"caf\xc3\xa9\"}",
		`{"index":0,"time":1,"process":0,"type":"invoke","f":"read","value":` + strings.Repeat("[", 2000) + strings.Repeat("]", 2000) + `}`,
		`{"index":0,"time":1,"process":0,"type":"invoke","f":"read","value":"` + strings.Repeat("long ", 40000) + `"}`,
	}
	data := []byte(strings.Join(lines, "\n") + "\n")
	sameAsReference(t, "odd lines", data)
	for i, l := range lines {
		sameAsReference(t, fmt.Sprintf("line %d", i+1), []byte(l+"\n"))
		sameAsReference(t, fmt.Sprintf("line %d unterminated", i+1), []byte(l))
	}
}

// TestDecoderKeepsEveryErrorMessage holds malformed lines, in the middle of
// a history and as its last line (terminated or not: torn), to the
// reference's exact error.
func TestDecoderKeepsEveryErrorMessage(t *testing.T) {
	good := `{"index":0,"time":1,"process":0,"type":"invoke","f":"read","value":null}`
	bad := []string{
		`{"index":1,`, `{"index":1,"time":1,"process":0,"type":"ok","f":"read"`, `[1,2]`, `"event"`, `null`, `{}`, `{"index":1} {}`,
		`{"index":1,"time":1,"type":"ok","f":"read"}`, `{"index":1,"time":1,"process":0,"f":"read"}`,
		`{"index":1,"time":1,"process":0,"type":"ok"}`, `{"index":1,"time":1,"process":0,"type":"ok","f":""}`,
		`{"time":1,"process":0,"type":"ok","f":"read"}`, `{"index":1,"process":0,"type":"ok","f":"read"}`,
		`{"index":1,"time":1,"process":0,"type":"done","f":"read"}`, `{"index":1,"time":1,"process":"alice","type":"ok","f":"read"}`,
		`{"index":1,"time":1,"process":-1,"type":"ok","f":"read"}`, `{"index":1,"time":1,"process":1.5,"type":"ok","f":"read"}`,
		`{"index":1,"time":1,"process":99999999999999999999,"type":"ok","f":"read"}`,
		`{"index":1,"time":1,"process":0,"type":"ok","f":"read"} {}`, `{"index":1,"time":1,"process":0,"type":"ok","f":"read"}x`,
		``, `   `, "\t", `{"index":1.5,"time":1,"process":0,"type":"ok","f":"read"}`, `{"index":"1","time":1,"process":0,"type":"ok","f":"read"}`,
		`{"index":1,"time":1e3,"process":0,"type":"ok","f":"read"}`, `{"index":99999999999999999999,"time":1,"process":0,"type":"ok","f":"read"}`,
		`{"index":1,"time":1,"process":0,"type":"ok","f":"read","value":[1,]}`, `{"index":1,"time":1,"process":0,"type":"ok","f":"read","value":01}`,
		`{"index":1,"time":1,"process":0,"type":"ok","f":"read","value":nul}`, `{"index":1,"time":1,"process":0,"type":"ok","f":"read","value":"a` + "\x01" + `"}`,
		`{"index":1,"time":1,"process":0,"type":"ok","f":"read","value":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`,
		`{"index":1,"time":1,"process":0,"type":"ok","f":5}`, `{"index":1,"time":1,"process":0,"type":["ok"],"f":"read"}`,
		`{"index":1,"time":1,"process":0,"type":"ok","f":"read","nodes":"n1"}`, `{"index":1,"time":1,"process":0,"type":"ok","f":"read","key":1}`,
		`{"index":null,"time":1,"process":0,"type":"ok","f":"read"}`, `{"index":1,"time":1,"process":null,"type":"ok","f":"read"}`,
		`{"index":1,"time":1,"process":0,"type":null,"f":"read"}`, `{"index":1,"time":1,"process":0,"type":"ok","f":null}`,
		`{'index':1}`, `{index:1}`, `{"index":1,"time":1,"process":0,"type":"ok","f":"read",}`, `{"index":1 "time":1}`,
		`{"index":1,"time":1,"process":"nemesis ","type":"ok","f":"read"}`, `{"index":+1,"time":1,"process":0,"type":"ok","f":"read"}`,
	}
	for i, l := range bad {
		for _, where := range []string{"middle", "last", "last unterminated"} {
			var data string
			switch where {
			case "middle":
				data = good + "\n" + l + "\n" + good + "\n"
			case "last":
				data = good + "\n" + l + "\n"
			default:
				data = good + "\n" + l
			}
			sameAsReference(t, fmt.Sprintf("bad %d (%.40q) %s", i, l, where), []byte(data))
		}
		// The existing contract: a malformed line in the middle is an error
		// that names it.
		_, _, err := ReadAll(strings.NewReader(good + "\n" + l + "\n" + good + "\n"))
		var le *LineError
		require.ErrorAs(t, err, &le, "bad %d", i)
		require.Equal(t, 2, le.Line)
	}
}

func TestDecoderTreatsEveryCutOfTheLastLineAsTheReferenceDoes(t *testing.T) {
	events := []Event{
		{Process: 0, Type: Invoke, F: "cas", Key: "k1", Value: []any{nil, 7}, Node: "n1"},
		{Process: 0, Type: Info, F: "cas", Key: "k1", Value: []any{nil, 7}, Node: "n1", Error: `a "timeout" ☃`},
		{Process: Nemesis, Type: Info, F: "start-kill", Nodes: []string{"n1", "n2"}, Value: map[string]any{"n1": []any{1.5, "x"}}},
	}
	full := writeHistory(t, events)
	for cut := 0; cut <= len(full); cut++ {
		sameAsReference(t, fmt.Sprintf("cut %d", cut), full[:cut])
	}
}

func TestReadFileChunksKeepLineNumbersAcrossChunks(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	events := make([]Event, 2000)
	for i := range events {
		events[i] = randomEvent(rng, i)
	}
	data := writeHistory(t, events)
	lines := bytes.SplitAfter(data, []byte("\n"))
	// A malformed line deep in the file, in a later chunk.
	lines[1500] = []byte(`{"index":1500,"time":1,"process":0,"type":"ok"}` + "\n")
	// An earlier one too: the first must win whatever chunk ends first.
	lines[700] = []byte("{\n")
	bad := bytes.Join(lines, nil)
	for _, size := range []int{64, 4096, 1 << 16} {
		_, _, err := readFile(bytes.NewReader(bad), size)
		require.EqualError(t, err, "line 701: not a JSON event: unexpected EOF", "chunk size %d", size)
	}
	path := filepath.Join(t.TempDir(), "history.jsonl")
	require.NoError(t, os.WriteFile(path, bad, 0o644))
	_, _, err := ReadFile(path)
	require.EqualError(t, err, path+": line 701: not a JSON event: unexpected EOF")
}

func TestReadFileOfAnEmptyOrBlankFile(t *testing.T) {
	for _, data := range []string{"", "\n", "\n\n"} {
		sameAsReference(t, fmt.Sprintf("%q", data), []byte(data))
	}
}

func TestDecoderInternsRepeatedStrings(t *testing.T) {
	data := writeHistory(t, []Event{
		{Type: Invoke, F: "read", Key: "k1", Node: "n1"},
		{Type: OK, F: "read", Key: "k1", Node: "n1", Value: []any{"k1"}},
	})
	events, _, err := ReadAll(bytes.NewReader(data))
	require.NoError(t, err)
	same := func(a, b string) bool { return a != "" && a == b && unsafeData(a) == unsafeData(b) }
	require.True(t, same(events[0].F, events[1].F))
	require.True(t, same(events[0].Key, events[1].Key))
	require.True(t, same(events[0].Node, events[1].Node))
	require.True(t, same(events[0].Key, events[1].Value.([]any)[0].(string)))
}

// FuzzDecoderAgainstTheReference holds the decoder to the reference on
// arbitrary lines (go test -fuzz FuzzDecoderAgainstTheReference ./history/).
func FuzzDecoderAgainstTheReference(f *testing.F) {
	f.Add([]byte(`{"index":0,"time":1,"process":0,"type":"invoke","f":"read","key":"k1","value":null,"node":"n1"}`))
	f.Add([]byte(`{"index":2,"time":1000,"process":27,"type":"invoke","f":"cas","key":"k384","value":[null,2],"node":"n1"}`))
	f.Add([]byte(`{"index":0,"time":1,"process":"nemesis","type":"info","f":"start-kill","nodes":["n1"],"value":{"n1":["n2"]}}`))
	f.Add([]byte(`{"index":0,"time":1,"process":0,"type":"ok","f":"txn","value":[["append","k3",7],["r","k1",[1,2]]],"error":"x"}`))
	f.Add([]byte(`{"index":0,"time":1,"process":0,"type":"ok","f":"x","value":[1.5,1e400,-0,"\u00e9",true,{}]}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		want, wantErr := refParseEvent(line)
		var got Event
		err := newDecoder().parse(line, &got)
		if wantErr != nil {
			if err == nil || err.Error() != wantErr.Error() {
				t.Fatalf("line %q: error %v, want %v", line, err, wantErr)
			}
			return
		}
		if err != nil {
			t.Fatalf("line %q: error %v, want none", line, err)
		}
		require.Equal(t, want, got, "line %q", line)
		// And the value's normal form is a fixed point of Normalize.
		b, err := json.Marshal(got.Value)
		if err == nil {
			v, err := decodeValue(b)
			require.NoError(t, err)
			require.Equal(t, v, Normalize(got.Value))
		}
	})
}

func unsafeData(s string) *byte { return unsafe.StringData(s) }

func TestReadFileStreamsWhatIsNotARegularFile(t *testing.T) {
	data := writeHistory(t, []Event{{Type: Invoke, F: "read", Key: "k1"}, {Type: OK, F: "read", Key: "k1", Value: 3}})
	r, w, err := os.Pipe()
	require.NoError(t, err)
	go func() {
		_, _ = w.Write(data)
		_ = w.Close()
	}()
	defer r.Close()
	events, torn, err := ReadFile(fmt.Sprintf("/dev/fd/%d", r.Fd()))
	require.NoError(t, err)
	require.Zero(t, torn)
	require.Len(t, events, 2)
	require.Equal(t, int64(3), events[1].Value)

	_, _, err = ReadFile(t.TempDir())
	require.ErrorContains(t, err, "is a directory", "a directory is named as such")
}

// scanAll collects what scan (size > 0) or scanStream (size < 0) hands
// over, checking that batches come in order with their first line.
func scanAll(t *testing.T, r *bytes.Reader, size int) ([]Event, int, error) {
	t.Helper()
	var all []Event
	fn := func(batch []Event, first int) error {
		require.Equal(t, len(all)+1, first, "batches in order")
		require.NotEmpty(t, batch)
		all = append(all, batch...)
		return nil
	}
	var n, torn int
	var err error
	if size < 0 {
		n, torn, err = scanStream(r, fn)
	} else {
		n, torn, err = scan(r, size, fn)
	}
	require.Equal(t, len(all), n, "the count is what fn saw")
	return all, torn, err
}

func TestScanFileHandsOverEveryEventInOrderAndStopsOnTheCallbacksError(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	events := make([]Event, 20000)
	for i := range events {
		events[i] = randomEvent(rng, i)
	}
	data := writeHistory(t, events)
	path := filepath.Join(t.TempDir(), "history.jsonl")
	require.NoError(t, os.WriteFile(path, data, 0o644))

	want, _, err := ReadFile(path)
	require.NoError(t, err)
	var got []Event
	batches := 0
	n, torn, err := ScanFile(path, func(batch []Event, first int) error {
		require.Equal(t, len(got)+1, first)
		got = append(got, batch...)
		batches++
		return nil
	})
	require.NoError(t, err)
	require.Zero(t, torn)
	require.Equal(t, len(want), n)
	require.Equal(t, want, got)
	require.Equal(t, 1, batches, "a 2 MB file is one chunk")

	// Small chunks: many batches, and an error from fn stops the scan
	// (no goroutine left blocked: the test would hang or leak).
	stop := errors.New("enough")
	seen := 0
	n, _, err = scan(bytes.NewReader(data), 4096, func(batch []Event, first int) error {
		seen += len(batch)
		if first > 5000 {
			return stop
		}
		return nil
	})
	require.ErrorIs(t, err, stop)
	require.Equal(t, seen, n)
	require.Less(t, n, len(events))

	_, _, err = ScanFile(path, func([]Event, int) error { return stop })
	require.Same(t, stop, err, "fn's error comes back as is")

	_, _, err = ScanFile(filepath.Join(t.TempDir(), "missing.jsonl"), func([]Event, int) error { return nil })
	require.ErrorIs(t, err, os.ErrNotExist)
}
