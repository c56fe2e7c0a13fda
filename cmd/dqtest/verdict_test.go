package main

// One history, one verdict: `dqtest check RUN-DIR` gives the exit code
// `dqtest run` gave; `dqtest check` refuses to judge nothing; the simulator
// skips what it cannot model.

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/harness/sim"
	"github.com/dqtest/dqtest/report"
	"github.com/dqtest/dqtest/scenario"
	"github.com/dqtest/dqtest/verdict"
)

// TestCheckOfARunDirectoryGivesTheRunsExitCode runs every shipped scenario
// the simulator models, bug-free and with each bug relevant to it, through
// `dqtest run`, then `dqtest check` on its run directory: the exit codes
// and verdicts are equal, crash findings included.
func TestCheckOfARunDirectoryGivesTheRunsExitCode(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every shipped scenario on the simulator")
	}
	files, err := filepath.Glob("../../scenarios/*.yaml")
	require.NoError(t, err)
	seen := map[int]int{} // exit code -> runs
	for _, f := range files {
		sc, err := scenario.Load(f)
		require.NoError(t, err)
		sc.Backend = "sim"
		if sim.Supports(sc) != nil {
			continue
		}
		for _, bug := range append([]string{""}, sim.BugNames()...) {
			if !sim.Relevant(bug, sc) {
				continue
			}
			name := sc.Name + "/" + bug
			t.Run(name, func(t *testing.T) {
				out := t.TempDir()
				args := []string{"run", f, "--backend", "sim", "--seed", "3", "--out", out}
				if bug != "" {
					args = append(args, "--sim-bug", bug)
				}
				runCode, _, stderr := runCLI(t, args...)
				dir := latestRun(t, out, sc.Name)
				res, err := verdict.ReadResult(dir)
				require.NoError(t, err, stderr)
				require.Equal(t, runCode, verdict.ExitCode(res.Outcome), "run's exit code follows results.json's outcome")

				checkCode, text, msg := runCLI(t, "check", dir, "--json")
				require.Equal(t, runCode, checkCode, "dqtest check %s: %s %s", dir, msg, text)
				var rep verdict.Report
				require.NoError(t, json.Unmarshal([]byte(text), &rep))
				require.Equal(t, res.Verdict, rep.Verdict)
				require.Equal(t, res.Outcome, rep.Outcome)
				require.Equal(t, len(res.Crashes), len(rep.Crashes), "crash findings come from the stored logs")
				require.Equal(t, len(res.Checkers), len(rep.Checkers))
				for i := range res.Checkers {
					require.Equal(t, res.Checkers[i].Checker, rep.Checkers[i].Checker)
					require.Equal(t, res.Checkers[i].Verdict, rep.Checkers[i].Verdict, res.Checkers[i].Checker)
					require.Equal(t, len(res.Checkers[i].Anomalies), len(rep.Checkers[i].Anomalies), res.Checkers[i].Checker)
				}
				seen[runCode]++
			})
		}
	}
	require.NotZero(t, seen[exitValid], "some runs are valid")
	require.NotZero(t, seen[exitInvalid], "some runs find their bug")
}

func latestRun(t *testing.T, out, name string) string {
	t.Helper()
	dir, err := filepath.EvalSymlinks(filepath.Join(out, name, verdict.LatestLink))
	require.NoError(t, err)
	return dir
}

// TestCheckRefusesToJudgeNothing is the bad-input table of dqtest check.
func TestCheckRefusesToJudgeNothing(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, lines ...string) string {
		p := filepath.Join(dir, name)
		content := ""
		if len(lines) > 0 {
			content = strings.Join(lines, "\n") + "\n"
		}
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
		return p
	}
	register := write("register.jsonl",
		`{"index":0,"time":1,"process":0,"type":"invoke","f":"write","key":"k","value":1}`,
		`{"index":1,"time":2,"process":0,"type":"ok","f":"write","key":"k","value":1}`,
		`{"index":2,"time":3,"process":0,"type":"invoke","f":"read","key":"k","value":null}`,
		`{"index":3,"time":4,"process":0,"type":"ok","f":"read","key":"k","value":1}`)
	unknownF := write("unknown-f.jsonl",
		`{"index":0,"time":1,"process":0,"type":"invoke","f":"write","key":"k","value":1}`,
		`{"index":1,"time":2,"process":0,"type":"ok","f":"write","key":"k","value":1}`,
		`{"index":2,"time":3,"process":0,"type":"invoke","f":"frobnicate","key":"k","value":1}`,
		`{"index":3,"time":4,"process":0,"type":"ok","f":"frobnicate","key":"k","value":1}`)
	empty := write("empty.jsonl")
	onlyFailed := write("only-failed.jsonl",
		`{"index":0,"time":1,"process":0,"type":"invoke","f":"write","key":"k","value":1}`,
		`{"index":1,"time":2,"process":0,"type":"fail","f":"write","key":"k","value":1}`)
	truncated := write("truncated.jsonl",
		`{"index":0,"time":1,"process":0,"type":"invoke","f":"write","key":"k","value":1}`,
		`{"index":1,"time":2,"process":0,"ty`,
		`{"index":2,"time":3,"process":0,"type":"ok","f":"write","key":"k","value":1}`)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string // in the message or the output
	}{
		{"a register history is valid", []string{register}, exitValid, "VALID"},
		{"the wrong workload", []string{register, "--workload", "append"}, exitUnknown, "contradicts the history"},
		{"an unknown f", []string{unknownF, "--workload", "register"}, exitUnknown, "frobnicate"},
		{"an unknown f, workload inferred", []string{unknownF}, exitUnknown, "frobnicate"},
		{"an empty history", []string{empty}, exitUnknown, "nothing to check"},
		{"an empty history with a workload", []string{empty, "--workload", "register"}, exitUnknown, "nothing to check"},
		{"only failed operations", []string{onlyFailed, "--workload", "register"}, exitUnknown, "nothing to check"},
		{"a truncated line in the middle", []string{truncated}, exitUnknown, "line 2"},
		{"an unknown consistency model", []string{register, "--consistency", "eventual"}, exitUnknown, "eventual"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, msg := runCLI(t, append([]string{"check"}, tc.args...)...)
			require.Equal(t, tc.code, code, "out: %s\nmsg: %s", out, msg)
			require.Contains(t, out+msg, tc.want)
		})
	}
}

// TestRunSkipsWhatTheSimulatorCannotModel: a scenario the simulator cannot
// model is a skipped case with the reason, and the run exits 0 when every
// other scenario is valid.
func TestRunSkipsWhatTheSimulatorCannotModel(t *testing.T) {
	out := t.TempDir()
	junit := filepath.Join(out, "junit.xml")
	code, stdout, stderr := runCLI(t, "run", "--backend", "sim", "--seed", "2", "--time-limit", "30s",
		"../../scenarios/disk-full.yaml", "../../scenarios/default.yaml", "../../scenarios/packet-loss.yaml",
		"--out", out, "--json", "--junit", junit)
	require.Equal(t, exitValid, code, stderr)
	require.Contains(t, stderr, "SKIPPED disk-full")
	var sum report.Summary
	require.NoError(t, json.Unmarshal([]byte(stdout), &sum))
	require.Len(t, sum.Runs, 3)
	require.Contains(t, sum.Runs[0].Skipped, "nemesis.faults")
	require.Contains(t, sum.Runs[0].Skipped, "disk")
	require.Empty(t, sum.Runs[1].Skipped)
	require.NotEmpty(t, sum.Runs[2].Skipped)

	b, err := os.ReadFile(junit)
	require.NoError(t, err)
	var doc struct {
		Tests   int `xml:"tests,attr"`
		Skipped int `xml:"skipped,attr"`
	}
	require.NoError(t, xml.Unmarshal(b, &doc))
	require.Equal(t, 3, doc.Tests)
	require.Equal(t, 2, doc.Skipped)
}
