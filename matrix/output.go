package matrix

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dqtest/dqtest/report"
)

// Files a matrix directory holds besides the runs.
const (
	TableFile   = "table.txt"
	SummaryFile = "index.html"
	JUnitFile   = "junit.xml"
)

// WriteTable writes one line per cell: workload, nemesis, status, the
// run's outcome, wall time, start-up and teardown (the cost of a fresh
// cluster per cell), operations, and what was found; then the totals.
func WriteTable(w io.Writer, res *Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	versions := slices.ContainsFunc(res.Cells, func(c Cell) bool { return c.Dqlite != "" })
	if versions {
		fmt.Fprint(tw, "DQLITE\t")
	}
	fmt.Fprintln(tw, "WORKLOAD\tNEMESIS\tSTATUS\tOUTCOME\tWALL\tSTARTUP\tTEARDOWN\tOPS\tOK/S\tFINDINGS")
	var startup, teardown float64
	for _, c := range res.Cells {
		r := c.Run
		startup += r.Phases.Startup
		teardown += r.Phases.Teardown
		if versions {
			fmt.Fprintf(tw, "%s\t", c.Dqlite)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%.1f\t%s\n", c.Workload, c.Nemesis, c.Status, r.Outcome,
			secs(c.Wall), secs(r.Phases.Startup), secs(r.Phases.Teardown), r.Ops.Invoked, r.Ops.OKPerSecond, findings(c))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	n := Counts(res.Cells)
	ran := len(res.Cells) - n[Skipped] - n[Missing] - n[Unsupported]
	stuck := 0
	for _, c := range res.Cells {
		if c.Recovery != nil && !c.Recovery.Recovered && c.Run.Error == "" && c.Status != Skipped && c.Status != Missing {
			stuck++
		}
	}
	fmt.Fprintf(w, "\n%d cells: %d passed, %d failed, %d expected to fail, %d passed though expected to fail, %d unknown, %d skipped",
		len(res.Cells), n[Passed], n[Failed], n[ExpectedFail], n[UnexpectedPass], n[Unknown], n[Skipped])
	if n[Unsupported] > 0 {
		fmt.Fprintf(w, ", %d the backend cannot run", n[Unsupported])
	}
	if n[Missing] > 0 {
		fmt.Fprintf(w, ", %d MISSING (no shard reported them: %s)", n[Missing], strings.Join(MissingCells(res), ", "))
	}
	fmt.Fprintln(w)
	if !res.Plan.Shard.Whole() {
		fmt.Fprintf(w, "shard %s of a %d-cell matrix (plan %s)\n", res.Plan.Shard, len(res.Plan.Cells), res.Plan.Fingerprint)
	}
	if len(res.Parts) > 0 {
		var longest, sum float64
		for _, p := range res.Parts {
			longest, sum = max(longest, p.Wall), sum+p.Wall
		}
		fmt.Fprintf(w, "merged from %d directories: the longest took %s, %s in all\n", len(res.Parts),
			(time.Duration(longest) * time.Second).Round(time.Second), (time.Duration(sum) * time.Second).Round(time.Second))
	}
	if stuck > 0 {
		fmt.Fprintf(w, "%d cells ended with a cluster that did not recover after healing (see their findings)\n", stuck)
	}
	if ran > 0 {
		fmt.Fprintf(w, "wall %s in all; per cell: start-up %.1f s, teardown %.1f s on average\n",
			(time.Duration(res.Wall) * time.Second).Round(time.Second), startup/float64(ran), teardown/float64(ran))
	}
	_, err := fmt.Fprintf(w, "matrix outcome: %s\n", res.Outcome)
	return err
}

func secs(s float64) string { return fmt.Sprintf("%.1fs", s) }

// findings is a cell's findings in a few words: the mark's reason, the
// anomaly kinds, the crashes, or the error.
func findings(c Cell) string {
	var parts []string
	if c.ExpectFail != "" {
		parts = append(parts, "expected to fail: "+c.ExpectFail)
	}
	kinds := map[string]int{}
	var order []string
	for _, a := range c.Run.Anomalies {
		if kinds[a.Kind] == 0 {
			order = append(order, a.Kind)
		}
		kinds[a.Kind]++
	}
	for _, k := range order {
		parts = append(parts, fmt.Sprintf("%d x %s", kinds[k], k))
	}
	for _, cr := range c.Run.Crashes {
		parts = append(parts, "crash "+cr.Detail)
	}
	if c.Recovery != nil && !c.Recovery.Recovered && c.Run.Error == "" && c.Status != Skipped {
		parts = append(parts, "did not recover: "+firstLine(c.Recovery.Error))
	}
	if c.Run.Error != "" {
		parts = append(parts, "error: "+firstLine(c.Run.Error))
	} else if c.Run.Outcome != "valid" && len(c.Run.Anomalies) == 0 && len(c.Run.Crashes) == 0 {
		parts = append(parts, c.Run.Reasons...)
	}
	return strings.Join(slices.Compact(parts), "; ")
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// JUnit is the matrix as one JUnit suite, one case per cell, named
// "workload/nemesis". An expected failure is a passing case whose output
// says so (the known bug is not a regression); a cell that did not run is
// skipped.
func JUnit(res *Result) report.Suite {
	s := report.Suite{Name: res.Name, Timestamp: res.Start, Properties: map[string]string{"cells": fmt.Sprint(len(res.Cells))}}
	for _, c := range res.Cells {
		jc := report.CaseOf(c.Run)
		jc.Name, jc.Classname, jc.Seconds = c.Key(), "dqtest.matrix."+c.Workload, c.Wall
		switch c.Status {
		case ExpectedFail:
			jc.Output = fmt.Sprintf("expected to fail (%s) and failed: not a regression\n", c.ExpectFail) + jc.Output
			if jc.Failure != nil {
				jc.Output += "failure: " + jc.Failure.Message + "\n" + jc.Failure.Text
			}
			jc.Failure = nil
		case UnexpectedPass:
			jc.Output = fmt.Sprintf("marked as expected to fail (%s) but passed: is the mark stale?\n", c.ExpectFail) + jc.Output
		case Skipped:
			jc = report.Case{Name: c.Key(), Classname: "dqtest.matrix." + c.Workload, Skipped: "the matrix was interrupted before this cell ran"}
		case Unsupported:
			jc = report.Case{Name: c.Key(), Classname: "dqtest.matrix." + c.Workload, Skipped: c.Run.Skipped}
		case Missing:
			jc = report.Case{Name: c.Key(), Classname: "dqtest.matrix." + c.Workload, Error: &report.Problem{
				Message: "missing: no shard reported this cell", Type: "missing", Text: c.Run.Error}}
		}
		s.Cases = append(s.Cases, jc)
	}
	return s
}

// WriteFiles writes matrix.json, the table, the JUnit file (to junitPath,
// or the matrix directory's junit.xml when empty) and the summary page
// into the matrix directory.
func WriteFiles(res *Result, junitPath string) error {
	if err := WriteResult(res); err != nil {
		return err
	}
	var table bytes.Buffer
	if err := WriteTable(&table, res); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(res.Dir, TableFile), table.Bytes(), 0o644); err != nil {
		return err
	}
	if junitPath == "" {
		junitPath = filepath.Join(res.Dir, JUnitFile)
	}
	if err := report.WriteJUnitFile(junitPath, []report.Suite{JUnit(res)}); err != nil {
		return fmt.Errorf("junit: %w", err)
	}
	var page bytes.Buffer
	if err := WriteSummary(&page, res); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(res.Dir, SummaryFile), page.Bytes(), 0o644)
}

// WriteSummary writes the summary page: a grid of workload x nemesis, each
// cell coloured by status and linking to its run's report (or run
// directory), then one row per cell with durations and findings. The page
// is self-contained and its links are relative, so the matrix directory
// can be moved or archived whole.
func WriteSummary(w io.Writer, res *Result) error {
	type cellView struct {
		Cell
		Link, Findings string
	}
	var workloads, nemeses []string
	grid := map[string]map[string]cellView{}
	var rows []cellView
	for _, c := range res.Cells {
		path := c.Path
		if path == "" {
			path = c.Scenario
		}
		link := path + "/"
		if _, err := os.Stat(filepath.Join(res.Dir, filepath.FromSlash(path), report.File)); err == nil {
			link = path + "/" + report.File
		}
		v := cellView{Cell: c, Link: link, Findings: findings(c)}
		if grid[c.Workload] == nil {
			grid[c.Workload] = map[string]cellView{}
			workloads = append(workloads, c.Workload)
		}
		if len(workloads) == 1 {
			nemeses = append(nemeses, c.Nemesis)
		}
		grid[c.Workload][c.Nemesis] = v
		rows = append(rows, v)
	}
	var table bytes.Buffer
	_ = WriteTable(&table, res)
	return summaryPage.Execute(w, map[string]any{
		"Res": res, "Workloads": workloads, "Nemeses": nemeses, "Grid": grid, "Rows": rows,
		"Totals": strings.SplitN(table.String(), "\n\n", 2)[1],
	})
}

var summaryPage = template.Must(template.New("matrix").Funcs(template.FuncMap{
	"secs": secs,
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>dqtest matrix {{.Res.Name}}: {{.Res.Outcome}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f4f4f4}
.passed{background:#d8f5d8}.FAILED{background:#f8c8c8}.expected-fail{background:#f3e3b5}
.passed-unexpectedly{background:#cfe3f7}.UNKNOWN{background:#e0e0e0}.skipped{background:#fff;color:#999}.MISSING{background:#c9c9c9;font-weight:bold}
a{color:inherit}
pre{background:#f8f8f8;padding:1em}
</style></head><body>
<h1>dqtest matrix {{.Res.Name}}: {{.Res.Outcome}}</h1>
<p>Started {{.Res.Start.UTC.Format "2006-01-02 15:04:05 UTC"}}, {{len .Res.Cells}} cells, {{secs .Res.Wall}} in all. Each cell is one run on a fresh cluster; click a cell for its report.</p>
{{if .Res.Parts}}<p>Merged from {{len .Res.Parts}} directories: {{range $i, $p := .Res.Parts}}{{if $i}}, {{end}}<a href="{{$p.Dir}}/">{{$p.Dir}}</a> ({{if $p.Shard.N}}shard {{$p.Shard}}, {{end}}{{$p.Cells}} cells, {{secs $p.Wall}}){{end}}.</p>{{end}}
<table><tr><th>workload \ nemesis</th>{{range .Nemeses}}<th>{{.}}</th>{{end}}</tr>
{{range $w := .Workloads}}<tr><th>{{$w}}</th>{{range $n := $.Nemeses}}{{with index (index $.Grid $w) $n}}<td class="{{.Status}}"><a href="{{.Link}}">{{.Status}}</a><br><small>{{secs .Wall}}</small></td>{{else}}<td></td>{{end}}{{end}}</tr>
{{end}}</table>
<pre>{{.Totals}}</pre>
<h2>Cells</h2>
<table><tr><th>cell</th><th>status</th><th>outcome</th><th>wall</th><th>start-up</th><th>teardown</th><th>ops (ok/s)</th><th>seed</th><th>findings</th></tr>
{{range .Rows}}<tr class="{{.Status}}"><td><a href="{{.Link}}">{{with .Dqlite}}{{.}} / {{end}}{{.Workload}} / {{.Nemesis}}</a></td><td>{{.Status}}</td><td>{{.Run.Outcome}}</td><td>{{secs .Wall}}</td><td>{{secs .Run.Phases.Startup}}</td><td>{{secs .Run.Phases.Teardown}}</td><td>{{.Run.Ops.Invoked}} ({{printf "%.1f" .Run.Ops.OKPerSecond}})</td><td>{{.Run.Seed}}</td><td>{{.Findings}}</td></tr>
{{end}}</table>
</body></html>
`))
