package main

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/harness"
	"github.com/dqtest/dqtest/harness/sim"
	"github.com/dqtest/dqtest/mode"
	"github.com/dqtest/dqtest/scenario"
	"github.com/dqtest/dqtest/verdict"
)

func init() {
	subcommands = append(subcommands, newRunCommand)
}

func newRunCommand() *cobra.Command {
	var (
		seed        int64
		nodes       int
		timeLimit   time.Duration
		concurrency int
		rate        float64
		faults      string
		workload    string
		backend     mode.Backend
		out         string
		image       string
		simBug      string
		asJSON      bool
		junit       string
		stopMode    mode.Stop
		clientMode  mode.Client
		dqlite      string
		repeat      int
		reach       string
	)
	cmd := &cobra.Command{
		Use:   "run SCENARIO.yaml...",
		Short: "Run scenarios against a dqlite cluster and check the history",
		Long: `Run each scenario: bring up a cluster (real dqlite nodes in containers, or
the simulator), run the workload while the nemesis injects faults, heal, do
the final reads, collect every node's log, check the history and write a run
directory (runs/<scenario>/<timestamp>/, with a "latest" link).

Flags (except --out, --image and --sim-bug) replace the scenario's field of
the same name, for every scenario given, only when given. Progress goes
to stderr (on a terminal, with a live status line: elapsed time, operations
ok/fail/info, faults in force); each scenario's verdict line goes to stdout.
Every run directory gets report.html and junit.xml. --json prints a summary
of every run on stdout (the verdict lines then go to stderr); --junit FILE
writes a JUnit XML file with a test case per scenario, anomalies and
crashes as failures. The exit code is the worst outcome: 0 valid (or as the
scenario expected), 1 invalid, 2 unknown or a harness error.

--repeat N runs each scenario N times with fresh seeds, since shutdown races
can be rare, then prints how often each finding (a crash or hang, by
signature, over every node) appeared and writes the summary to
OUT/<scenario>/repeat-<time>.json. A repeated scenario that expects a crash
passes when at least one run showed it and no run showed anything else.`,
		Example: `  dqtest run scenarios/default.yaml
  dqtest run scenarios/register-partition.yaml --seed 7 --time-limit 20s
  dqtest run scenarios/*.yaml --backend sim
  dqtest run scenarios/shutdown-double-stop.yaml --repeat 5
  dqtest run scenarios/shutdown-double-stop.yaml --stop-mode guarded
  dqtest run scenarios/default.yaml --client direct
  dqtest run scenarios/default.yaml scenarios/bank-pause.yaml --junit junit.xml --json`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			output := newRunOutput(cmd, asJSON, junit)
			reachMode, err := parseReach(reach)
			if err != nil {
				return output.refuse(nil, err)
			}
			if len(args) == 0 {
				return output.refuse(nil, errors.New("no scenario file given (e.g. dqtest run scenarios/default.yaml; dqtest scenarios lists them)"))
			}
			var o scenario.Overrides
			flags := cmd.Flags()
			o.Seed = ifChanged(flags, "seed", &seed)
			o.Nodes = ifChanged(flags, "nodes", &nodes)
			o.TimeLimit = ifChanged(flags, "time-limit", &timeLimit)
			o.Concurrency = ifChanged(flags, "concurrency", &concurrency)
			o.Rate = ifChanged(flags, "rate", &rate)
			if flags.Changed("nemesis") {
				o.Nemesis = strings.Split(faults, ",")
			}
			o.Workload = ifChanged(flags, "workload", &workload)
			o.Backend = ifChanged(flags, "backend", &backend)
			o.StopMode = ifChanged(flags, "stop-mode", &stopMode)
			o.Client = ifChanged(flags, "client", &clientMode)
			o.Dqlite = ifChanged(flags, "dqlite", &dqlite)
			if repeat < 1 {
				return output.refuse(args, fmt.Errorf("--repeat: want 1 or more runs, got %d", repeat))
			}

			if simBug != "" && !slices.Contains(sim.BugNames(), simBug) {
				return output.refuse(args, fmt.Errorf("--sim-bug: unknown bug %q (known: %s)", simBug, strings.Join(sim.BugNames(), ", ")))
			}

			// Load every scenario first: a typo in the third file should
			// not cost the first two runs. When one cannot be used, none
			// runs, and every one given gets its test case: its own
			// error, or "not run" naming the files that failed.
			var (
				scenarios []scenario.Scenario
				problems  = make([]error, len(args))
				failed    []string
			)
			for i, path := range args {
				sc, err := scenario.Load(path)
				if err == nil {
					sc, err = o.Apply(sc)
					if err != nil {
						err = fmt.Errorf("%s: %w", path, err)
					}
				}
				if err == nil && simBug != "" && sc.Backend != mode.Sim {
					err = fmt.Errorf("%s: --sim-bug needs the sim backend (add --backend sim)", path)
				}
				if err != nil {
					problems[i] = err
					failed = append(failed, path)
					continue
				}
				if empty, _ := emptyScenarioFile(path); empty {
					fmt.Fprintln(output.notes(), emptyScenarioNote(path, sc))
				}
				scenarios = append(scenarios, sc)
			}
			if len(failed) > 0 {
				var errs []error
				j := 0
				for i, path := range args {
					if problems[i] != nil {
						output.notRun(path, problems[i].Error())
						errs = append(errs, problems[i])
						continue
					}
					output.notRun(scenarios[j].Name, fmt.Sprintf("not run: %s could not be used", strings.Join(failed, ", ")))
					j++
				}
				if err := output.finish(); err != nil {
					errs = append(errs, err)
				}
				return &exitError{code: exitUnknown, err: errors.Join(errs...)}
			}

			if slices.ContainsFunc(scenarios, func(sc scenario.Scenario) bool { return sc.Backend == mode.Docker }) {
				warnLeftovers(ctx, slog.Default())
			}

			worst := checker.Valid
			for i, sc := range scenarios {
				if ctx.Err() != nil {
					for _, left := range scenarios[i:] {
						output.notRun(left.Name, "not run: interrupted")
					}
					break
				}
				if sc.Backend == mode.Sim {
					if err := sim.Supports(sc); err != nil {
						output.skip(sc.Name, err)
						continue
					}
				}
				outcome := runRepeated(ctx, sc, repeat, flags.Changed("seed"), out, output.notes(), func(sc scenario.Scenario) (*verdict.Result, error) {
					opts := runOptions(simBug, out, image, reachMode)
					output.begin(sc, &opts)
					res, err := harness.Run(ctx, sc, opts)
					output.end(sc, res, err)
					printFindings(output.notes(), res)
					return res, err
				})
				worst = checker.Worst(worst, outcome)
			}
			if err := output.finish(); err != nil {
				return &exitError{code: exitUnknown, err: err}
			}
			if ctx.Err() != nil {
				return &exitError{code: exitUnknown, err: errors.New("interrupted")}
			}
			return exitFor(worst)
		},
	}
	cmd.SetFlagErrorFunc(runFlagError)
	f := cmd.Flags()
	// Each flag replaces the scenario's field only when given, so none
	// has a default of its own.
	f.Int64Var(&seed, "seed", 0, "seed for the operations and the fault plan")
	f.IntVar(&nodes, "nodes", 0, "cluster size: 1, 3, 5 or 7")
	f.DurationVar(&timeLimit, "time-limit", 0, "how long the workload and nemesis run, e.g. 30s")
	f.IntVar(&concurrency, "concurrency", 0, "client slots (0: two per node)")
	f.Float64Var(&rate, "rate", 0, "total operations per second (0: unlimited)")
	f.StringVar(&faults, "nemesis", "", "comma-separated faults replacing the scenario's (\"none\" for none), e.g. partition-halves,kill")
	f.StringVar(&workload, "workload", "", "register, bank, set or append (drops the file's workload parameters)")
	f.StringVar((*string)(&backend), "backend", "", "docker (real dqlite in containers) or sim (the simulator)")
	f.StringVar(&out, "out", "runs", "root of run directories: a run goes to OUT/<scenario>/<timestamp>/")
	f.StringVar(&simBug, "sim-bug", "", "inject a bug into the simulator (with --backend sim): "+strings.Join(sim.BugNames(), ", "))
	f.BoolVar(&asJSON, "json", false, "print a JSON summary of every run on stdout (verdict lines go to stderr)")
	f.StringVar(&junit, "junit", "", "write a JUnit XML file: a test case per scenario, anomalies and crashes as failures")
	f.StringVar(&image, "image", "", "node image for the docker backend (default dqtest-node:latest, built by make image)")
	f.StringVar((*string)(&stopMode), "stop-mode", "", "how stops reach dqlite: guarded, unguarded (reproduce shutdown bugs) or bypass (skip the C stop)")
	f.StringVar((*string)(&clientMode), "client", "", "how clients reach dqlite: node (through each node's control API, the default) or direct (from dqtest straight to the leader's dqlite port)")
	f.StringVar(&dqlite, "dqlite", "", "C dqlite version of every node: "+strings.Join(mode.DqliteVersions, " or ")+" (default: the scenario file's, else "+mode.DefaultDqlite+"; image dqtest-node:VERSION, built by 'make image')")
	scenarioDefaults(f)
	f.StringVar(&reach, "reach", "auto", reachHelp)
	f.IntVar(&repeat, "repeat", 1, "run each scenario N times with fresh seeds (--seed S: S, S+1, ...) and report how often each crash or hang appeared")
	return cmd
}

// verdictLine is the one line a person (or a CI log) reads per scenario.
func verdictLine(sc scenario.Scenario, res *verdict.Result, err error) string {
	if err != nil {
		dir := ""
		if res != nil && res.Dir != "" {
			dir = " (" + res.Dir + ")"
		}
		return fmt.Sprintf("%s: unknown: %s%s", sc.Name, firstLine(err.Error()), dir)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", sc.Name, res.Outcome)
	if res.Outcome != checker.Valid && res.Outcome != res.Verdict {
		fmt.Fprintf(&b, " (the run was %s, expected %s)", res.Verdict, sc.Expect.Verdict)
	}
	if res.Backend != "docker" {
		fmt.Fprintf(&b, " [%s", res.Backend)
		if res.SimBug != "" {
			fmt.Fprintf(&b, ", bug %s", res.SimBug)
		}
		b.WriteString("]")
	}
	fmt.Fprintf(&b, " seed=%d ops=%d ok/s=%.1f", res.Seed, res.Ops.Invoked, res.Ops.OKPerSecond)
	if len(res.Reasons) > 0 {
		fmt.Fprintf(&b, " — %s", strings.Join(res.Reasons, "; "))
	}
	fmt.Fprintf(&b, " (%s)", res.Dir)
	return b.String()
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// ifChanged returns v when the flag was given on the command line, and nil
// otherwise, so an override replaces a scenario field only when asked to.
func ifChanged[T any](flags *pflag.FlagSet, name string, v *T) *T {
	if flags.Changed(name) {
		return v
	}
	return nil
}
