package checker

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/history"
)

// The register checker's stream gives one result whatever the batches it
// is fed: the whole history at once, the slices of Check, or a file's
// chunks; and it reads the explained keys' operations back from the right
// lines. The history is long (several batches and chunks) with many
// invalid keys: reads made stale by replacing their value with an older
// one of their key.
func TestRegisterStreamIsTheSameWhateverTheBatches(t *testing.T) {
	events := registerGen{Seed: 5, Ops: 60000, Keys: 40, Concurrency: 16, InfoRate: 0.02, FailRate: 0.02}.generate()
	last := map[string]int64{}
	stale := 0
	for i := range events {
		e := &events[i]
		if e.Type != history.OK || e.Key == "" {
			continue
		}
		switch e.F {
		case "write":
			v, _ := asInt(e.Value)
			if old, ok := last[e.Key]; ok && stale < 25 && i%7 == 0 {
				last[e.Key] = v
				// The next ok read of this key returns the value before.
				for j := i + 1; j < len(events); j++ {
					r := &events[j]
					if r.Key == e.Key && r.F == "read" && r.Type == history.OK {
						r.Value = old
						stale++
						break
					}
				}
				continue
			}
			last[e.Key] = v
		}
	}
	require.Greater(t, stale, 10)
	path := filepath.Join(t.TempDir(), "history.jsonl")
	w, err := history.Create(path)
	require.NoError(t, err)
	for _, e := range events {
		_, err := w.Write(e)
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())
	// The file as written (the writer sets indexes and times as given).
	fromFile, _, err := history.ReadFile(path)
	require.NoError(t, err)

	ck := NewRegister(RegisterOptions{})
	run := func(src history.Source) Result {
		s := ck.(Streamer).Stream()
		_, _, err := src(func(batch []history.Event, first int) error {
			s.Observe(batch, first)
			return nil
		})
		require.NoError(t, err)
		return s.Finish(context.Background(), src)
	}
	whole := func(fn func([]history.Event, int) error) (int, int, error) {
		return len(fromFile), 0, fn(fromFile, 1)
	}
	results := []Result{
		ck.Check(context.Background(), fromFile),
		run(whole),
		run(history.FileSource(path)),
	}
	require.Equal(t, Invalid, results[0].Verdict)
	require.Len(t, results[0].Anomalies, results[0].Stats["keys_invalid"].(int))
	require.Greater(t, results[0].Stats["keys_invalid"].(int), registerMaxExplained, "more invalid keys than are explained")
	canon := func(r Result) string {
		r.Stats["duration_ms"] = 0
		b, err := json.Marshal(r)
		require.NoError(t, err)
		return string(b) + string(r.Artifacts["linearizability.html"])
	}
	for i, r := range results[1:] {
		require.Equal(t, canon(results[0]), canon(r), "source %d", i+1)
	}
	for _, a := range results[0].Anomalies {
		if len(a.Ops) == 0 {
			continue // a key past the ten explained
		}
		for _, e := range a.Ops {
			require.Equal(t, a.Key, e.Key, "the events read back are the key's")
			require.Equal(t, fromFile[e.Index], e, "the event is the history's line %d", e.Index+1)
		}
	}
}
