package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/harness"
	"github.com/dqtest/dqtest/report"
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
func (o *runOutput) begin(sc harness.Scenario, opts *harness.Options) {
	opts.WriteReport = report.WriteDir
	if o.status != nil {
		opts.Observe = o.status.Observe
		o.status.Begin(sc.Name, sc.TimeLimit)
	}
}

// end records a finished run and prints its verdict line.
func (o *runOutput) end(sc harness.Scenario, res *harness.Result, err error) {
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
		if err := report.WriteJUnitFile(o.junit, []report.Suite{suite}); err != nil {
			return fmt.Errorf("--junit: %w", err)
		}
	}
	return nil
}
