package sim

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/dqtest/dqtest/history"
	"github.com/dqtest/dqtest/workloads"
)

// BenchmarkRegister3Nodes measures simulated client operations per
// wall-clock second for a 3-node register run without faults, 10 slots as
// fast as the cluster answers (the speed target: 100,000 ops/s on
// one core). The history is discarded.
func BenchmarkRegister3Nodes(b *testing.B) {
	benchRegister(b, func() Recorder { return nil })
}

// BenchmarkRegister3NodesWithHistory is the same run writing its history as
// JSON lines (to io.Discard), as `dqtest run --backend sim` does.
func BenchmarkRegister3NodesWithHistory(b *testing.B) {
	benchRegister(b, func() Recorder { return history.NewWriter(io.Discard) })
}

func benchRegister(b *testing.B, recorder func() Recorder) {
	w, err := workloads.New("register", workloads.Params{})
	if err != nil {
		b.Fatal(err)
	}
	ops := 0
	start := time.Now()
	for i := 0; b.Loop(); i++ {
		sum, err := Run(context.Background(), Config{
			Nodes: 3, Workload: w, Concurrency: 10, Duration: 10 * time.Second, Seed: int64(i + 1), Record: recorder(),
		})
		if err != nil {
			b.Fatal(err)
		}
		ops += sum.Ops
	}
	b.ReportMetric(float64(ops)/time.Since(start).Seconds(), "ops/s")
	b.ReportMetric(float64(ops)/float64(b.N), "ops/run")
}
