package checker

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/dqtest/dqtest/history"
)

// benchHistories caches generated histories across benchmark runs (-count).
var benchHistories sync.Map // string -> []history.Event

func benchHistory(name string, gen func() []history.Event) []history.Event {
	if h, ok := benchHistories.Load(name); ok {
		return h.([]history.Event)
	}
	h := gen()
	benchHistories.Store(name, h)
	return h
}

// BenchmarkRegister checks register histories of 100,000 and 1,000,000
// operations over 1,000 keys, from a deterministic generator with 10
// concurrent clients, 1% of writes and cas with unknown outcome (open-ended
// in time) and 1% failed. The reported time is one whole check.
func BenchmarkRegister(b *testing.B) {
	for _, ops := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("ops=%d", ops), func(b *testing.B) {
			events := benchHistory(fmt.Sprintf("register-%d", ops), func() []history.Event {
				return registerGen{Seed: 1, Ops: ops, Keys: 1000, Concurrency: 10, InfoRate: 0.01, FailRate: 0.01}.generate()
			})
			benchCheck(b, NewRegister(RegisterOptions{}), events, ops)
		})
	}
}

// benchCheck times whole checks of a valid history of ops operations.
func benchCheck(b *testing.B, c Checker, events []history.Event, ops int) {
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r := c.Check(context.Background(), events); r.Verdict != Valid {
			b.Fatalf("verdict %s: %s %+v", r.Verdict, r.Reason, first(r.Anomalies, 3))
		}
	}
	b.ReportMetric(float64(ops)*float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}
