package matrix

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Launch runs the cells keys (a part of spec's shard) on engine i into
// dir, a matrix directory of its own, and returns when they ended. It
// must stop them, tearing their clusters down, when ctx ends.
type Launch func(ctx context.Context, engine int, keys []string, dir string) error

// EngineDir is engine i's directory (0-based i) under the matrix
// directory when cells are spread over several engines.
func EngineDir(i int) string { return fmt.Sprintf("engine-%d", i+1) }

// RunSpread spreads the cells of spec's shard over engines (balanced by
// expected time: Assign), launches each engine's part at once into
// dir/engine-<i> and merges the parts into one result for dir, whose
// cells link into the engines' directories. A part that failed (its
// engine was not the one named, a process that died) leaves its cells
// Missing, and its error is returned with the result. dir/matrix.json
// names the shard's cells from the start.
func RunSpread(ctx context.Context, spec Spec, dir string, engines int, launch Launch) (*Result, error) {
	if engines < 1 {
		return nil, errors.New("spread: no engines")
	}
	all, err := Cells(spec)
	if err != nil {
		return nil, err
	}
	spec.Only = nil
	idx, err := selectCells(all, spec)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	plan := NewPlan(spec, all)
	res := &Result{Name: plan.Name, Dir: dir, Start: time.Now(), Plan: plan}
	var mine []Cell
	var want []PlanCell
	for _, i := range idx {
		mine = append(mine, all[i])
		want = append(want, plan.Cells[i])
	}
	parts := Assign(mine, engines)
	for e, part := range parts {
		for _, i := range part {
			c := mine[i]
			c.Path = filepath.ToSlash(filepath.Join(EngineDir(e), c.Scenario))
			res.Cells = append(res.Cells, c)
		}
	}
	if err := WriteResult(res); err != nil {
		return nil, err
	}
	var wg sync.WaitGroup
	errs := make([]error, engines)
	for e, part := range parts {
		if len(part) == 0 {
			continue
		}
		var keys []string
		for _, i := range part {
			keys = append(keys, mine[i].Key())
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := launch(ctx, e, keys, filepath.Join(dir, EngineDir(e))); err != nil {
				errs[e] = fmt.Errorf("engine %d: %w", e+1, err)
			}
		}()
	}
	wg.Wait()
	var dirs []string
	for e, part := range parts {
		d := filepath.Join(dir, EngineDir(e))
		if len(part) == 0 {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, ResultFile)); err == nil {
			dirs = append(dirs, d)
		} else if errs[e] == nil {
			errs[e] = fmt.Errorf("engine %d: its part (%d cells) ended without writing %s: its cells are missing (see its output)",
				e+1, len(part), filepath.Join(d, ResultFile))
		}
	}
	merged, err := mergeParts(dir, plan, want, dirs)
	if err != nil {
		return nil, errors.Join(append(errs, err)...)
	}
	merged.Plan.Shard = spec.Shard
	merged.Start, merged.Wall = res.Start, time.Since(res.Start).Seconds()
	return merged, errors.Join(append(errs, ctx.Err())...)
}

// ProcessLaunch is a Launch that runs each part as a process made by
// command (a `dqtest matrix --only ...` with the engine's DOCKER_HOST).
// The process gets a process group of its own, so a Ctrl-C on the
// terminal reaches dqtest alone, which passes it on: when ctx ends the
// process is sent SIGINT (it stops its cells and tears their clusters
// down) and is killed only after grace. A process that exits non-zero is
// not an error by itself (1 and 2 are verdicts): the caller reads its
// directory; exit codes above 2, or none at all, are. command's Cmd (from
// exec.Command) gives the path, arguments, environment and output; it is
// run under ctx.
func ProcessLaunch(command func(engine int, keys []string, dir string) (*exec.Cmd, error), grace time.Duration) Launch {
	return func(ctx context.Context, engine int, keys []string, dir string) error {
		made, err := command(engine, keys, dir)
		if err != nil {
			return err
		}
		cmd := exec.CommandContext(ctx, made.Path, made.Args[1:]...)
		cmd.Env, cmd.Dir, cmd.Stdin, cmd.Stdout, cmd.Stderr = made.Env, made.Dir, made.Stdin, made.Stdout, made.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
		cmd.WaitDelay = grace
		err = cmd.Run()
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.ExitCode() >= 0 && exit.ExitCode() <= 2 {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", cmd.Path, err)
		}
		return nil
	}
}
