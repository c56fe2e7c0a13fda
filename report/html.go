package report

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/detect"
	"github.com/dqtest/dqtest/history"
	"github.com/dqtest/dqtest/scenario"
	"github.com/dqtest/dqtest/verdict"
)

//go:embed report.html.tmpl
var pageTemplate string

var tmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"ms":      func(v float64) string { return formatMS(v) },
	"secs":    func(v float64) string { return fmt.Sprintf("%.1f s", v) },
	"dqlite":  verdict.DqliteVersions,
	"rate":    func(v float64) string { return fmt.Sprintf("%.1f", v) },
	"at":      func(ns int64) string { return fmt.Sprintf("%.3f", seconds(ns)) },
	"value":   jsonValue,
	"join":    strings.Join,
	"lower":   func(v checker.Verdict) string { return string(v) },
	"upper":   func(v checker.Verdict) string { return strings.ToUpper(string(v)) },
	"kb":      func(n int64) string { return fmt.Sprintf("%.1f KB", float64(n)/1024) },
	"stamp":   func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"hasText": func(s string) bool { return strings.TrimSpace(s) != "" },
}).Parse(pageTemplate))

// maxAnomaliesShown bounds the anomalies listed per checker; results.json
// has them all.
const maxAnomaliesShown = 50

// WriteDir writes a run directory's reports: report.html, and junit.xml
// with the run as one test case. Each goes through a temporary file, so a
// reader never sees half a report.
func WriteDir(dir string) error {
	r, err := Load(dir)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := WriteHTML(&b, r); err != nil {
		return err
	}
	path := filepath.Join(dir, File)
	if err := os.WriteFile(path+".tmp", b.Bytes(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		return err
	}
	sum := Summarize(r.Result.Scenario, &r.Result, nil)
	return WriteJUnitFile(filepath.Join(dir, JUnitFile), []Suite{{Name: r.Result.Scenario,
		Timestamp: r.Result.Started, Cases: []Case{CaseOf(sum)}}})
}

// WriteHTML writes the run's report: one self-contained HTML page (inline
// CSS, plots as PNG data URIs, no script, nothing fetched).
func WriteHTML(w io.Writer, r *Run) error {
	return tmpl.Execute(w, newPage(r))
}

// page is what the template shows.
type page struct {
	*Run
	Res         *verdict.Result
	Headline    string
	Expected    string
	Plots       map[string]template.URL
	PlotProblem string
	Thinned     int
	Ops         int
	Quantiles   []quantileRow
	FaultEvents []history.Event
	FaultKinds  []legendEntry
	Checkers    []checkerView
	Nodes       []nodeRow
	Generated   time.Time
}

type legendEntry struct {
	Name   string
	Colour template.CSS
}

type checkerView struct {
	checker.Result
	Shown []anomalyView
	More  int
	// Visualization is porcupine's file in the run directory, if there.
	Visualization string
}

type nodeRow struct {
	Node string
	detect.NodeExit
}

func newPage(r *Run) *page {
	res := &r.Result
	p := &page{Run: r, Res: res, Plots: map[string]template.URL{}, Generated: time.Now()}
	p.Headline = headline(res)
	p.Expected = expectation(res.Expect)

	// The bank reads whose overlapping transfers are shown.
	var reads []readWindow
	readOf := map[[2]int]int{} // (checker, anomaly) -> its read in reads
	for ci, c := range res.Checkers {
		if c.Checker != "bank" {
			continue
		}
		for ai, a := range c.Anomalies[:min(len(c.Anomalies), maxAnomaliesShown)] {
			if rw, ok := readWindowOf(a); ok {
				readOf[[2]int{ci, ai}] = len(reads)
				reads = append(reads, rw)
			}
		}
	}
	src := r.History
	if src == nil {
		src = history.SliceSource(r.Events)
	}
	d := digestHistory(src, anomalousEvents(res.Checkers), reads)
	if r.History != nil {
		r.HistoryProblem = d.problem
	}
	p.Ops = d.ops
	p.Quantiles = d.latencies.rows()
	drawn, k := d.drawn, d.thinned
	p.Thinned = k
	ps := newPlotSetUntil(d.nemesis, d.end, r.Simulated())
	if d.ops > 0 {
		for name, draw := range map[string]func([]span) (string, error){
			"timeline": ps.timeline, "latency": ps.latency, "quantiles": ps.quantiles, "throughput": ps.throughput,
		} {
			uri, err := draw(drawn)
			if err != nil {
				p.PlotProblem = fmt.Sprintf("drawing the %s plot failed: %v", name, err)
				continue
			}
			p.Plots[name] = template.URL(uri)
		}
	}
	for _, k := range faultKinds(ps.windows) {
		p.FaultKinds = append(p.FaultKinds, legendEntry{Name: k, Colour: cssColour(ps.faultKind[k])})
	}
	p.FaultEvents = d.nemesis

	for ci, c := range res.Checkers {
		v := checkerView{Result: c}
		shown := c.Anomalies[:min(len(c.Anomalies), maxAnomaliesShown)]
		v.Shown = make([]anomalyView, len(shown))
		for ai, a := range shown {
			v.Shown[ai].Anomaly = a
			if i, ok := readOf[[2]int{ci, ai}]; ok {
				v.Shown[ai].Overlapping, v.Shown[ai].OverlapNote = d.counts[i].result(reads[i])
			}
		}
		v.More = len(c.Anomalies) - len(v.Shown)
		for _, a := range r.Artifacts {
			if strings.HasPrefix(a, "linearizability") && strings.HasSuffix(a, ".html") && c.Checker == "register" {
				v.Visualization = a
			}
		}
		p.Checkers = append(p.Checkers, v)
	}
	names := make([]string, 0, len(res.Nodes))
	for n := range res.Nodes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p.Nodes = append(p.Nodes, nodeRow{Node: n, NodeExit: res.Nodes[n]})
	}
	return p
}

// headline is the one sentence under the verdict.
func headline(res *verdict.Result) string {
	anomalies := 0
	var kinds []string
	for _, c := range res.Checkers {
		anomalies += len(c.Anomalies)
		for _, a := range c.Anomalies {
			if !slices.Contains(kinds, a.Kind) {
				kinds = append(kinds, a.Kind)
			}
		}
	}
	var parts []string
	switch {
	case res.Error != "":
		return "The run did not reach a verdict: " + firstLine(res.Error)
	case anomalies > 0:
		parts = append(parts, fmt.Sprintf("%d %s (%s)", anomalies, plural(anomalies, "anomaly", "anomalies"), strings.Join(kinds, ", ")))
	}
	if n := len(res.Crashes); n > 0 {
		parts = append(parts, fmt.Sprintf("%d crash %s", n, plural(n, "finding", "findings")))
	}
	if len(parts) == 0 {
		if res.Verdict == checker.Valid {
			return fmt.Sprintf("No anomaly and no crash in %d operations.", res.Ops.Invoked)
		}
		return fmt.Sprintf("The checkers could not decide (%d operations).", res.Ops.Invoked)
	}
	return fmt.Sprintf("Found %s in %d operations.", strings.Join(parts, " and "), res.Ops.Invoked)
}

func expectation(e scenario.Expect) string {
	var parts []string
	if e.Verdict != "" {
		parts = append(parts, "verdict "+string(e.Verdict))
	}
	if len(e.Anomalies) > 0 {
		parts = append(parts, "anomalies "+strings.Join(e.Anomalies, ", "))
	}
	if e.Crash != "" {
		parts = append(parts, fmt.Sprintf("a crash matching %q", e.Crash))
	}
	return strings.Join(parts, "; ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func formatMS(v float64) string {
	switch {
	case math.IsNaN(v):
		return "–"
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 1:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}

// jsonValue renders an event's value as the history has it.
func jsonValue(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func cssColour(c color.Color) template.CSS {
	r, g, b, a := c.RGBA()
	if a == 0 {
		return "transparent"
	}
	// Un-premultiply; the bands are translucent in the plots, so the
	// legend shows them at the same strength over white.
	alpha := float64(a) / 0xffff
	return template.CSS(fmt.Sprintf("rgba(%d,%d,%d,%.2f)", r*0xff/a, g*0xff/a, b*0xff/a, alpha))
}
