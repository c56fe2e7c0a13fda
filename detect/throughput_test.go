package detect

import (
	"testing"
	"time"

	"github.com/dqtest/dqtest/history"
	"github.com/stretchr/testify/require"
)

func TestFaultEffectsMeasureThroughputInsideAndOutsideFaults(t *testing.T) {
	s := int64(time.Second)
	var events []history.Event
	ok := func(at int64) {
		events = append(events,
			history.Event{Process: 0, Type: history.Invoke, F: "read", Time: at},
			history.Event{Process: 0, Type: history.OK, F: "read", Time: at})
	}
	fault := func(at int64, f string) {
		events = append(events, history.Event{Process: history.Nemesis, Type: history.Info, F: f, Time: at})
	}
	// 0-10 s: 10 ok/s. 10-14 s: a partition, 1 ok/s. 14-20 s: 10 ok/s
	// again, with a handover at 16 s (instantaneous: a 5 s window).
	for at := int64(0); at < 20*s; at += s / 10 {
		if at >= 10*s && at < 14*s && at%s != 0 {
			continue
		}
		if at == 10*s {
			fault(at, "start-partition-halves")
		}
		if at == 14*s {
			fault(at-1, "stop-partition-halves")
		}
		if at == 16*s {
			fault(at, "start-handover")
		}
		ok(at)
	}
	effects := FaultEffects(events, 0, 20*s)
	require.Len(t, effects, 2)
	p := effects[0]
	require.Equal(t, "partition-halves", p.Fault)
	require.Equal(t, 1, p.Starts)
	require.InDelta(t, 4.0, p.Seconds, 0.01)
	require.InDelta(t, 1.0, p.OKPerSecond, 0.3)
	require.InDelta(t, 10.0, p.BaselineOKPerSecond, 0.5)
	h := effects[1]
	require.Equal(t, "handover", h.Fault)
	require.InDelta(t, 4.0, h.Seconds, 0.01, "an instantaneous fault's window is cut at the end of the span")
	require.InDelta(t, 10.0, h.OKPerSecond, 0.5)

	c := CountOps(events, 0, 20*s)
	require.Equal(t, c.Invoked, c.OK)
	require.InDelta(t, float64(c.OK)/20, c.OKPerSecond, 0.01)
}
