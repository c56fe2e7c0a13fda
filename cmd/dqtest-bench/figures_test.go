package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestMarkdownKeepsTheTablesThisRunDidNotMeasure(t *testing.T) {
	previous := "Measured 2026-12-05 on 2 CPUs; every figure is a median.\n\n" +
		"**Harness overhead, 1 client** (old):\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n" +
		"**Harness overhead, 6 clients** (old):\n\n| a | b |\n\n" +
		"**Checkers** (old):\n\n| register | 1 s |\n\n" +
		"**Checking a stored history, whole process** (old, replaced):\n\n| old check |\n\n" +
		"**Time to verdict** (old):\n\n| cold | 1 s |\n\nCold adds the image build.\n"
	f := figures{Started: time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC), Machine: "test machine",
		Check: &checkBench{Ops: 10, Events: 20, Keys: 1, Processes: 2,
			Wall: [2][]float64{{1}, {2}}, RSS: [2][]float64{{1e6}, {2e6}}, WallMedian: [2]float64{1, 2}, RSSMedian: [2]float64{1e6, 2e6}, WallRatio: 0.5, RSSRatio: 0.5,
			CPU: [2][]float64{{1}, {4}}, CPUMedian: [2]float64{1, 4}, CPURatio: 0.25}}
	got := f.markdown(previous)

	require.True(t, strings.HasPrefix(got, "Measured 2026-12-06 on test machine"), got)
	require.Contains(t, got, "Kept from earlier runs (not measured in this one): overhead (2026-12-05), checkers (2026-12-05), verdict (2026-12-05).")
	require.NotContains(t, got, "old check", "the check table was measured again")
	require.Contains(t, got, "| **ratio dqtest / plain** | **0.50x** (misses the goal of <= 0.3x) | | **0.50x** (meets the goal of <= 0.5x) | | 0.25x | |")
	order := []string{"**Harness overhead, 1 client**", "**Harness overhead, 6 clients**", "**Checkers**", "**Checking a stored history", "**Time to verdict**", "Cold adds the image build."}
	last := -1
	for _, s := range order {
		i := strings.Index(got, s)
		require.Greater(t, i, last, "%s in order in:\n%s", s, got)
		last = i
	}
	require.NotContains(t, got, "\n\n\n", "one blank line between tables")

	// A later run measuring nothing keeps it all, each table with the
	// date it was measured.
	again := figures{Started: f.Started.AddDate(0, 0, 1), Machine: "test machine"}.markdown(got)
	require.Equal(t, 1, strings.Count(again, "Kept from earlier runs"))
	require.Contains(t, again, "overhead (2026-12-05), checkers (2026-12-05), check (2026-12-06), verdict (2026-12-05).")
	require.Contains(t, again, "| **dqtest check** | 1.00 s |")
}

func TestMarkdownOfTheSimulatorRun(t *testing.T) {
	s := &simRunBench{TimeLimit: 5 * time.Minute, Ops: 1181355, Command: "bin/dqtest run --backend sim --rate 0 --time-limit 5m0s scenarios/default.yaml",
		Wall: []float64{40, 30, 50}, CPU: []float64{15, 16, 14}, RSS: []float64{210e6, 220e6, 230e6}, Workload: []float64{20, 21, 22}, Check: []float64{3, 4, 5},
		WallMedian: 40, CPUMedian: 15, RSSMedian: 220e6, WorkloadMedian: 21, CheckMedian: 4}
	got := figures{Started: time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC), Machine: "m", SimRun: s}.markdown("")
	require.Contains(t, got, "**A long simulator run, whole process** (`bin/dqtest run --backend sim --rate 0 --time-limit 5m0s scenarios/default.yaml`: 5m0s of simulated workload at no rate limit, 1181355 operations;")
	require.Contains(t, got, "| 40.00 s | 40.0, 30.0, 50.0 | 15.00 s | 15.0, 16.0, 14.0 | 21.00 s, 4.00 s | **220 MB** (meets the goal of < 500 MB) | 210, 220, 230 |")
	s.RSSMedian = 600e6
	require.Contains(t, figures{SimRun: s}.markdown(""), "(misses the goal of < 500 MB)")
	// Kept by a later run that measured something else, in its place.
	again := figures{Started: time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC), Check: &checkBench{Wall: [2][]float64{{1}, {2}}}}.markdown(got)
	require.Contains(t, again, "Kept from earlier runs (not measured in this one): sim (2026-12-06).")
	require.Less(t, strings.Index(again, "**Checking a stored"), strings.Index(again, "**A long simulator run"))
}
