package report_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/detect"
	"github.com/dqtest/dqtest/history"
	"github.com/dqtest/dqtest/report"
	"github.com/dqtest/dqtest/verdict"
)

// A JUnit document read back loosely (every attribute as a string and a
// presence flag), so the test can check what the Ant JUnit schema
// (JUnit.xsd, which Jenkins, GitLab and the GitHub reporters accept)
// requires: testsuites/testsuite/testcase; on a testsuite the attributes
// name, tests, failures, errors, time, timestamp (an ISO 8601 date and time
// without zone), hostname, id and package, and the elements properties,
// system-out and system-err; on a testcase name, classname and time; on a
// failure or error a message and a type.
type junitDoc struct {
	XMLName xml.Name     `xml:"testsuites"`
	Attrs   []xml.Attr   `xml:",any,attr"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Attrs      []xml.Attr  `xml:",any,attr"`
	Properties *struct{}   `xml:"properties"`
	Cases      []junitCase `xml:"testcase"`
	SystemOut  *string     `xml:"system-out"`
	SystemErr  *string     `xml:"system-err"`
}

type junitCase struct {
	Attrs    []xml.Attr     `xml:",any,attr"`
	Failures []junitProblem `xml:"failure"`
	Errors   []junitProblem `xml:"error"`
	Skipped  []struct{}     `xml:"skipped"`
}

type junitProblem struct {
	Attrs []xml.Attr `xml:",any,attr"`
	Text  string     `xml:",chardata"`
}

func attr(attrs []xml.Attr, name string) (string, bool) {
	for _, a := range attrs {
		if a.Name.Local == name {
			return a.Value, true
		}
	}
	return "", false
}

func requireAttrs(t *testing.T, what string, attrs []xml.Attr, names ...string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, n := range names {
		v, ok := attr(attrs, n)
		require.True(t, ok, "%s lacks the required attribute %s", what, n)
		m[n] = v
	}
	return m
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	require.NoError(t, err, "count %q", s)
	return n
}

// validateJUnit checks a document against the schema's required elements
// and attributes, and that every count agrees with the cases; it returns
// the document.
func validateJUnit(t *testing.T, b []byte) junitDoc {
	t.Helper()
	require.True(t, bytes.HasPrefix(b, []byte(`<?xml version="1.0" encoding="UTF-8"?>`)))
	var doc junitDoc
	require.NoError(t, xml.Unmarshal(b, &doc))
	top := requireAttrs(t, "testsuites", doc.Attrs, "tests", "failures", "errors", "time")
	var tests, failures, errs int
	timestamp := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$`)
	for _, s := range doc.Suites {
		a := requireAttrs(t, "testsuite", s.Attrs, "name", "tests", "failures", "errors", "time", "timestamp", "hostname", "id", "package")
		require.NotEmpty(t, a["name"])
		require.NotEmpty(t, a["hostname"])
		require.Regexp(t, timestamp, a["timestamp"])
		require.NotNil(t, s.Properties, "testsuite has properties")
		require.NotNil(t, s.SystemOut, "testsuite has system-out")
		require.NotNil(t, s.SystemErr, "testsuite has system-err")
		var f, e, sk int
		for _, c := range s.Cases {
			ca := requireAttrs(t, "testcase", c.Attrs, "name", "classname", "time")
			require.NotEmpty(t, ca["name"])
			_, err := strconv.ParseFloat(ca["time"], 64)
			require.NoError(t, err)
			require.LessOrEqual(t, len(c.Failures)+len(c.Errors)+len(c.Skipped), 1, "at most one of failure, error, skipped")
			for _, p := range append(append([]junitProblem{}, c.Failures...), c.Errors...) {
				pa := requireAttrs(t, "failure/error", p.Attrs, "message", "type")
				require.NotEmpty(t, pa["message"])
			}
			f += len(c.Failures)
			e += len(c.Errors)
			sk += len(c.Skipped)
		}
		require.Equal(t, len(s.Cases), atoi(t, a["tests"]), "tests count")
		require.Equal(t, f, atoi(t, a["failures"]), "failures count")
		require.Equal(t, e, atoi(t, a["errors"]), "errors count")
		tests, failures, errs = tests+len(s.Cases), failures+f, errs+e
	}
	require.Equal(t, tests, atoi(t, top["tests"]))
	require.Equal(t, failures, atoi(t, top["failures"]))
	require.Equal(t, errs, atoi(t, top["errors"]))
	return doc
}

func result(v, outcome checker.Verdict) *verdict.Result {
	return &verdict.Result{Scenario: "s", Backend: "docker", Seed: 7, Dir: "runs/s/1", Verdict: v, Outcome: outcome,
		Phases: verdict.Phases{Total: 12.5}, Ops: detect.OpCounts{Invoked: 10, OK: 9, Info: 1}}
}

func TestJUnitHasACasePerRunAndFailsExactlyTheBadOutcomes(t *testing.T) {
	anomalous := result(checker.Invalid, checker.Invalid)
	anomalous.Reasons = []string{"anomaly found: nonlinearizable"}
	anomalous.Checkers = []checker.Result{{Checker: "register", Verdict: checker.Invalid, Anomalies: []checker.Anomaly{
		{Kind: "nonlinearizable", Explanation: "Key k3 is not linearizable: a stale read.", Ops: []history.Event{{Index: 4}}}}}}
	crashed := result(checker.Invalid, checker.Invalid)
	crashed.Reasons = []string{"n2 crashed"}
	crashed.Crashes = []detect.Crash{{Node: "n2", Kind: "assertion", Signature: "SIGABRT: dqlite_node_stop: Assertion `rv == 0' failed."}}
	expected := result(checker.Invalid, checker.Valid)
	expected.Crashes = []detect.Crash{{Node: "n2", Kind: "assertion", Signature: "x", Expected: true}}
	missing := result(checker.Valid, checker.Invalid)
	missing.Reasons = []string{"expected anomaly nonlinearizable did not appear"}
	undecided := result(checker.Unknown, checker.Unknown)
	undecided.Checkers = []checker.Result{{Checker: "register", Verdict: checker.Unknown, Reason: "time budget spent"}}

	tests := []struct {
		name    string
		res     *verdict.Result
		err     error
		failure string // failure type, "" for none
		error   string // error type, "" for none
		text    string // must be in the failure or error text
	}{
		{name: "valid", res: result(checker.Valid, checker.Valid)},
		{name: "anomaly", res: anomalous, failure: "anomaly", text: "anomaly nonlinearizable: Key k3 is not linearizable"},
		{name: "crash", res: crashed, failure: "crash", text: "dqlite_node_stop"},
		{name: "expected-crash", res: expected},
		{name: "expected-anomaly-missing", res: missing, failure: "expectation", text: "runs/s/1"},
		{name: "undecided", res: undecided, error: "unknown", text: "runs/s/1"},
		{name: "harness-error", res: nil, err: errors.New("starting the cluster: no image"), error: "error", text: "no image"},
	}
	var cases []report.Case
	for _, tt := range tests {
		c := report.CaseOf(report.Summarize(tt.name, tt.res, tt.err))
		cases = append(cases, c)
	}
	var b bytes.Buffer
	require.NoError(t, report.WriteJUnit(&b, []report.Suite{{Name: "dqtest run", Cases: cases,
		Properties: map[string]string{"dqtest.version": "test"}}}))
	doc := validateJUnit(t, b.Bytes())
	require.Len(t, doc.Suites, 1)
	require.Len(t, doc.Suites[0].Cases, len(tests), "a test case per run")
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := doc.Suites[0].Cases[i]
			name, _ := attr(c.Attrs, "name")
			require.Equal(t, tt.name, name)
			var got *junitProblem
			switch {
			case tt.failure != "":
				require.Len(t, c.Failures, 1)
				require.Empty(t, c.Errors)
				got = &c.Failures[0]
				typ, _ := attr(got.Attrs, "type")
				require.Equal(t, tt.failure, typ)
			case tt.error != "":
				require.Len(t, c.Errors, 1)
				require.Empty(t, c.Failures)
				got = &c.Errors[0]
				typ, _ := attr(got.Attrs, "type")
				require.Equal(t, tt.error, typ)
			default:
				require.Empty(t, c.Failures, "a valid outcome passes")
				require.Empty(t, c.Errors)
			}
			if got != nil {
				require.Contains(t, got.Text, tt.text)
			}
		})
	}
}

func TestJUnitCountsAgreeAcrossSeveralSuites(t *testing.T) {
	ok := report.CaseOf(report.Summarize("a", result(checker.Valid, checker.Valid), nil))
	bad := report.CaseOf(report.Summarize("b", result(checker.Invalid, checker.Invalid), nil))
	var b bytes.Buffer
	require.NoError(t, report.WriteJUnit(&b, []report.Suite{
		{Name: "docker", Cases: []report.Case{ok, bad}},
		{Name: "sim", Cases: []report.Case{ok, {Name: "c", Classname: "dqtest.sim", Skipped: "needs Docker"}}},
		{Name: "empty"},
	}))
	doc := validateJUnit(t, b.Bytes())
	top, _ := attr(doc.Attrs, "tests")
	require.Equal(t, "4", top)
	fails, _ := attr(doc.Attrs, "failures")
	require.Equal(t, "1", fails)
}

func TestJUnitEscapesWhatARunReports(t *testing.T) {
	res := result(checker.Invalid, checker.Invalid)
	res.Reasons = []string{`value <"&'> ]]> in a message`}
	res.Checkers = []checker.Result{{Checker: "register", Verdict: checker.Invalid,
		Anomalies: []checker.Anomaly{{Kind: "nonlinearizable", Explanation: "read ]]> <b>&amp;"}}}}
	var b bytes.Buffer
	require.NoError(t, report.WriteJUnit(&b, []report.Suite{{Name: "x", Cases: []report.Case{report.CaseOf(report.Summarize("x", res, nil))}}}))
	doc := validateJUnit(t, b.Bytes())
	msg, _ := attr(doc.Suites[0].Cases[0].Failures[0].Attrs, "message")
	require.Equal(t, `value <"&'> ]]> in a message`, msg)
	require.Contains(t, doc.Suites[0].Cases[0].Failures[0].Text, "anomaly nonlinearizable: read ]]> <b>&amp;\n")
}

func TestRunDirectoryGetsItsOwnJUnitFile(t *testing.T) {
	dir, res := simRunDir(t, "sim-stale-read.yaml", "stale-read", 1)
	b, err := os.ReadFile(filepath.Join(dir, report.JUnitFile))
	require.NoError(t, err)
	doc := validateJUnit(t, b)
	require.Len(t, doc.Suites[0].Cases, 1)
	require.Len(t, doc.Suites[0].Cases[0].Failures, 1, "the run was %s", res.Outcome)
	require.Contains(t, doc.Suites[0].Cases[0].Failures[0].Text, "nonlinearizable")
}
