package shrink

import (
	"bytes"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/dqtest/dqtest/nemesis"
	"github.com/dqtest/dqtest/scenario"
	"github.com/dqtest/dqtest/verdict"
)

// shrunkScenario is the best candidate as a scenario file: its seed, a
// description saying where it comes from, expect set to the finding.
func (s *shrinker) shrunkScenario() scenario.Scenario {
	sc := s.build(s.best)
	sc.Seed = s.bestSeed
	r := s.report
	var b strings.Builder
	fmt.Fprintf(&b, "Shrunk by dqtest shrink from %s: the smallest scenario the search found that still shows %s.\n", r.Source, s.finding.Key)
	fmt.Fprintf(&b, "Before: %s.\n", describeSize(r.Original))
	fmt.Fprintf(&b, "After: %s.\n", describeSize(sizeOf(s.best, s.bestRes)))
	if r.Confirm != nil {
		how := "runs with fresh seeds"
		if s.exact {
			how = fmt.Sprintf("simulated runs with seeds %d..%d", s.bestSeed, s.bestSeed+int64(r.Confirm.Runs)-1)
		}
		fmt.Fprintf(&b, "It showed the finding in %s %s.\n", r.Confirm, how)
	}
	if r.SimBug != "" {
		fmt.Fprintf(&b, "Simulator bug %s: run it with --sim-bug %s.\n", r.SimBug, r.SimBug)
	}
	fmt.Fprintf(&b, "Expect is set to the finding: the scenario passes while it reproduces, and fails the day it stops.\n")
	dnr := AnomalyFinding("did-not-recover")
	if s.finding.Key != dnr.Key && Shows(s.bestRes, dnr) {
		sc.Expect.Recovery = scenario.RecoveryOptional
		fmt.Fprintf(&b, "Its run also did not recover after healing (a consequence of the finding), so expect.recovery is optional.\n")
	}
	if others := otherFindings(s.bestRes, s.finding); others != "" {
		fmt.Fprintf(&b, "Its run also showed %s, which expect does not list: the gate fails while they appear.\n", others)
	}
	sc.Description = b.String()
	return sc
}

// MarshalScenario renders a shrunk scenario as a scenario file.
func MarshalScenario(sc scenario.Scenario, finding Finding) ([]byte, error) {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# Shrunk reproduction of %s (dqtest shrink).\n", finding.Key)
	b, err := yaml.MarshalWithOptions(sc, yaml.UseLiteralStyleIfMultiline(true))
	if err != nil {
		return nil, err
	}
	buf.Write(b)
	return buf.Bytes(), nil
}

// writeBest writes shrunk.yaml and points the best link at the best
// candidate's run directory, after every improvement: an interrupted
// search leaves its best so far.
func (s *shrinker) writeBest() error {
	sc := s.shrunkScenario()
	s.report.Scenario = sc
	data, err := MarshalScenario(sc, s.finding)
	if err != nil {
		return err
	}
	if err := verdict.WriteFileAtomic(filepath.Join(s.opts.Out, ShrunkFile), data); err != nil {
		return err
	}
	link := filepath.Join(s.opts.Out, BestLink)
	tmp := link + ".tmp"
	_ = os.Remove(tmp)
	if err := os.Symlink(s.bestDir, tmp); err != nil {
		return err
	}
	return os.Rename(tmp, link)
}

func (s *shrinker) writeOutputs() error {
	r := s.report
	r.Shrunk = sizeOf(s.best, s.bestRes)
	r.After = Steps(s.best.eps)
	r.Best = s.bestDir
	r.Stopped = s.stopped
	if err := s.writeBest(); err != nil {
		return err
	}
	if err := verdict.WriteJSON(filepath.Join(s.opts.Out, ReportJSONFile), r); err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := WriteHTML(&buf, r); err != nil {
		return err
	}
	if err := verdict.WriteFileAtomic(filepath.Join(s.opts.Out, ReportFile), buf.Bytes()); err != nil {
		return err
	}
	s.logln("wrote %s, %s, %s", filepath.Join(s.opts.Out, ShrunkFile), filepath.Join(s.opts.Out, ReportFile), filepath.Join(s.opts.Out, ReportJSONFile))
	return nil
}

// Commands are the commands that rerun a shrink's outcome.
func (r *Report) Commands() []string {
	shrunk := filepath.Join(r.Out, ShrunkFile)
	cmds := []string{r.Rerun + " " + shrunk}
	if !r.Exact {
		cmds = append(cmds, r.Rerun+" --repeat 10 "+shrunk+"   # its rate over 10 fresh seeds")
	} else {
		cmds = append(cmds, r.Rerun+" --repeat 10 --seed "+fmt.Sprint(r.Scenario.Seed)+" "+shrunk+"   # 10 seeds from its own")
	}
	cmds = append(cmds, "dqtest repro "+filepath.Join(r.Out, BestLink)+"   # the best candidate's run again",
		"dqtest shrink "+filepath.Join(r.Out, BestLink)+" --out "+r.Out+"-2   # shrink on from the best candidate")
	return cmds
}

var page = template.Must(template.New("shrink").Funcs(template.FuncMap{
	"dur":   func(d time.Duration) string { return d.String() },
	"wall":  func(d time.Duration) string { return d.Round(10 * time.Millisecond).String() },
	"steps": stepLines,
	"yes": func(b bool) string {
		if b {
			return "reproduced"
		}
		return "not reproduced"
	},
	"join": strings.Join,
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>dqtest shrink: {{.Finding.Key}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;max-width:70em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f3f3f3}.ok{color:#176117;font-weight:bold}.no{color:#888}.warn{background:#fff4d6;padding:.5em;border:1px solid #e0c070}
pre{background:#f6f6f6;padding:.6em;overflow-x:auto}code{background:#f6f6f6}
</style></head><body>
<h1>Shrunk: {{.Finding.Key}}</h1>
{{if .Exact}}<p class="warn">Simulator run{{if .SimBug}} with the injected bug <b>{{.SimBug}}</b>{{end}}: the finding is about the model or the harness, not about dqlite. Each candidate ran once with its seed and reproduced or not, exactly.</p>
{{else}}<p>Backend <b>{{.Backend}}</b>: each candidate ran up to {{.Tries}} times with fresh seeds and counted as reproducing when any run showed the finding.</p>{{end}}
<p>From <code>{{.Source}}</code>. Search {{.Stopped}} after {{len .Attempts}} candidates in {{wall .SearchWall}}; with the confirmation runs, {{wall .Wall}} in all.</p>
<h2>Before and after</h2>
<table><tr><th></th><th>original</th><th>shrunk</th></tr>
<tr><th>fault steps (episodes)</th><td>{{.Original.Steps}} ({{.Original.Episodes}})</td><td>{{.Shrunk.Steps}} ({{.Shrunk.Episodes}})</td></tr>
<tr><th>time limit</th><td>{{dur .Original.TimeLimit}}</td><td>{{dur .Shrunk.TimeLimit}}</td></tr>
<tr><th>nodes</th><td>{{.Original.Nodes}}</td><td>{{.Shrunk.Nodes}}</td></tr>
<tr><th>clients</th><td>{{.Original.Clients}}</td><td>{{.Shrunk.Clients}}</td></tr>
<tr><th>rate (ops/s, 0: unlimited)</th><td>{{.Original.Rate}}</td><td>{{.Shrunk.Rate}}</td></tr>
{{if or .Original.Keys .Shrunk.Keys}}<tr><th>keys</th><td>{{.Original.Keys}}</td><td>{{.Shrunk.Keys}}</td></tr>{{end}}
{{if or .Original.Accounts .Shrunk.Accounts}}<tr><th>accounts</th><td>{{.Original.Accounts}}</td><td>{{.Shrunk.Accounts}}</td></tr>{{end}}
<tr><th>operations invoked</th><td>{{.Original.Ops}}</td><td>{{.Shrunk.Ops}}</td></tr>
<tr><th>reproduction rate</th><td>{{with .OriginalRate}}{{.}}{{else}}not measured (--measure-original){{end}}</td><td>{{with .Confirm}}{{.}}{{else}}not measured{{end}}</td></tr>
</table>
<h2>Fault steps</h2>
<table><tr><th>original</th><th>shrunk</th></tr><tr><td><pre>{{steps .Before}}</pre></td><td><pre>{{steps .After}}</pre></td></tr></table>
<h2>Rerun</h2>
<pre>{{range .Commands}}{{.}}
{{end}}</pre>
<p>Files: <a href="shrunk.yaml"><code>shrunk.yaml</code></a> (the scenario, <code>expect</code> set to the finding: it can ship as a regression gate as is), <a href="shrink.log"><code>shrink.log</code></a>, <a href="shrink.json"><code>shrink.json</code></a>, every candidate's run directory under <code>candidates/</code>, the best one linked as <code>best</code>.</p>
<h2>Candidates</h2>
<table><tr><th>id</th><th>change</th><th>result</th><th>size</th><th>wall</th><th>runs</th></tr>
{{range .Attempts}}<tr><td>{{.ID}}</td><td>{{.Change}}</td><td class="{{if .Reproduced}}ok{{else}}no{{end}}">{{yes .Reproduced}}{{if .Error}} ({{.Error}}){{end}}</td>
<td>{{.Size.Steps}} steps, {{dur .Size.TimeLimit}}, {{.Size.Nodes}} nodes, {{.Size.Clients}} clients</td><td>{{wall .Wall}}</td><td>{{range .Runs}}<a href="{{.}}/">{{.}}</a> {{end}}</td></tr>
{{end}}</table>
</body></html>
`))

// WriteHTML writes the shrink report page: one self-contained HTML page.
func WriteHTML(w interface{ Write([]byte) (int, error) }, r *Report) error {
	return page.Execute(w, r)
}

func stepLines(steps []nemesis.Step) string {
	if len(steps) == 0 {
		return "(none)"
	}
	var b strings.Builder
	for _, st := range steps {
		fmt.Fprintf(&b, "%8s  %-5s %s", st.At, st.Action, st.Fault)
		if len(st.Targets) > 0 {
			fmt.Fprintf(&b, " %s", strings.Join(st.Targets, ","))
		}
		if st.Loss > 0 {
			fmt.Fprintf(&b, " loss %g", st.Loss)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// otherFindings names what a run showed besides the finding (and
// did-not-recover, which shrunkScenario allows), or "".
func otherFindings(res *verdict.Result, f Finding) string {
	if res == nil {
		return ""
	}
	var others []string
	for _, g := range Findings(res) {
		if g.Key != f.Key && g.Key != "anomaly did-not-recover" {
			others = append(others, g.Key)
		}
	}
	return strings.Join(others, ", ")
}
