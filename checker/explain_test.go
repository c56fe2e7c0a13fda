package checker

import (
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
