package checker

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkAppendCheck checks valid histories of a correct model with 10
// concurrent clients, 1 to 4 micro-ops per transaction, 2% failed and 2%
// indeterminate transactions, and keys retiring after 100 appends (as the
// append workload's ops_per_key does). A valid history is the common case
// and the expensive one for everything but the cycle search, which only
// runs inside strongly connected components.
func BenchmarkAppendCheck(b *testing.B) {
	for _, txns := range []int{10_000, 100_000} {
		for _, keys := range []int{10, 100} {
			events := generateAppendHistory(appendGen{txns: txns, processes: 10, keys: keys, fail: 0.02, info: 0.02, seed: 1})
			for _, c := range []string{"strict-serializable", "serializable"} {
				b.Run(fmt.Sprintf("txns=%d/keys=%d/%s", txns, keys, c), func(b *testing.B) {
					chk := NewAppend(AppendOptions{Consistency: c})
					for b.Loop() {
						if r := chk.Check(context.Background(), events); r.Verdict != Valid {
							b.Fatalf("verdict %s: %v %+v", r.Verdict, r.Reason, r.Anomalies)
						}
					}
				})
			}
		}
	}
}

// BenchmarkAppendCheckNonAtomic checks histories of a database that
// applies each micro-op on its own: anomalies everywhere, and strongly
// connected components spanning much of the history, the worst case of
// the cycle search.
func BenchmarkAppendCheckNonAtomic(b *testing.B) {
	for _, txns := range []int{10_000, 100_000} {
		events := generateAppendHistory(appendGen{txns: txns, processes: 10, keys: 10, fail: 0.02, info: 0.02, seed: 1, nonAtomic: true})
		b.Run(fmt.Sprintf("txns=%d", txns), func(b *testing.B) {
			chk := NewAppend(AppendOptions{})
			for b.Loop() {
				if r := chk.Check(context.Background(), events); r.Verdict != Invalid {
					b.Fatalf("verdict %s", r.Verdict)
				}
			}
		})
	}
}

// BenchmarkAppendCheckStaleReads checks histories where 30% of reads come
// from a replica up to 50 appends behind: under strict serializability
// nearly all transactions fall into one strongly connected component.
func BenchmarkAppendCheckStaleReads(b *testing.B) {
	for _, txns := range []int{10_000, 100_000} {
		events := generateAppendHistory(appendGen{txns: txns, processes: 10, keys: 10, fail: 0.02, info: 0.02, seed: 1, stale: 0.3})
		b.Run(fmt.Sprintf("txns=%d", txns), func(b *testing.B) {
			chk := NewAppend(AppendOptions{})
			var r Result
			for b.Loop() {
				if r = chk.Check(context.Background(), events); r.Verdict != Invalid {
					b.Fatalf("verdict %s", r.Verdict)
				}
			}
			b.ReportMetric(float64(r.Stats["largest_scc"].(int)), "largest-scc")
		})
	}
}
