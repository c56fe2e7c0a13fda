package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/report"
)

// What a new user trips on (issue 17): each test runs the cobra command in
// process, as the binary would.

func caseNames(j junitCounts) []string {
	var names []string
	for _, s := range j.Suites {
		for _, c := range s.Cases {
			names = append(names, c.Name)
		}
	}
	return names
}

func TestRunJUnitAndJSONHaveACasePerScenarioWhenOneDoesNotExist(t *testing.T) {
	dir := t.TempDir()
	junit := filepath.Join(dir, "j.xml")
	nope := filepath.Join(dir, "nope.yaml")
	code, stdout, stderr := runCLI(t, "run", "--backend", "sim", "../../scenarios/default.yaml", nope,
		"--out", dir, "--junit", junit, "--json")
	require.Equal(t, exitUnknown, code)
	require.Contains(t, stderr, "nope.yaml")

	j := readJUnit(t, junit)
	require.Equal(t, 2, j.Tests, "one test case per scenario given")
	require.Equal(t, 2, j.Errors)
	require.Equal(t, []string{"default", nope}, caseNames(j))
	require.Contains(t, j.Suites[0].Cases[0].Error.Message, "not run: "+nope+" could not be used")
	require.Contains(t, j.Suites[0].Cases[1].Error.Message, "no such file")

	var sum report.Summary
	require.NoError(t, json.Unmarshal([]byte(stdout), &sum), stdout)
	require.Equal(t, checker.Unknown, sum.Outcome)
	require.Len(t, sum.Runs, 2, "one JSON entry per scenario given")
	require.Equal(t, "default", sum.Runs[0].Scenario)
	require.Equal(t, nope, sum.Runs[1].Scenario)
	for _, r := range sum.Runs {
		require.Equal(t, checker.Unknown, r.Outcome)
		require.NotEmpty(t, r.Error)
	}
}

func TestRunWritesItsJUnitFileWhenAFlagIsRefused(t *testing.T) {
	scenarios := []string{"../../scenarios/default.yaml", "../../scenarios/bank-pause.yaml"}
	for _, tc := range []struct {
		name  string
		flags []string
		want  string
	}{
		{"a cluster size no scenario allows", []string{"--nodes", "4"}, "nodes"},
		{"a seed that is not a number", []string{"--seed", "abc"}, `--seed "abc": want an integer`},
		{"a duration that is not one", []string{"--time-limit", "soon"}, `--time-limit "soon": want a duration`},
		{"an unknown flag", []string{"--nodez", "3"}, "unknown flag: --nodez"},
		{"no runs", []string{"--repeat", "0"}, "--repeat"},
		{"an unknown simulator bug", []string{"--sim-bug", "nope"}, "--sim-bug"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			junit := filepath.Join(dir, "j.xml")
			args := append([]string{"run"}, scenarios...)
			args = append(args, tc.flags...)
			args = append(args, "--out", dir, "--junit", junit, "--json")
			code, stdout, stderr := runCLI(t, args...)
			require.Equal(t, exitUnknown, code)
			require.Contains(t, stderr, tc.want)
			require.NotContains(t, stderr, "strconv", "no raw parse error")

			j := readJUnit(t, junit)
			require.Equal(t, 2, j.Tests, "a file with a case per scenario, though nothing ran")
			require.Equal(t, 2, j.Errors)
			require.Contains(t, j.Suites[0].Cases[0].Error.Message, tc.want)

			var sum report.Summary
			require.NoError(t, json.Unmarshal([]byte(stdout), &sum), stdout)
			require.Len(t, sum.Runs, 2)
		})
	}

	// The flag error comes before --junit on the command line: pflag
	// never parsed --junit, the file is still written.
	dir := t.TempDir()
	junit := filepath.Join(dir, "j.xml")
	code, _, _ := runCLI(t, "run", "--seed=abc", scenarios[0], "--junit="+junit)
	require.Equal(t, exitUnknown, code)
	require.Equal(t, []string{"default.yaml"}, func() []string {
		var base []string
		for _, n := range caseNames(readJUnit(t, junit)) {
			base = append(base, filepath.Base(n))
		}
		return base
	}())
}

func TestRunWithoutScenariosStillWritesAnEmptyJUnitFile(t *testing.T) {
	junit := filepath.Join(t.TempDir(), "j.xml")
	code, _, stderr := runCLI(t, "run", "--junit", junit)
	require.Equal(t, exitUnknown, code)
	require.Contains(t, stderr, "no scenario file given")
	require.Equal(t, 0, readJUnit(t, junit).Tests)
}

func TestRunHelpShowsTheScenarioDefaults(t *testing.T) {
	code, stdout, _ := runCLI(t, "run", "--help")
	require.Equal(t, exitValid, code)
	for flag, def := range map[string]string{
		"backend": "docker", "nodes": "3", "client": "node", "stop-mode": "guarded",
		"workload": "register", "time-limit": "1m0s", "rate": "100/s", "concurrency": "two per node",
		"nemesis": "none", "seed": "a fresh one per run",
	} {
		re := regexp.MustCompile(`--` + regexp.QuoteMeta(flag) + `\b[^\n]*\(default: the scenario file's, else ` + regexp.QuoteMeta(def) + `\)`)
		require.Regexp(t, re, stdout, "--%s", flag)
	}
}

func TestNoFlagUsageHasBackquotes(t *testing.T) {
	// pflag takes a backquoted word in a usage as the flag's value name:
	// "built by `make image`" rendered as "--image make image".
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) {
			require.NotContains(t, f.Usage, "`", "%s --%s", c.CommandPath(), f.Name)
		})
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(newRoot())
	code, stdout, _ := runCLI(t, "demo", "--help")
	require.Equal(t, exitValid, code)
	require.Regexp(t, `--image string\s+node image \(built by 'make image'`, stdout)
}

func TestAnUnknownSubcommandExits2(t *testing.T) {
	code, _, stderr := runCLI(t, "sim", "nope")
	require.Equal(t, exitUnknown, code)
	require.Contains(t, stderr, `unknown command "nope" for "dqtest sim"`)
	require.Contains(t, stderr, "bugs, matrix")

	code, stdout, _ := runCLI(t, "sim")
	require.Equal(t, exitValid, code, "a group without a subcommand prints its help")
	require.Contains(t, stdout, "Available Commands")

	// At the top, cobra's own error, which execute turns into exit 2.
	err := executeArgs(context.Background(), newRoot(), []string{"nope"})
	require.ErrorContains(t, err, `unknown command "nope" for "dqtest"`)
}

func TestRunsBeforeAnyRunSaysSo(t *testing.T) {
	out := filepath.Join(t.TempDir(), "runs")
	code, stdout, stderr := runCLI(t, "runs", "--out", out)
	require.Equal(t, exitValid, code, stderr)
	require.Equal(t, "no runs yet: "+out+" does not exist (dqtest run writes a run directory there)\n", stdout)

	code, stdout, _ = runCLI(t, "runs", "--out", out, "--json")
	require.Equal(t, exitValid, code)
	require.Equal(t, "[]\n", stdout)

	code, _, stderr = runCLI(t, "runs", "--out", out, "--last", "-1")
	require.Equal(t, exitUnknown, code)
	require.Contains(t, stderr, "--last -1")
}

func TestRunsListsTheSeed(t *testing.T) {
	out := t.TempDir()
	code, _, stderr := runCLI(t, "run", "--backend", "sim", "--seed", "4242", "--time-limit", "25s", "../../scenarios/sim-stale-read.yaml", "--out", out)
	require.Equal(t, exitValid, code, stderr)
	code, stdout, _ := runCLI(t, "runs", "--out", out)
	require.Equal(t, exitValid, code)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	require.Len(t, lines, 2)
	require.Regexp(t, `^STARTED\s+SEED\s+SCENARIO`, lines[0])
	require.Regexp(t, `\s4242\s+sim-stale-read\s`, lines[1])
}

func TestAnEmptyScenarioFileSaysItRunsTheDefaults(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.yaml")
	require.NoError(t, os.WriteFile(empty, []byte("# nothing yet\n"), 0o644))
	code, stdout, stderr := runCLI(t, "run", empty, "--backend", "sim", "--time-limit", "2s", "--seed", "1", "--out", dir)
	require.Equal(t, exitValid, code, stderr)
	require.Contains(t, stdout, "scenario "+empty+" is empty: running the defaults (register, 3 sim nodes, 2 s, no faults)\n")

	// A file that says something gets no such line.
	full := filepath.Join(dir, "full.yaml")
	require.NoError(t, os.WriteFile(full, []byte("nodes: 3\n"), 0o644))
	code, stdout, stderr = runCLI(t, "run", full, "--backend", "sim", "--time-limit", "2s", "--seed", "1", "--out", dir)
	require.Equal(t, exitValid, code, stderr)
	require.NotContains(t, stdout, "is empty")
}

func TestTheMatrixHeaderNamesTheMatrixOnce(t *testing.T) {
	dir := t.TempDir()
	code, stdout, stderr := runCLI(t, "matrix", "--backend", "sim", "--workloads", "bank", "--nemeses", "none",
		"--time-limit", "2s", "--seed", "1", "--out", dir)
	require.Equal(t, exitValid, code, stderr)
	first, _, _ := strings.Cut(stdout, "\n")
	require.Equal(t, "matrix: 1 workload x 1 nemesis into "+dir, first)
	require.NotContains(t, stdout, "matrix matrix")

	require.Equal(t, "matrix nightly: 3 workloads x 13 nemeses into d", matrixHeader("nightly", 3, 13, "d"))
}
