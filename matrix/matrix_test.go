package matrix

import (
	"bytes"
	"context"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/harness"
	"github.com/dqtest/dqtest/harness/sim"
	"github.com/dqtest/dqtest/mode"
	"github.com/dqtest/dqtest/nemesis"
	"github.com/dqtest/dqtest/report"
	"github.com/dqtest/dqtest/scenario"
	"github.com/dqtest/dqtest/verdict"
)

func TestCellsResolveEveryCombinationAndRefuseMistakes(t *testing.T) {
	cells, err := Cells(Spec{Workloads: []string{"bank", "set"}, Nemeses: []string{"none", "partition+disk"},
		TimeLimit: 30 * time.Second, ExpectFail: map[string]string{"bank/partition+disk": "a known bug"}})
	require.NoError(t, err)
	require.Len(t, cells, 4)
	c := cells[1]
	require.Equal(t, "bank/partition+disk", c.Key())
	require.Equal(t, "bank-partition-disk", c.Scenario)
	require.Equal(t, "a known bug", c.ExpectFail)
	require.Equal(t, []string{"partition", "disk"}, c.sc.Nemesis.Faults)
	require.Equal(t, scenario.DefaultDataDirSize, c.sc.DataDirSize, "a disk cell gets a data volume")
	require.Empty(t, cells[0].sc.DataDirSize, "a cell without disk does not")
	require.Equal(t, 30*time.Second, c.sc.TimeLimit)
	require.Equal(t, "bank", c.sc.Workload.Name)

	for name, tc := range map[string]struct {
		spec Spec
		err  string
	}{
		"no workloads":     {Spec{Nemeses: []string{"none"}}, "at least one workload"},
		"unknown workload": {Spec{Workloads: []string{"queue"}, Nemeses: []string{"none"}}, "queue/none"},
		"unknown fault":    {Spec{Workloads: []string{"bank"}, Nemeses: []string{"flood"}}, "bank/flood: --nemesis"},
		"a cell twice":     {Spec{Workloads: []string{"bank"}, Nemeses: []string{"kill", "kill"}}, "bank/kill is listed twice"},
		"stray mark":       {Spec{Workloads: []string{"bank"}, Nemeses: []string{"kill"}, ExpectFail: map[string]string{"set/kill": "x"}}, "expect-fail set/kill: no such cell"},
	} {
		_, err := Cells(tc.spec)
		require.ErrorContains(t, err, tc.err, name)
	}
}

func TestParseExpectFailReadsWorkloadNemesisReason(t *testing.T) {
	m, err := ParseExpectFail([]string{"bank/disk=canonical/dqlite#1 = still open", "set/partition+kill=x"})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"bank/disk": "canonical/dqlite#1 = still open", "set/partition+kill": "x"}, m)
	for _, bad := range []string{"bank/disk", "bank=x", "/disk=x", "bank/disk= "} {
		_, err := ParseExpectFail([]string{bad})
		require.ErrorContains(t, err, "want workload/nemesis=reason", bad)
	}
}

func TestStatusAndOutcomeLeaveExpectedFailuresOut(t *testing.T) {
	for _, tc := range []struct {
		outcome checker.Verdict
		marked  bool
		want    Status
	}{
		{checker.Valid, false, Passed}, {checker.Invalid, false, Failed}, {checker.Unknown, false, Unknown},
		{checker.Invalid, true, ExpectedFail}, {checker.Valid, true, UnexpectedPass}, {checker.Unknown, true, Unknown},
	} {
		require.Equal(t, tc.want, status(tc.outcome, tc.marked), "%s marked=%v", tc.outcome, tc.marked)
	}
	cells := func(ss ...Status) []Cell {
		var cs []Cell
		for _, s := range ss {
			cs = append(cs, Cell{Status: s})
		}
		return cs
	}
	require.Equal(t, checker.Valid, Outcome(cells(Passed, ExpectedFail, UnexpectedPass)))
	require.Equal(t, checker.Invalid, Outcome(cells(Passed, Failed, ExpectedFail)))
	require.Equal(t, checker.Unknown, Outcome(cells(Passed, Unknown)))
	require.Equal(t, checker.Unknown, Outcome(cells(Passed, Skipped)))
	require.Equal(t, checker.Invalid, Outcome(cells(Unknown, Failed)), "a failure is worse than no verdict")
}

func TestJUnitShowsAnExpectedFailureAsAPassThatSaysSo(t *testing.T) {
	failing := report.RunSummary{Scenario: "bank-disk", Backend: "docker", Verdict: checker.Invalid, Outcome: checker.Invalid,
		Reasons: []string{"bank checker: 2 anomalies"}, Anomalies: []report.Finding{{Kind: "wrong-total", Detail: "read 90"}}}
	res := &Result{Name: "m", Start: time.Now(), Cells: []Cell{
		{Workload: "bank", Nemesis: "disk", ExpectFail: "known bug", Status: ExpectedFail, Run: failing, Recovery: &verdict.Recovery{Recovered: true}},
		{Workload: "bank", Nemesis: "kill", Status: Failed, Run: failing, Recovery: &verdict.Recovery{Error: "n1 does not answer"}},
		{Workload: "set", Nemesis: "kill", Status: Skipped},
	}}
	var b bytes.Buffer
	require.NoError(t, report.WriteJUnit(&b, []report.Suite{JUnit(res)}))
	doc := parseJUnit(t, b.Bytes())
	require.Equal(t, 3, doc.Tests)
	require.Equal(t, 1, doc.Failures, "only the unexpected failure")
	require.Equal(t, 1, doc.Skipped)
	cs := doc.Suites[0].Cases
	require.Equal(t, "bank/disk", cs[0].Name)
	require.Nil(t, cs[0].Failure)
	require.Contains(t, cs[0].Out, "expected to fail (known bug) and failed")
	require.Contains(t, cs[0].Out, "wrong-total")
	require.NotNil(t, cs[1].Failure)

	var table bytes.Buffer
	res.Outcome = Outcome(res.Cells)
	require.NoError(t, WriteTable(&table, res))
	require.Contains(t, table.String(), "expected to fail: known bug; 1 x wrong-total")
	require.Contains(t, table.String(), "3 cells: 0 passed, 1 failed, 1 expected to fail")
	require.Contains(t, table.String(), "1 x wrong-total; did not recover: n1 does not answer")
	require.Contains(t, table.String(), "1 cells ended with a cluster that did not recover")
	require.Contains(t, table.String(), "matrix outcome: invalid")
}

type junitDoc struct {
	Tests    int `xml:"tests,attr"`
	Failures int `xml:"failures,attr"`
	Errors   int `xml:"errors,attr"`
	Skipped  int `xml:"skipped,attr"`
	Suites   []struct {
		Cases []struct {
			Name    string    `xml:"name,attr"`
			Failure *struct{} `xml:"failure"`
			Error   *struct{} `xml:"error"`
			Out     string    `xml:"system-out"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func parseJUnit(t *testing.T, data []byte) junitDoc {
	t.Helper()
	var doc junitDoc
	require.NoError(t, xml.Unmarshal(data, &doc))
	return doc
}

// TestCellsTheBackendCannotRunAreUnsupportedNotUnknown: the simulator
// refuses a disk cell before it runs; the matrix shows it as unsupported
// (a skipped JUnit case with the reason) and its outcome stays valid.
func TestCellsTheBackendCannotRunAreUnsupportedNotUnknown(t *testing.T) {
	base := scenario.Default()
	base.Backend = mode.Sim
	base.Nemesis.Schedule = nemesis.Schedule{Kind: nemesis.Fixed, Interval: 2 * time.Second, Duration: time.Second}
	spec := Spec{Workloads: []string{"set"}, Nemeses: []string{"none", "disk"}, Base: &base,
		TimeLimit: 5 * time.Second, Seed: 3, Backend: "sim"}
	res, err := Run(context.Background(), spec, t.TempDir(), harness.Options{Simulate: sim.Simulator(""),
		WriteReport: func(string) error { return nil }}, nil)
	require.NoError(t, err)
	require.Len(t, res.Cells, 2)
	require.Equal(t, Passed, res.Cells[0].Status)
	require.Equal(t, Unsupported, res.Cells[1].Status)
	require.Contains(t, res.Cells[1].Run.Skipped, "disk")
	require.Equal(t, checker.Valid, Outcome(res.Cells))
	var b bytes.Buffer
	require.NoError(t, report.WriteJUnit(&b, []report.Suite{JUnit(res)}))
	require.Equal(t, 1, parseJUnit(t, b.Bytes()).Skipped)
}

// TestAVersionAxisRunsEveryCellOnEachVersion: --dqlite 1.18.1,1.18.7
// doubles the cells, keys them by version, gives each cell's scenario its
// version, and a mark can name one version's cell or every version's.
func TestAVersionAxisRunsEveryCellOnEachVersion(t *testing.T) {
	cells, err := Cells(Spec{Workloads: []string{"bank"}, Nemeses: []string{"none", "kill"}, Dqlite: []string{"1.18.1", "1.18.7"},
		ExpectFail: map[string]string{"1.18.1/bank/kill": "old", "bank/none": "every version"}})
	require.NoError(t, err)
	var keys []string
	for _, c := range cells {
		keys = append(keys, c.Key())
		require.Equal(t, c.Dqlite, c.sc.Dqlite.Version, c.Key())
	}
	require.Equal(t, []string{"1.18.1/bank/none", "1.18.1/bank/kill", "1.18.7/bank/none", "1.18.7/bank/kill"}, keys)
	require.Equal(t, "1.18.1-bank-kill", cells[1].Scenario)
	require.Equal(t, "old", cells[1].ExpectFail)
	require.Empty(t, cells[3].ExpectFail, "the 1.18.1 mark leaves 1.18.7's cell alone")
	require.Equal(t, "every version", cells[0].ExpectFail)
	require.Equal(t, "every version", cells[2].ExpectFail)

	_, err = Cells(Spec{Workloads: []string{"bank"}, Nemeses: []string{"none"}, Dqlite: []string{"1.18.1"},
		ExpectFail: map[string]string{"1.18.7/bank/none": "x"}})
	require.ErrorContains(t, err, "expect-fail 1.18.7/bank/none: no such cell")
	_, err = Cells(Spec{Workloads: []string{"bank"}, Nemeses: []string{"none"}, Dqlite: []string{"latest"}})
	require.ErrorContains(t, err, "dqlite")

	res := &Result{Name: "m", Cells: cells}
	var b bytes.Buffer
	require.NoError(t, WriteTable(&b, res))
	require.True(t, strings.HasPrefix(b.String(), "DQLITE"), b.String())
}
