package detect

import (
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/history"
)

// A tally of a well-formed history read a batch at a time counts what
// CountOps counts over the whole history, with and without a workload
// span, and knows the nodes the nemesis killed.
func TestTallyCountsWhatCountOpsCounts(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	var events []history.Event
	var now int64
	types := []history.Type{history.Invoke, history.OK, history.Fail, history.Info}
	for i := range 20000 {
		now += rng.Int63n(3e6)
		e := history.Event{Index: int64(i), Time: now, Process: history.Process(rng.Intn(8)), Type: types[rng.Intn(4)], F: "write"}
		if rng.Intn(300) == 0 {
			e = history.Event{Index: int64(i), Time: now, Process: history.Nemesis, Type: history.Info, F: []string{"start-kill", "stop-kill", "start-partition", "kill-hung"}[rng.Intn(4)], Nodes: []string{[]string{"n1", "n2", "n3"}[rng.Intn(3)]}}
		}
		events = append(events, e)
	}
	for _, span := range [][2]int64{{0, 0}, {now / 4, now / 2}, {now / 3, 0}} {
		tally := Tally{From: span[0], To: span[1]}
		for i := 0; i < len(events); i += 777 {
			tally.Observe(events[i:min(len(events), i+777)])
		}
		require.Equal(t, CountOps(events, span[0], span[1]), tally.CountOps(), "span %v", span)
		require.Equal(t, KilledNodes(events), tally.KilledNodes())
		require.Equal(t, len(events), tally.Events())
		require.NotEmpty(t, tally.FaultEffects(span[0], span[1]))
	}
	var empty Tally
	require.Equal(t, CountOps(nil, 0, 0), empty.CountOps())
	require.Nil(t, empty.FaultEffects(0, 0))
	require.Empty(t, empty.KilledNodes())
}
