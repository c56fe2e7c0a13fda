package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/spf13/cobra"

	"github.com/dqtest/dqtest/harness/docker"
	"github.com/dqtest/dqtest/matrix"
	"github.com/dqtest/dqtest/mode"
	"github.com/dqtest/dqtest/nemesis"
	"github.com/dqtest/dqtest/scenario"
)

func init() {
	subcommands = append(subcommands, newMatrixCommand)
}

// matrixFile is a matrix written down (--file): the same fields as the
// flags, and the cells expected to fail with their reasons.
type matrixFile struct {
	Name       string            `yaml:"name"`
	Workloads  []string          `yaml:"workloads"`
	Nemeses    []string          `yaml:"nemeses"`
	TimeLimit  time.Duration     `yaml:"time_limit"`
	Scenario   string            `yaml:"scenario"`
	ExpectFail map[string]string `yaml:"expect_fail"`
}

func newMatrixCommand() *cobra.Command {
	var dqliteVersions []string
	var (
		workloads, nemeses, expectFail []string
		timeLimit                      time.Duration
		out, junit, base, file, image  string
		backend                        string
		seed                           int64
		shard                          string
		parallel                       int
		dockerHosts, only              []string
		engineJSON, reach              string
	)
	cmd := &cobra.Command{
		Use:   "matrix",
		Short: "Run every workload under every nemesis combination and tabulate the verdicts",
		Long: `Run a test matrix: every workload under every nemesis combination, one run
after another, each on a fresh cluster. A nemesis is a combination name: faults
joined by "+" (partition+kill), "none" for none; "partition" is a family that
picks a partition kind per fault. The default nemeses are the dqlite team's 13:
` + strings.Join(nemesis.Combinations, ", ") + `.

Each cell's run directory is OUT/<workload>-<nemesis>/ with its report.html.
The matrix writes OUT/table.txt (the table printed at the end), OUT/index.html
(a summary page linking every run) and one JUnit file (OUT/junit.xml, or
--junit). A cell marked expected to fail (--expect-fail bank/disk=reason, or
expect_fail in --file) is shown as such and is not a regression. The exit code
is the worst of the other cells: 0 all valid, 1 a cell failed, 2 a cell
reached no verdict (or the matrix was interrupted).

--shard k/N runs a deterministic k-th of N parts of the cells (the same cells
for the same flags on any machine, balanced by expected cell time); OUT is a
shard directory whose matrix.json names every cell of the whole matrix, and
"dqtest matrix merge OUT SHARD-DIR..." combines the shards into one verdict.
--parallel P runs P cells at once (each on its own cluster and network).
--docker-host URL,URL... spreads the cells over several Docker engines (each
checked by its engine ID), one dqtest process per engine; a value without
"://" names a docker CLI context (docker context ls); an engine on
another host (tcp://HOST:2375) is reached through ports it publishes
(--reach), which exposes each node's control API on that host's network
while its cell runs: use a trusted network.`,
		Example: `  dqtest matrix --workloads append,bank,set --time-limit 60s
  dqtest matrix --workloads bank --nemeses none,partition+kill --time-limit 20s --junit matrix.xml
  dqtest matrix --file matrix.yaml --expect-fail 'set/disk=canonical/dqlite#123'
  dqtest matrix --shard 3/8 --seed 7 --out shard-3        # one CI job of eight
  dqtest matrix merge merged shard-*                      # one table, JUnit file and index.html
  dqtest matrix --parallel 2 --workloads bank,set --nemeses none --time-limit 10s
  dqtest matrix --docker-host unix:///var/run/docker.sock,tcp://10.0.0.5:2375 --workloads bank,set --nemeses none`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			flags := cmd.Flags()
			spec := matrix.Spec{Workloads: workloads, Nemeses: nemeses, TimeLimit: timeLimit, Seed: seed}
			marks := map[string]string{}
			if file != "" {
				var mf matrixFile
				data, err := os.ReadFile(file)
				if err == nil {
					err = yaml.UnmarshalWithOptions(data, &mf, yaml.Strict())
				}
				if err != nil {
					return &exitError{code: exitUnknown, err: fmt.Errorf("--file: %w", err)}
				}
				spec.Name = mf.Name
				if !flags.Changed("workloads") && len(mf.Workloads) > 0 {
					spec.Workloads = mf.Workloads
				}
				if !flags.Changed("nemeses") && len(mf.Nemeses) > 0 {
					spec.Nemeses = mf.Nemeses
				}
				if !flags.Changed("time-limit") && mf.TimeLimit > 0 {
					spec.TimeLimit = mf.TimeLimit
				}
				if base == "" {
					base = mf.Scenario
				}
				for k, v := range mf.ExpectFail {
					marks[k] = v
				}
			}
			more, err := matrix.ParseExpectFail(expectFail)
			if err != nil {
				return &exitError{code: exitUnknown, err: err}
			}
			for k, v := range more {
				marks[k] = v
			}
			spec.ExpectFail = marks
			spec.Dqlite = dqliteVersions
			if shard != "" {
				sh, err := matrix.ParseShard(shard)
				if err != nil {
					return &exitError{code: exitUnknown, err: fmt.Errorf("--shard: %w", err)}
				}
				spec.Shard = sh
			}
			if parallel < 1 {
				return &exitError{code: exitUnknown, err: fmt.Errorf("--parallel %d: want 1 or more cells at once", parallel)}
			}
			spec.Parallel = parallel
			spec.Only = only
			if base != "" {
				sc, err := scenario.Load(base)
				if err != nil {
					return &exitError{code: exitUnknown, err: err}
				}
				spec.Base = &sc
			}
			if flags.Changed("backend") {
				b := scenario.Default()
				if spec.Base != nil {
					b = *spec.Base
				}
				b.Backend = mode.Backend(backend)
				spec.Base = &b
			}
			if spec.Name == "" {
				spec.Name = "matrix"
			}
			spec.Backend = string(mode.Docker)
			if spec.Base != nil && spec.Base.Backend != "" {
				spec.Backend = string(spec.Base.Backend)
			}
			// Every cell is checked before the first runs.
			all, err := matrix.Cells(spec)
			if err != nil {
				return &exitError{code: exitUnknown, err: err}
			}
			if out == "" {
				out = filepath.Join("runs", spec.Name, time.Now().UTC().Format("20060102T150405Z"))
				if !spec.Shard.Whole() {
					out += fmt.Sprintf("-shard-%d-of-%d", spec.Shard.K, spec.Shard.N)
				}
			}
			reachMode, err := parseReach(reach)
			if err != nil {
				return err
			}
			opts := runOptions("", "", image, reachMode)
			if engineJSON != "" {
				// One engine's part of a --docker-host matrix: the engine
				// reached must be the one the parent named.
				var e docker.Engine
				if err := json.Unmarshal([]byte(engineJSON), &e); err != nil {
					return &exitError{code: exitUnknown, err: fmt.Errorf("--engine: %w", err)}
				}
				if err := docker.CheckReached(ctx, e); err != nil {
					return &exitError{code: exitUnknown, err: err}
				}
				opts.Backend = &docker.Backend{Log: slog.Default(), Engine: &e, Reach: reachMode}
			}
			w := cmd.OutOrStdout()
			fmt.Fprintln(w, matrixHeader(spec.Name, len(spec.Workloads), len(spec.Nemeses), out))
			if !spec.Shard.Whole() {
				mine := matrix.ShardCells(all, spec.Shard)
				fmt.Fprintf(w, "shard %s: %d of the %d cells, expected %s one after another\n", spec.Shard, len(mine), len(all),
					matrix.Expected(all, mine).Round(time.Second))
			}
			var res *matrix.Result
			var runErr error
			if len(dockerHosts) > 0 {
				if spec.Backend != string(mode.Docker) {
					return &exitError{code: exitUnknown, err: fmt.Errorf("--docker-host: the matrix runs on the %s backend, not docker", spec.Backend)}
				}
				engines, err := matrixEngines(ctx, dockerHosts)
				if err != nil {
					return &exitError{code: exitUnknown, err: err}
				}
				for i, e := range engines {
					fmt.Fprintf(w, "engine %d: %s, Docker %s\n", i+1, e, e.Version)
				}
				res, runErr = matrix.RunSpread(ctx, spec, out, len(engines), matrix.ProcessLaunch(
					childMatrix(cmd, engines, cmd.ErrOrStderr()), 3*time.Minute))
			} else {
				if spec.Backend == string(mode.Docker) {
					warnLeftovers(ctx, slog.Default())
				}
				res, runErr = matrix.Run(ctx, spec, out, opts, func(c matrix.Cell) {
					fmt.Fprintf(w, "%-8s %-18s %-20s %6.1fs (start-up %.1fs, teardown %.1fs) %s\n", c.Workload, c.Nemesis, c.Status,
						c.Wall, c.Run.Phases.Startup, c.Run.Phases.Teardown, c.Run.Dir)
				})
			}
			if res == nil {
				return &exitError{code: exitUnknown, err: runErr}
			}
			fmt.Fprintln(w)
			if err := matrix.WriteTable(w, res); err != nil {
				return &exitError{code: exitUnknown, err: err}
			}
			if err := matrix.WriteFiles(res, junit); err != nil {
				return &exitError{code: exitUnknown, err: fmt.Errorf("writing the matrix's files: %w", err)}
			}
			fmt.Fprintf(w, "summary: %s\n", filepath.Join(out, matrix.SummaryFile))
			if runErr != nil {
				if ctx.Err() != nil {
					runErr = fmt.Errorf("interrupted: %w", runErr)
				}
				return &exitError{code: exitUnknown, err: runErr}
			}
			return exitFor(res.Outcome)
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&workloads, "workloads", []string{"append", "bank", "set"}, "workloads, comma-separated")
	f.StringSliceVar(&nemeses, "nemeses", nemesis.Combinations, "nemesis combinations, comma-separated (faults joined by +)")
	f.StringSliceVar(&dqliteVersions, "dqlite", nil, "a version axis: run every cell on each of these C dqlite versions, e.g. 1.18.1,1.18.7 (cells 1.18.7/bank/disk; default: the base scenario's version, 1.18.7)")
	f.DurationVar(&timeLimit, "time-limit", 60*time.Second, "each cell's workload time")
	f.StringArrayVar(&expectFail, "expect-fail", nil, "mark a cell as expected to fail: workload/nemesis=reason (repeatable)")
	f.StringVar(&out, "out", "", "matrix directory (default runs/<name>/<timestamp>)")
	f.StringVar(&junit, "junit", "", "JUnit file (default OUT/junit.xml)")
	f.StringVar(&base, "scenario", "", "scenario file every cell starts from (cluster size, rate, schedule); default the built-in defaults")
	f.StringVar(&file, "file", "", "matrix file (YAML: name, workloads, nemeses, time_limit, scenario, expect_fail)")
	f.StringVar(&image, "image", "", "node image for the docker backend (default dqtest-node:latest)")
	f.StringVar(&backend, "backend", "", "docker (default) or sim")
	f.Int64Var(&seed, "seed", 0, "every cell's seed (0: each run picks one)")
	f.StringVar(&shard, "shard", "", "run shard k of N (k/N): a deterministic part of the cells balanced by expected time")
	f.IntVar(&parallel, "parallel", 1, "cells run at once (per engine), each on its own cluster and network")
	f.StringSliceVar(&dockerHosts, "docker-host", nil, "Docker engines to spread the cells over, comma-separated: DOCKER_HOST URLs (unix:// sockets here, tcp:// here or on other hosts) or docker CLI context names")
	f.StringVar(&reach, "reach", "auto", reachHelp+"; passed on to each engine's process of --docker-host, where auto decides per engine")
	f.StringSliceVar(&only, "only", nil, "run only these cells of the shard (workload/nemesis); set for each engine of --docker-host")
	f.StringVar(&engineJSON, "engine", "", "the engine this process must reach (JSON); set for each engine of --docker-host")
	_ = f.MarkHidden("only")
	_ = f.MarkHidden("engine")
	cmd.AddCommand(newMatrixMergeCommand())
	return cmd
}

// matrixHeader is the matrix's first line: "matrix: 3 workloads x 13
// nemeses into DIR", with the matrix file's name when it has one of its
// own ("matrix nightly: ...").
func matrixHeader(name string, workloads, nemeses int, out string) string {
	return fmt.Sprintf("%s: %d %s x %d %s into %s", matrixTitle(name), workloads, plural(workloads, "workload", "workloads"),
		nemeses, plural(nemeses, "nemesis", "nemeses"), out)
}

// matrixTitle is "matrix", or "matrix NAME" for a matrix named otherwise.
func matrixTitle(name string) string {
	if name != "" && name != "matrix" {
		return "matrix " + name
	}
	return "matrix"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
