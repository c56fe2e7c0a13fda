package history

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
)

// benchHistoryFile writes a register-like history of n operations (2n
// events, 64 processes, 1000 keys; reads, writes and cas) and returns its
// path and size.
func benchHistoryFile(b *testing.B, n int) (string, int64) {
	b.Helper()
	rng := rand.New(rand.NewSource(1))
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for i := 0; i < n; i++ {
		p := Process(i % 64)
		key := fmt.Sprintf("k%d", rng.Intn(1000))
		node := fmt.Sprintf("n%d", 1+i%3)
		var f string
		var in, out any
		switch r := rng.Intn(10); {
		case r < 5:
			f, out = "read", rng.Int63n(1_000_000)
		case r < 8:
			f, in = "write", int64(i)
			out = in
		default:
			f, in = "cas", []any{rng.Int63n(1_000_000), int64(i)}
			out = in
		}
		for _, e := range []Event{
			{Time: int64(i) * 1000, Process: p, Type: Invoke, F: f, Key: key, Value: in, Node: node},
			{Time: int64(i)*1000 + 500, Process: p, Type: OK, F: f, Key: key, Value: out, Node: node},
		} {
			if _, err := w.Write(e); err != nil {
				b.Fatal(err)
			}
		}
	}
	path := filepath.Join(b.TempDir(), "history.jsonl")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	return path, int64(buf.Len())
}

// BenchmarkReadFile reads a 200,000-operation history (400,000 events)
// with ReadFile, and with the encoding/json reference it replaced.
func BenchmarkReadFile(b *testing.B) {
	path, size := benchHistoryFile(b, 200_000)
	b.Run("decoder=dqtest", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			if _, _, err := ReadFile(path); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decoder=encoding-json-reference", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			f, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			_, _, err = refReadAll(f)
			f.Close()
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}
