package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/harness"
	"github.com/dqtest/dqtest/report"
	"github.com/dqtest/dqtest/scenario"
	"github.com/dqtest/dqtest/verdict"
)

// runOutput is what `dqtest run` (and `dqtest repro`) report besides the
// exit code: a verdict line per run (stdout, or stderr under --json), the
// live status line, the --json summary and the --junit file. Every run
// writes report.html and junit.xml into its own directory.
type runOutput struct {
	asJSON bool
	junit  string
	stdout io.Writer
	stderr io.Writer
	status *statusLine
	runs   []report.RunSummary
	cases  []report.Case
}

// newRunOutput prepares the output of a command run. With a status line
// it also routes the log through it, so log lines do not tear the line.
func newRunOutput(cmd *cobra.Command, asJSON bool, junit string) *runOutput {
	o := &runOutput{asJSON: asJSON, junit: junit, stdout: cmd.OutOrStdout(), stderr: cmd.ErrOrStderr()}
	if o.status = newStatusLine(); o.status != nil {
		level := slog.LevelInfo
		if v, err := cmd.Flags().GetBool("verbose"); err == nil && v {
			level = slog.LevelDebug
		}
		slog.SetDefault(slog.New(slog.NewTextHandler(o.status, &slog.HandlerOptions{Level: level})))
	}
	return o
}

// begin hooks a run's options up to the report writer and the status line.
func (o *runOutput) begin(sc scenario.Scenario, opts *harness.Options) {
	opts.WriteReport = report.WriteDir
	if o.status != nil {
		opts.Observe = o.status.Observe
		o.status.Begin(sc.Name, sc.TimeLimit)
	}
}

// end records a finished run and prints its verdict line.
func (o *runOutput) end(sc scenario.Scenario, res *verdict.Result, err error) {
	sum := report.Summarize(sc.Name, res, err)
	if o.status != nil {
		o.status.End(sum.Outcome)
	}
	o.add(sum)
	line := verdictLine(sc, res, err)
	if sum.Report != "" {
		line += "\n  report: " + sum.Report
	}
	fmt.Fprintln(o.notes(), line)
}

// add records a run (or a scenario that never ran) for --json and --junit.
// A scenario run more than once gets "#2", "#3"... in its test case name,
// since CI tools merge cases of the same name.
func (o *runOutput) add(sum report.RunSummary) {
	c := report.CaseOf(sum)
	seen := 1
	for _, r := range o.runs {
		if r.Scenario == sum.Scenario {
			seen++
		}
	}
	if seen > 1 {
		c.Name = fmt.Sprintf("%s #%d", c.Name, seen)
	}
	o.runs = append(o.runs, sum)
	o.cases = append(o.cases, c)
}

// notRun records scenarios that did not run (an interruption, or a bad
// scenario file): each is an error in the JUnit file, so a CI summary
// counts every scenario it was given.
func (o *runOutput) notRun(name, why string) {
	sum := report.RunSummary{Scenario: name, Verdict: checker.Unknown, Outcome: checker.Unknown, Error: why}
	o.add(sum)
}

// skip records a scenario its backend cannot run as written: a skipped
// test case with the reason, in the JUnit file and the JSON summary.
func (o *runOutput) skip(name string, why error) {
	o.add(report.RunSummary{Scenario: name, Verdict: checker.Valid, Outcome: checker.Valid, Skipped: why.Error()})
	fmt.Fprintf(o.notes(), "SKIPPED %s: %v\n", name, why)
}

// refuse records every scenario given as not run because of err (a bad
// flag, a bad scenario file among them), writes the --json summary and the
// --junit file anyway, and returns err as a harness error: a CI gate sees
// one error case per scenario it was given.
func (o *runOutput) refuse(names []string, err error) error {
	for _, n := range names {
		o.notRun(n, "not run: "+err.Error())
	}
	if ferr := o.finish(); ferr != nil {
		err = errors.Join(err, ferr)
	}
	return &exitError{code: exitUnknown, err: err}
}

// runFlagError answers a flag pflag could not parse (an unknown flag, a
// number that is not one): it still finds --junit, --json and the scenario
// files on the command line, so the JUnit file and the JSON summary are
// written with an error case per scenario.
func runFlagError(cmd *cobra.Command, err error) error {
	paths, junit, asJSON := scanRunArgs(cmd, rawArgs(cmd))
	err = fmt.Errorf("%w (see %s --help)", clearFlagError(err), cmd.CommandPath())
	return newRunOutput(cmd, asJSON, junit).refuse(paths, err)
}

// scanRunArgs reads the command line the way pflag would, leniently: the
// positional arguments after the command's name, and --junit and --json.
// A flag it does not know is skipped with no value.
func scanRunArgs(cmd *cobra.Command, raw []string) (paths []string, junit string, asJSON bool) {
	fs := cmd.Flags()
	named := false
	for i := 0; i < len(raw); i++ {
		a := raw[i]
		switch {
		case a == "--":
			paths = append(paths, raw[i+1:]...)
			return paths, junit, asJSON
		case strings.HasPrefix(a, "-") && len(a) > 1:
			name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
			var f *pflag.Flag
			if strings.HasPrefix(a, "--") {
				f = fs.Lookup(name)
			} else if len(name) == 1 {
				f = fs.ShorthandLookup(name)
			}
			if f == nil {
				// An unknown flag: its value, if it has one, is the next
				// argument unless that looks like a scenario file.
				if !hasVal && i+1 < len(raw) && !strings.HasPrefix(raw[i+1], "-") && !isYAMLName(raw[i+1]) {
					i++
				}
				continue
			}
			if !hasVal && f.NoOptDefVal == "" && i+1 < len(raw) {
				i++
				val, hasVal = raw[i], true
			}
			switch f.Name {
			case "junit":
				junit = val
			case "json":
				asJSON = !hasVal || val == "true" || val == "1"
			}
		case !named && a == cmd.Name():
			named = true
		default:
			paths = append(paths, a)
		}
	}
	return paths, junit, asJSON
}

func isYAMLName(s string) bool {
	return strings.HasSuffix(s, ".yaml") || strings.HasSuffix(s, ".yml")
}

// notes is where remarks for a person go: stdout, or stderr under --json.
func (o *runOutput) notes() io.Writer {
	if o.asJSON {
		return o.stderr
	}
	return o.stdout
}

// finish prints the --json summary and writes the --junit file.
func (o *runOutput) finish() error {
	if o.asJSON {
		enc := json.NewEncoder(o.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(report.NewSummary(o.runs)); err != nil {
			return err
		}
	}
	if o.junit != "" {
		host, _ := os.Hostname()
		suite := report.Suite{Name: "dqtest run", Cases: o.cases,
			Properties: map[string]string{"dqtest.version": version, "host": host}}
		if len(o.runs) > 0 && !o.runs[0].Started.IsZero() {
			suite.Timestamp = o.runs[0].Started
		}
		var versions []string
		for _, r := range o.runs {
			if r.Dqlite != "" && !slices.Contains(versions, r.Dqlite) {
				versions = append(versions, r.Dqlite)
			}
		}
		if len(versions) > 0 {
			suite.Properties["dqlite"] = strings.Join(versions, "; ")
		}
		if err := report.WriteJUnitFile(o.junit, []report.Suite{suite}); err != nil {
			return fmt.Errorf("--junit: %w", err)
		}
	}
	return nil
}
