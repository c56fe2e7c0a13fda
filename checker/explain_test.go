package checker

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/history"
)

func TestFaultTimelineKnowsWhichFaultsWereInForce(t *testing.T) {
	events := newHist().
		nemesis("start-partition-halves", "n1", "n2"). // t=10
		nemesis("start-kill", "n3").                   // t=20
		nemesis("stop-partition-halves").              // t=30
		nemesis("start-pause", "n1").                  // t=40, failed: no effect
		nemesis("stop-kill").                          // t=50
		build()
	events[3].Error = "container not found"
	ft := newFaultTimeline(events)
	require.Empty(t, ft.at(5))
	require.Equal(t, []string{"partition-halves (n1, n2)"}, ft.at(10))
	require.Equal(t, []string{"kill (n3)", "partition-halves (n1, n2)"}, ft.at(25))
	require.Equal(t, []string{"kill (n3)"}, ft.at(45))
	require.Empty(t, ft.at(50))
	require.Equal(t, " Faults in force at that time: kill (n3); partition-halves (n1, n2).", ft.sentence(29))
	require.Equal(t, " No fault was in force at that time.", newFaultTimeline([]history.Event{}).sentence(1))
}

// A stale read explained: the explanation names the stuck read first and
// the writes after it, but its table lists the events as they happened.
func TestANonlinearizableExplanationsOperationsAreInTimeOrder(t *testing.T) {
	events := newHist().
		op(0, history.OK, "write", "k7", 1, 1).on("n1").
		op(0, history.OK, "write", "k7", 2, 2).on("n1").
		op(1, history.OK, "read", "k7", nil, 1).on("n3").
		build()
	r := checkRegister(t, events)
	require.Equal(t, Invalid, r.Verdict)
	require.Len(t, r.Anomalies, 1)
	ops := r.Anomalies[0].Ops
	require.GreaterOrEqual(t, len(ops), 4, "the read and at least one write, invoke and completion each")
	require.Equal(t, "read", ops[len(ops)-1].F, "the stale read happened last, so it is the table's last row")
	for i := 1; i < len(ops); i++ {
		require.Less(t, ops[i-1].Index, ops[i].Index, "row %d comes after row %d in the history", i, i-1)
	}
}

// Porcupine draws one lane per ClientId: the lanes must carry the process
// numbers the history, the report and the explanation use (here 5 and 9),
// not 0 and 1.
func TestTheVisualizationsLanesAreTheHistorysProcessNumbers(t *testing.T) {
	events := newHist().
		op(5, history.OK, "write", "k", 1, 1).
		op(5, history.OK, "write", "k", 2, 2).
		op(9, history.OK, "read", "k", nil, 1).
		build()
	r := checkRegister(t, events)
	require.Equal(t, Invalid, r.Verdict)
	html := string(r.Artifacts["linearizability.html"])
	require.NotEmpty(t, html)
	lanes := map[string]bool{}
	for _, m := range regexp.MustCompile(`"ClientId":(-?\d+)`).FindAllStringSubmatch(html, -1) {
		lanes[m[1]] = true
	}
	require.Equal(t, map[string]bool{"5": true, "9": true}, lanes)
}
