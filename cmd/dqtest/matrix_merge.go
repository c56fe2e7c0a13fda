package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/dqtest/dqtest/harness/docker"
	"github.com/dqtest/dqtest/matrix"
)

func newMatrixMergeCommand() *cobra.Command {
	var junit string
	cmd := &cobra.Command{
		Use:   "merge OUT SHARD-DIR...",
		Short: "Combine shard directories of one matrix into one table, JUnit file, summary page and exit code",
		Long: `Combine the directories of "dqtest matrix --shard k/N" runs (any number of
them, in any order) into OUT: OUT/table.txt, OUT/junit.xml (or --junit),
OUT/index.html linking every cell's report in its shard directory (relative
links: keep OUT and the shard directories side by side), and OUT/matrix.json.

Every shard directory records the whole matrix (its cells and flags), so a
cell that no directory reports is named: it is MISSING and counts as unknown.
A cell reported by two directories, or shards of different matrices (other
flags), is an error. The exit code is the whole matrix's: 0 every cell valid
(or failed as marked expected to fail), 1 a cell failed, 2 a cell reached no
verdict, was interrupted or is missing, or the merge could not be done.`,
		Example: `  dqtest matrix merge merged shards/shard-*`,
		Args:    cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, dirs := args[0], args[1:]
			for _, d := range dirs {
				if a, b := filepath.Clean(d), filepath.Clean(out); a == b {
					return &exitError{code: exitUnknown, err: fmt.Errorf("merge: OUT %s is also a shard directory", out)}
				}
			}
			res, err := matrix.Merge(out, dirs)
			if err != nil {
				return &exitError{code: exitUnknown, err: err}
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return &exitError{code: exitUnknown, err: err}
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%s: %d cells from %d directories into %s\n\n", matrixTitle(res.Name), len(res.Cells), len(dirs), out)
			if err := matrix.WriteTable(w, res); err != nil {
				return &exitError{code: exitUnknown, err: err}
			}
			if err := matrix.WriteFiles(res, junit); err != nil {
				return &exitError{code: exitUnknown, err: fmt.Errorf("writing the merged files: %w", err)}
			}
			fmt.Fprintf(w, "summary: %s\n", filepath.Join(out, matrix.SummaryFile))
			return exitFor(res.Outcome)
		},
	}
	cmd.Flags().StringVar(&junit, "junit", "", "JUnit file (default OUT/junit.xml)")
	return cmd
}

// matrixEngines reaches every --docker-host engine (directly, not by
// testcontainers-go's discovery) and returns them: an engine that cannot
// be reached, or that is remote, is an error before anything runs.
func matrixEngines(ctx context.Context, hosts []string) ([]docker.Engine, error) {
	var engines []docker.Engine
	seen := map[string]int{}
	for i, h := range hosts {
		h = strings.TrimSpace(h)
		e, err := docker.EngineFor(ctx, h)
		if err != nil {
			return nil, fmt.Errorf("--docker-host %d: %w", i+1, err)
		}
		if j, ok := seen[e.Identity()]; ok {
			fmt.Fprintf(os.Stderr, "warning: --docker-host %d (%s) is the same engine as %d: its cells share one engine\n", i+1, h, j+1)
		}
		seen[e.Identity()] = i
		engines = append(engines, e)
	}
	return engines, nil
}

// childMatrix makes engine i's process: this binary's `dqtest matrix` with
// the flags this one was given (less --docker-host, --out and --junit),
// its cells (--only), its directory (--out) and its engine (--engine),
// under DOCKER_HOST=the engine's URL, its output prefixed "[engine i]".
func childMatrix(cmd *cobra.Command, engines []docker.Engine, w io.Writer) func(int, []string, string) (*exec.Cmd, error) {
	var flags []string
	cmd.Flags().Visit(func(f *pflag.Flag) {
		switch f.Name {
		case "docker-host", "out", "junit", "only", "engine":
			return
		}
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			for _, v := range sv.GetSlice() {
				flags = append(flags, "--"+f.Name+"="+v)
			}
			return
		}
		flags = append(flags, "--"+f.Name+"="+f.Value.String())
	})
	var mu sync.Mutex
	return func(i int, keys []string, dir string) (*exec.Cmd, error) {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		e, err := json.Marshal(engines[i])
		if err != nil {
			return nil, err
		}
		args := append([]string{"matrix"}, flags...)
		args = append(args, "--out", dir, "--only", strings.Join(keys, ","), "--engine", string(e))
		c := exec.Command(exe, args...)
		// The engine's endpoint replaces DOCKER_HOST (and, for a context
		// with TLS material, the TLS settings); TLS settings of this
		// process's environment stay for a URL given as it is.
		ep := engines[i].Endpoint()
		replaced := []string{"DOCKER_HOST=", "DOCKER_CONTEXT="}
		if ep.CertPath != "" {
			replaced = append(replaced, "DOCKER_CERT_PATH=", "DOCKER_TLS_VERIFY=")
		}
		c.Env = append(slices.DeleteFunc(os.Environ(), func(kv string) bool {
			return slices.ContainsFunc(replaced, func(p string) bool { return strings.HasPrefix(kv, p) })
		}), ep.Env()...)
		pw := &prefixWriter{prefix: fmt.Sprintf("[engine %d] ", i+1), w: w, mu: &mu}
		c.Stdout, c.Stderr = pw, pw
		return c, nil
	}
}

// prefixWriter writes whole lines to w, each with prefix.
type prefixWriter struct {
	prefix string
	w      io.Writer
	mu     *sync.Mutex
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			break
		}
		if _, err := fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.buf[:i]); err != nil {
			return len(b), err
		}
		p.buf = p.buf[i+1:]
	}
	return len(b), nil
}
