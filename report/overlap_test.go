package report_test

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/history"
	"github.com/dqtest/dqtest/report"
	"github.com/dqtest/dqtest/verdict"
)

// A bank read that adds up wrong: the report lists, under the read, the
// transfers in flight while it ran, and only those.
func TestAWrongTotalShowsTheTransfersThatOverlappedTheRead(t *testing.T) {
	transfer := map[string]any{"from": 0, "to": 1, "amount": 5}
	ev := func(i, tm int64, p history.Process, typ history.Type, f string, v any) history.Event {
		return history.Event{Index: i, Time: tm, Process: p, Type: typ, F: f, Value: history.Normalize(v), Node: "n1"}
	}
	events := []history.Event{
		ev(0, 10, 0, history.Invoke, "transfer", transfer), // done before the read began
		ev(1, 20, 0, history.OK, "transfer", transfer),
		ev(2, 30, 1, history.Invoke, "read", nil),
		ev(3, 35, 2, history.Invoke, "transfer", transfer), // overlaps, acknowledged
		ev(4, 40, 3, history.Invoke, "transfer", transfer), // overlaps, unknown outcome
		ev(5, 42, 4, history.Invoke, "transfer", transfer), // overlaps, failed
		ev(6, 45, 4, history.Fail, "transfer", transfer),
		ev(7, 50, 2, history.OK, "transfer", transfer),
		ev(8, 55, 1, history.OK, "read", map[string]any{"0": 5, "1": 20, "2": 10}), // 35, not 30
		ev(9, 60, 3, history.Info, "transfer", transfer),
		ev(10, 65, 5, history.Invoke, "transfer", transfer), // began after the read ended
		ev(11, 70, 5, history.OK, "transfer", transfer),
	}
	require.NoError(t, history.Validate(events))
	res := checker.NewBank(checker.BankOptions{Accounts: 3, Total: 30}).Check(context.Background(), events)
	require.Equal(t, checker.Invalid, res.Verdict)
	require.Equal(t, "wrong-total", res.Anomalies[0].Kind)

	dir := t.TempDir()
	w, err := history.Create(filepath.Join(dir, verdict.HistoryFile))
	require.NoError(t, err)
	for _, e := range events {
		_, err := w.Write(e)
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())
	writeResults(t, dir, verdict.Result{Scenario: "bank", Backend: "docker", Verdict: checker.Invalid, Outcome: checker.Invalid,
		Checkers: []checker.Result{res}})
	require.NoError(t, report.WriteDir(dir))
	anomalies := section(t, readReport(t, dir), "anomalies")

	require.Contains(t, anomalies, "Transfers in flight while the read ran: 1 acknowledged, 1 with an unknown outcome (they may or may not have happened); 1 failed ones changed nothing and are left out.")
	start := strings.Index(anomalies, `<table class="overlapping">`)
	require.GreaterOrEqual(t, start, 0, "a table of the overlapping transfers")
	table := anomalies[start : start+strings.Index(anomalies[start:], "</table>")]
	var rows []string
	for _, m := range regexp.MustCompile(`<tr class="t-(\w+)"><td class="num">(\d+)</td>`).FindAllStringSubmatch(table, -1) {
		rows = append(rows, m[2]+" "+m[1])
	}
	require.Equal(t, []string{"3 invoke", "4 invoke", "7 ok", "9 info"}, rows, "the overlapping transfers' events, in time order")
}

func TestOnlyBankAnomaliesGetOverlappingTransfers(t *testing.T) {
	dir, _ := simRunDir(t, "../scenarios/sim-stale-read.yaml", "stale-read", 1)
	anomalies := section(t, readReport(t, dir), "anomalies")
	require.Contains(t, anomalies, "nonlinearizable")
	require.NotContains(t, anomalies, "Transfers in flight")
	require.NotContains(t, anomalies, `class="overlapping"`)
}
