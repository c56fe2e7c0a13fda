package sim

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/history"
	"github.com/dqtest/dqtest/mode"
	"github.com/dqtest/dqtest/scenario"
)

// recording keeps a history in memory.
type recording []history.Event

func (r *recording) Write(e history.Event) (history.Event, error) {
	*r = append(*r, e)
	return e, nil
}

// Compacting the logs changes nothing a run does: the same history, event
// for event, whether the logs are compacted after every applied entry, now
// and then, or never; and a long run's logs are compacted.
func TestCompactedLogsChangeNoHistory(t *testing.T) {
	defer func(v int64) { compactEvery = v }(compactEvery)
	files := []string{"default.yaml", "register-partition.yaml", "register-kill.yaml", "bank-pause.yaml",
		"append-handover.yaml", "set-stop.yaml", "append-mixed-5.yaml"}
	for _, f := range files {
		for _, bug := range []string{"", BugStaleRead, BugDuplicateWrite, BugDiverge} {
			t.Run(fmt.Sprintf("%s/%q", f, bug), func(t *testing.T) {
				sc, err := scenario.Load(filepath.Join("..", "..", "scenarios", f))
				require.NoError(t, err)
				sc.Seed, sc.Backend = 3, mode.Sim
				rs, err := sc.Resolve()
				require.NoError(t, err)
				var runs [3]recording
				var bases [3]int64
				for i, every := range []int64{math.MaxInt64, 1, 64} {
					compactEvery = every
					cfg, err := ConfigFor(rs, bug)
					if err != nil {
						t.Skip(err) // a bug this workload cannot show
					}
					cfg.Record = &runs[i]
					var last *cluster
					testHookCluster = func(c *cluster) { last = c }
					_, err = Run(context.Background(), cfg)
					testHookCluster = nil
					require.NoError(t, err)
					require.NotNil(t, last)
					for _, n := range last.nodes {
						bases[i] = max(bases[i], n.base)
					}
				}
				require.NotEmpty(t, runs[0])
				require.Equal(t, runs[0], runs[1], "compacted after every entry")
				require.Equal(t, runs[0], runs[2], "compacted every 64 entries")
				require.Zero(t, bases[0], "never compacted")
				require.Positive(t, bases[1], "the logs were compacted")
			})
		}
	}
}
