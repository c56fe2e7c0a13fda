package report

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/history"
)

func nem(t int64, f string, errText string, nodes ...string) history.Event {
	return history.Event{Time: t * 1e9, Process: history.Nemesis, Type: history.Info, F: f, Nodes: nodes, Error: errText}
}

func TestFaultWindowsPairStartsAndStopsAndIgnoreFaultsThatFailed(t *testing.T) {
	events := []history.Event{
		nem(1, "start-partition-halves", "", "n1"),
		nem(2, "start-handover", "", "n2"),
		nem(3, "start-partition-halves", "", "n1"), // already in force
		nem(4, "stop-partition-halves", ""),
		nem(5, "start-pause", "pause failed: not running", "n3"),
		nem(6, "start-kill", "", "n2"),
		nem(7, "stop-kill", "restart failed"), // not undone: in force to the end
		nem(8, "start-handover", ""),
		{Time: 10e9, Process: 1, Type: history.OK, F: "read"},
	}
	require.Equal(t, []faultWindow{
		{Fault: "partition-halves", Nodes: []string{"n1"}, From: 1, To: 4},
		{Fault: "handover", Nodes: []string{"n2"}, From: 2, To: 2},
		{Fault: "kill", Nodes: []string{"n2"}, From: 6, To: 10},
		{Fault: "handover", From: 8, To: 8},
	}, faultWindows(events))
	require.Equal(t, []string{"partition-halves", "handover", "kill"}, faultKinds(faultWindows(events)))
}

func TestSpansMarkAnomalousOperationsAndRunOpenOnesToTheEnd(t *testing.T) {
	events := []history.Event{
		{Index: 0, Time: 1e9, Process: 0, Type: history.Invoke, F: "write"},
		{Index: 1, Time: 2e9, Process: 1, Type: history.Invoke, F: "read"},
		{Index: 2, Time: 3e9, Process: 0, Type: history.OK, F: "write"},
		{Index: 3, Time: 5e9, Process: 2, Type: history.Invoke, F: "cas"},
		{Index: 4, Time: 6e9, Process: 2, Type: history.Fail, F: "cas"},
	}
	ss := spans(events, map[int64]bool{4: true})
	require.Equal(t, []span{
		{Process: 0, F: "write", Start: 1, End: 3, Outcome: history.OK},
		{Process: 1, F: "read", Start: 2, End: 6, Outcome: history.Info, Open: true},
		{Process: 2, F: "cas", Start: 5, End: 6, Outcome: history.Fail, Anomalous: true},
	}, ss)
	rows := latencyQuantiles(ss)
	require.Len(t, rows, 4, "write ok, cas fail, all ok, all fail: the open read has no latency")
	require.Equal(t, "cas", rows[0].F)
	require.Equal(t, "all", rows[3].F)
	require.InDelta(t, 2000, rows[1].P50, 1e-6, "write took 2 s")
}

func TestQuantileIsNearestRank(t *testing.T) {
	xs := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	require.Equal(t, 5.0, quantile(xs, 0.5))
	require.Equal(t, 9.0, quantile(xs, 0.9))
	require.Equal(t, 10.0, quantile(xs, 0.99))
	require.Equal(t, 1.0, quantile(xs, 0))
	require.True(t, math.IsNaN(quantile(nil, 0.5)))
}

func TestRateSeriesCountsCompletionsPerSecondByOutcome(t *testing.T) {
	ss := []span{
		{Start: 0, End: 0.5, Outcome: history.OK},
		{Start: 0, End: 1.5, Outcome: history.OK},
		{Start: 1, End: 1.9, Outcome: history.Fail},
		{Start: 1, End: 3, Outcome: history.Info, Open: true},
	}
	mid, rates := rateSeries(ss, 1, 2)
	require.Equal(t, []float64{0.5, 1.5}, mid)
	require.Equal(t, []float64{1, 1}, rates[history.OK])
	require.Equal(t, []float64{0, 1}, rates[history.Fail])
	require.Equal(t, []float64{0, 0}, rates[history.Info], "an open operation never completed")
}

func TestLogTicksLabelARangeWithinOneDecade(t *testing.T) {
	labels := func(lo, hi float64) []string {
		var out []string
		for _, tk := range (logTicks{}).Ticks(lo, hi) {
			if tk.Label != "" {
				out = append(out, tk.Label)
			}
		}
		return out
	}
	require.Equal(t, []string{"2", "5"}, labels(1.5, 6))
	require.Equal(t, []string{"1", "2", "5", "10", "20", "50", "100"}, labels(1, 100))
	require.Equal(t, []string{"0.01", "0.1", "1", "10", "100", "1000"}, labels(0.01, 5000))
	require.Empty(t, (logTicks{}).Ticks(0, 10))
}
