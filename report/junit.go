package report

import (
	"cmp"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/dqtest/dqtest/checker"
)

// JUnitFile is the JUnit file a run directory holds (its own run as one
// test case).
const JUnitFile = "junit.xml"

// Suite is one JUnit test suite: `dqtest run` makes one of all its
// scenarios; `dqtest matrix` may make one per backend or fault.
type Suite struct {
	Name string
	// Timestamp is when the suite started; zero means now.
	Timestamp time.Time
	// Properties describe the suite (e.g. the dqtest version, the seed
	// policy); written in name order.
	Properties map[string]string
	Cases      []Case
}

// Case is one JUnit test case: one run of a scenario.
type Case struct {
	Name string
	// Classname groups cases in CI viewers: "dqtest.docker",
	// "dqtest.simulator".
	Classname string
	Seconds   float64
	// Failure is set when the run's outcome is invalid: an anomaly or
	// crash found, or an expected one missing.
	Failure *Problem
	// Error is set when the run reached no verdict (outcome unknown).
	Error *Problem
	// Skipped, when not empty, says why the case did not run.
	Skipped string
	// Output goes to the case's system-out: the verdict and where the
	// run directory and report are.
	Output string
}

// Problem is a JUnit failure or error.
type Problem struct {
	// Message is one line for a CI summary; Type a short class
	// ("anomaly", "crash", "expectation", "unknown", "error"); Text the
	// whole explanation.
	Message, Type, Text string
}

// CaseOf turns a run's summary into a test case: outcome invalid is a
// failure, unknown an error, valid (including an expected anomaly or
// crash) a pass.
func CaseOf(s RunSummary) Case {
	c := Case{Name: s.Scenario, Classname: "dqtest." + cmp.Or(s.Backend, "unknown"), Seconds: s.Phases.Total}
	var out strings.Builder
	fmt.Fprintf(&out, "outcome %s (the run showed %s), seed %d", s.Outcome, s.Verdict, s.Seed)
	if s.SimBug != "" {
		fmt.Fprintf(&out, ", simulator bug %s", s.SimBug)
	}
	if s.Dqlite != "" {
		fmt.Fprintf(&out, ", dqlite %s", s.Dqlite)
	}
	fmt.Fprintf(&out, ", %d operations (%d ok, %d fail, %d info)\n", s.Ops.Invoked, s.Ops.OK, s.Ops.Fail, s.Ops.Info)
	if s.Dir != "" {
		fmt.Fprintf(&out, "run directory: %s\n", s.Dir)
	}
	if s.Report != "" {
		fmt.Fprintf(&out, "report: %s\n", s.Report)
	}
	for _, r := range s.Reasons {
		fmt.Fprintf(&out, "- %s\n", r)
	}
	c.Output = out.String()
	if s.Skipped != "" {
		c.Skipped = s.Skipped
		return c
	}

	switch s.Outcome {
	case checker.Valid:
	case checker.Invalid:
		c.Failure = &Problem{Type: failureType(s), Message: message(s), Text: details(s)}
	default:
		typ := "unknown"
		if s.Error != "" {
			typ = "error"
		}
		c.Error = &Problem{Type: typ, Message: message(s), Text: details(s)}
	}
	return c
}

// failureType names what made an invalid outcome.
func failureType(s RunSummary) string {
	unexpectedCrash := false
	for _, c := range s.Crashes {
		unexpectedCrash = unexpectedCrash || !c.Expected
	}
	switch {
	case s.Verdict == checker.Valid:
		return "expectation" // an expected anomaly or crash did not show
	case len(s.Anomalies) > 0:
		return "anomaly"
	case unexpectedCrash:
		return "crash"
	default:
		return "expectation"
	}
}

// message is the failure's one line: the reasons, shortened.
func message(s RunSummary) string {
	m := strings.Join(s.Reasons, "; ")
	if s.Error != "" {
		m = "no verdict: " + firstLine(s.Error)
	}
	if m == "" {
		m = fmt.Sprintf("outcome %s (the run showed %s)", s.Outcome, s.Verdict)
	}
	if r := []rune(m); len(r) > 300 {
		m = string(r[:299]) + "…"
	}
	return m
}

// details lists every anomaly and crash.
func details(s RunSummary) string {
	var b strings.Builder
	if s.Error != "" {
		fmt.Fprintf(&b, "harness error: %s\n", s.Error)
	}
	for _, a := range s.Anomalies {
		fmt.Fprintf(&b, "anomaly %s: %s\n", a.Kind, a.Detail)
	}
	for _, c := range s.Crashes {
		exp := ""
		if c.Expected {
			exp = " (expected)"
		}
		fmt.Fprintf(&b, "crash %s%s: %s\n", c.Kind, exp, c.Detail)
	}
	if s.Dir != "" {
		fmt.Fprintf(&b, "evidence: %s (dqtest repro %s reruns it)\n", s.Dir, s.Dir)
	}
	return b.String()
}

// The XML shapes, after the Ant JUnit schema that CI tools read (Jenkins,
// GitLab, GitHub test reporters): every attribute that schema requires is
// written, also when a tool would not need it.
type xmlSuites struct {
	XMLName  xml.Name   `xml:"testsuites"`
	Name     string     `xml:"name,attr"`
	Tests    int        `xml:"tests,attr"`
	Failures int        `xml:"failures,attr"`
	Errors   int        `xml:"errors,attr"`
	Skipped  int        `xml:"skipped,attr"`
	Time     string     `xml:"time,attr"`
	Suites   []xmlSuite `xml:"testsuite"`
}

type xmlSuite struct {
	Name       string        `xml:"name,attr"`
	ID         int           `xml:"id,attr"`
	Package    string        `xml:"package,attr"`
	Tests      int           `xml:"tests,attr"`
	Failures   int           `xml:"failures,attr"`
	Errors     int           `xml:"errors,attr"`
	Skipped    int           `xml:"skipped,attr"`
	Time       string        `xml:"time,attr"`
	Timestamp  string        `xml:"timestamp,attr"`
	Hostname   string        `xml:"hostname,attr"`
	Properties []xmlProperty `xml:"properties>property"`
	Cases      []xmlCase     `xml:"testcase"`
	SystemOut  string        `xml:"system-out"`
	SystemErr  string        `xml:"system-err"`
}

type xmlProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type xmlCase struct {
	Name      string      `xml:"name,attr"`
	Classname string      `xml:"classname,attr"`
	Time      string      `xml:"time,attr"`
	Skipped   *xmlSkipped `xml:"skipped"`
	Error     *xmlProblem `xml:"error"`
	Failure   *xmlProblem `xml:"failure"`
	SystemOut *xmlText    `xml:"system-out"`
}

// xmlText is element text as CDATA, which keeps newlines readable in the
// file (encoding/xml splits a "]]>" inside it).
type xmlText struct {
	Text string `xml:",cdata"`
}

type xmlSkipped struct {
	Message string `xml:"message,attr,omitempty"`
}

type xmlProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",cdata"`
}

// WriteJUnit writes suites as one JUnit XML document (<testsuites>). The
// counts on every element are computed from the cases, so they always
// agree with them.
func WriteJUnit(w io.Writer, suites []Suite) error {
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	doc := xmlSuites{Name: "dqtest"}
	var total float64
	for i, s := range suites {
		ts := s.Timestamp
		if ts.IsZero() {
			ts = time.Now()
		}
		xs := xmlSuite{Name: s.Name, ID: i, Package: "dqtest", Hostname: host,
			Timestamp: ts.UTC().Format("2006-01-02T15:04:05"), Properties: []xmlProperty{}}
		for _, name := range sortedKeys(s.Properties) {
			xs.Properties = append(xs.Properties, xmlProperty{Name: name, Value: s.Properties[name]})
		}
		var secs float64
		for _, c := range s.Cases {
			xc := xmlCase{Name: c.Name, Classname: c.Classname, Time: fmt.Sprintf("%.3f", c.Seconds)}
			if c.Output != "" {
				xc.SystemOut = &xmlText{Text: c.Output}
			}
			switch {
			case c.Skipped != "":
				xc.Skipped = &xmlSkipped{Message: c.Skipped}
				xs.Skipped++
			case c.Error != nil:
				xc.Error = &xmlProblem{Message: c.Error.Message, Type: c.Error.Type, Text: c.Error.Text}
				xs.Errors++
			case c.Failure != nil:
				xc.Failure = &xmlProblem{Message: c.Failure.Message, Type: c.Failure.Type, Text: c.Failure.Text}
				xs.Failures++
			}
			xs.Tests++
			secs += c.Seconds
			xs.Cases = append(xs.Cases, xc)
		}
		xs.Time = fmt.Sprintf("%.3f", secs)
		total += secs
		doc.Tests += xs.Tests
		doc.Failures += xs.Failures
		doc.Errors += xs.Errors
		doc.Skipped += xs.Skipped
		doc.Suites = append(doc.Suites, xs)
	}
	doc.Time = fmt.Sprintf("%.3f", total)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// WriteJUnitFile writes suites to path, through a temporary file.
func WriteJUnitFile(path string, suites []Suite) error {
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return err
	}
	if err := WriteJUnit(f, suites); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
