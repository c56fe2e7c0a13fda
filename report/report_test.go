package report_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	stdhtml "html"
	"image/png"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/detect"
	"github.com/dqtest/dqtest/harness"
	"github.com/dqtest/dqtest/harness/sim"
	"github.com/dqtest/dqtest/report"
	"github.com/dqtest/dqtest/scenario"
	"github.com/dqtest/dqtest/verdict"
)

// simRunDir runs a shipped scenario on the simulator (with bug, if any) and
// returns its run directory, report.html written by the harness's hook.
func simRunDir(t *testing.T, file, bug string, seed int64) (string, *verdict.Result) {
	t.Helper()
	sc, err := scenario.Load(filepath.Join("..", "scenarios", file))
	require.NoError(t, err)
	sc.Seed = seed
	res, err := harness.Run(context.Background(), sc, harness.Options{
		Simulate: sim.Simulator(bug), SimBug: bug, RunsDir: t.TempDir(),
		Log: slog.New(slog.DiscardHandler), WriteReport: report.WriteDir,
	})
	require.NoError(t, err)
	return res.Dir, res
}

func readReport(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, report.File))
	require.NoError(t, err, "the run wrote report.html")
	return string(b)
}

// section returns the HTML of the section with the given id.
func section(t *testing.T, html, id string) string {
	t.Helper()
	start := strings.Index(html, `id="`+id+`"`)
	require.GreaterOrEqual(t, start, 0, "section %s is missing", id)
	rest := html[start:]
	end := strings.Index(rest, "</section>")
	if id == "verdict" {
		end = strings.Index(rest, "<nav>")
	}
	require.Greater(t, end, 0, "section %s is not closed", id)
	return rest[:end]
}

var sections = []string{"verdict", "scenario", "timeline", "latency", "throughput", "anomalies", "crashes", "nodes"}

// requireSelfContained checks that nothing in the page is fetched: no
// script, no stylesheet link, no remote source, and every plot a PNG that
// decodes.
func requireSelfContained(t *testing.T, html string, plots int) {
	t.Helper()
	require.NotContains(t, html, "<script")
	require.NotContains(t, html, "<link")
	require.NotRegexp(t, `(src|href)="(https?:)?//`, html)
	imgs := regexp.MustCompile(`<img class="plot"[^>]* src="data:image/png;base64,([^"]+)"`).FindAllStringSubmatch(html, -1)
	require.Len(t, imgs, plots, "plots embedded as PNG data URIs")
	for _, m := range imgs {
		b, err := base64.StdEncoding.DecodeString(stdhtml.UnescapeString(m[1]))
		require.NoError(t, err)
		img, err := png.Decode(bytes.NewReader(b))
		require.NoError(t, err)
		require.Greater(t, img.Bounds().Dx(), 1000, "drawn at twice screen resolution")
	}
}

func TestReportOfAValidSimulatorRunHasEverySectionAndSaysSimulator(t *testing.T) {
	dir, res := simRunDir(t, "sim-stale-read.yaml", "", 3)
	require.Equal(t, checker.Valid, res.Outcome)
	html := readReport(t, dir)
	for _, id := range sections {
		section(t, html, id)
	}
	requireSelfContained(t, html, 4)

	verdict := section(t, html, "verdict")
	require.Contains(t, verdict, `class="verdict verdict-valid"`)
	require.Contains(t, verdict, "<h1>VALID</h1>")
	require.Contains(t, verdict, "No anomaly and no crash")
	require.Contains(t, verdict, "Produced by the simulator, not by dqlite")
	require.Less(t, strings.Index(html, `id="verdict"`), strings.Index(html, `id="scenario"`), "the verdict comes first")

	sc := section(t, html, "scenario")
	require.Contains(t, sc, "partition-leader")
	require.Contains(t, sc, "dqtest repro "+dir)
	require.NotContains(t, sc, "<th>clients</th>", "the simulator models no client transport")
	require.Contains(t, section(t, html, "timeline"), "partition-leader", "the fault legend names the fault")
	require.Contains(t, section(t, html, "timeline"), "start-partition-leader", "the fault events are listed")
	lat := section(t, html, "latency")
	require.Contains(t, lat, "Latency quantiles")
	require.Regexp(t, `<td>read</td><td class="type">ok</td>`, lat)
	require.Regexp(t, `<td>all</td><td class="type">ok</td>`, lat)
	require.Contains(t, section(t, html, "anomalies"), "No anomaly")
	require.Contains(t, section(t, html, "crashes"), "No node crashed")
	require.Contains(t, section(t, html, "nodes"), "<summary>n1.log")
}

func TestReportOfAnInvalidRunExplainsEachAnomalyAndLinksPorcupine(t *testing.T) {
	dir, res := simRunDir(t, "sim-stale-read.yaml", sim.BugStaleRead, 1)
	require.Equal(t, checker.Invalid, res.Verdict)
	html := readReport(t, dir)
	requireSelfContained(t, html, 4)

	verdict := section(t, html, "verdict")
	require.Contains(t, verdict, "<h1>INVALID</h1>")
	require.Contains(t, verdict, "with the bug <b>stale-read</b> injected on purpose")
	require.Regexp(t, `Found \d+ anomal`, verdict)

	an := section(t, html, "anomalies")
	require.Contains(t, an, `class="anomaly"`)
	var anomalies int
	for _, c := range res.Checkers {
		for _, a := range c.Anomalies {
			anomalies++
			if anomalies <= 50 {
				require.Contains(t, an, a.Kind)
			}
		}
	}
	require.Positive(t, anomalies)
	require.Equal(t, min(anomalies, 50), strings.Count(an, `class="anomaly"`))
	require.Contains(t, an, `<td class="type">ok</td><td>read</td>`, "the operations involved are listed")
	require.FileExists(t, filepath.Join(dir, "linearizability.html"))
	require.Contains(t, an, `<a href="linearizability.html">`, "links porcupine's visualization")
}

func TestReportShowsCrashFindingsWithTheirEvidence(t *testing.T) {
	dir, res := simRunDir(t, "sim-crash-on-double-stop.yaml", sim.BugCrashOnDoubleStop, 1)
	require.NotEmpty(t, res.Crashes)
	html := readReport(t, dir)
	cr := section(t, html, "crashes")
	require.Contains(t, cr, `class="crash"`)
	require.Contains(t, cr, "dqlite_node_stop")
	require.Contains(t, cr, res.Crashes[0].Signature[:20])
	require.Contains(t, cr, "The end of "+res.Crashes[0].Node+"'s log")
	require.Contains(t, section(t, html, "verdict"), "crash finding")
	nodes := section(t, html, "nodes")
	require.Contains(t, nodes, "SIGABRT")
}

func TestReportRegeneratesFromTheRunDirectoryAlone(t *testing.T) {
	dir, _ := simRunDir(t, "sim-stale-read.yaml", sim.BugStaleRead, 1)
	first := readReport(t, dir)
	require.NoError(t, os.Remove(filepath.Join(dir, report.File)))
	require.NoError(t, report.WriteDir(dir))
	again := readReport(t, dir)
	stamp := regexp.MustCompile(`Written by dqtest at [^<]*`)
	require.Equal(t, stamp.ReplaceAllString(first, ""), stamp.ReplaceAllString(again, ""))
	require.FileExists(t, filepath.Join(dir, report.JUnitFile))
}

func TestReportOfARunCutShortShowsTheErrorAndWhatItHas(t *testing.T) {
	dir := t.TempDir()
	res := verdict.Result{Scenario: "broken", Backend: "docker", Verdict: checker.Unknown, Outcome: checker.Unknown,
		Error: "starting the cluster: image dqtest-node:latest missing", Nodes: map[string]detect.NodeExit{}}
	writeResults(t, dir, res)
	require.NoError(t, report.WriteDir(dir))
	html := readReport(t, dir)
	require.Contains(t, section(t, html, "verdict"), "<h1>UNKNOWN</h1>")
	require.Contains(t, html, "image dqtest-node:latest missing")
	require.Contains(t, section(t, html, "timeline"), "No client operation was recorded")
	require.Contains(t, html, "history.jsonl", "says the history is missing")
	requireSelfContained(t, html, 0)
}

func TestWriteDirRefusesADirectoryWithoutResults(t *testing.T) {
	err := report.WriteDir(t.TempDir())
	require.ErrorContains(t, err, "not a finished run directory")
}

func writeResults(t *testing.T, dir string, res verdict.Result) {
	t.Helper()
	b, err := json.MarshalIndent(res, "", "  ")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, verdict.ResultsFile), b, 0o644))
}
func TestReportOfAStoredDockerRunDoesNotClaimSimulator(t *testing.T) {
	// A real run on dqlite containers, with a self-test node that serves
	// stale reads (scenarios/selftest-stale-reads.yaml), kept short.
	src := filepath.Join("testdata", "docker-stale-reads")
	dir := filepath.Join(t.TempDir(), "run")
	require.NoError(t, os.CopyFS(dir, os.DirFS(src)))
	require.NoError(t, report.WriteDir(dir))
	html := readReport(t, dir)
	for _, id := range sections {
		section(t, html, id)
	}
	requireSelfContained(t, html, 4)
	verdict := section(t, html, "verdict")
	require.NotContains(t, verdict, "simulator")
	require.Contains(t, verdict, "real dqlite nodes in containers")
	require.Contains(t, verdict, "every run used dqlite 1.18.1", "a run directory from before versions were recorded says what it ran")
	require.Contains(t, section(t, html, "scenario"), "<th>clients</th><td>node: each operation through its node's control API",
		"a run directory from before client modes existed is a node-mode run")
	require.Contains(t, section(t, html, "anomalies"), `class="anomaly"`)
	require.Contains(t, section(t, html, "nodes"), "<summary>n2.log")

	// The same run as if its clients had been direct (which the stale-read
	// self-test does not allow: its flag goes).
	sc, err := os.ReadFile(filepath.Join(dir, "scenario.yaml"))
	require.NoError(t, err)
	flag := "node_args:\n  n2:\n  - --self-test-stale-reads=3s\n"
	require.Contains(t, string(sc), flag)
	direct := strings.Replace(string(sc), flag, "", 1) + "client: direct\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "scenario.yaml"), []byte(direct), 0o644))
	require.NoError(t, report.WriteDir(dir))
	require.Contains(t, section(t, readReport(t, dir), "scenario"), "<th>clients</th><td>direct: from dqtest straight to the leader")
}
