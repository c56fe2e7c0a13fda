package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/dqtest/dqtest/harness"
	"github.com/dqtest/dqtest/harness/docker"
	"github.com/dqtest/dqtest/scenario"
	"github.com/dqtest/dqtest/verdict"
)

// timeToVerdict is the default scenario's wall time by phase.
type timeToVerdict struct {
	// ColdBuild is the time to build a node image Docker's layer cache
	// cannot help with; Cold the first run on it.
	ColdBuild float64
	Cold      verdict.Phases
	// Warm are the runs on an image in use; WarmMedian their medians, phase
	// by phase.
	Warm       []verdict.Phases
	WarmMedian verdict.Phases
	Outcomes   []string
}

// measureTimeToVerdict runs scenarios/default.yaml (seed 1) once cold and
// c.warm times warm.
func measureTimeToVerdict(ctx context.Context, c config) (timeToVerdict, error) {
	var v timeToVerdict
	sc, err := scenario.Load("scenarios/default.yaml")
	if err != nil {
		return v, err
	}
	sc.Seed = 1
	runs, err := os.MkdirTemp("", "dqtest-bench-verdict")
	if err != nil {
		return v, err
	}
	defer os.RemoveAll(runs)
	run := func(image string) (verdict.Phases, error) {
		res, err := harness.Run(ctx, sc, harness.Options{Backend: &docker.Backend{Log: slog.New(slog.DiscardHandler)},
			Image: image, RunsDir: runs, Log: slog.New(slog.DiscardHandler)})
		if err != nil {
			return verdict.Phases{}, err
		}
		v.Outcomes = append(v.Outcomes, string(res.Outcome))
		slog.Info("time to verdict", "image", image, "outcome", res.Outcome, "total_s", fmt.Sprintf("%.1f", res.Phases.Total))
		return res.Phases, nil
	}

	build, err := coldImage(ctx, c)
	if err != nil {
		return v, fmt.Errorf("building the cold image: %w", err)
	}
	defer func() {
		// Untag only: never remove an image someone else uses.
		_ = exec.Command("docker", "rmi", c.coldImage).Run()
	}()
	v.ColdBuild = build
	if v.Cold, err = run(c.coldImage); err != nil {
		return v, err
	}
	for range c.warm {
		p, err := run(c.image)
		if err != nil {
			return v, err
		}
		v.Warm = append(v.Warm, p)
	}
	v.WarmMedian = medianPhases(v.Warm)
	return v, nil
}

// coldImage builds the node image under c.coldImage from a copy of the
// binary with a unique trailer (ignored by the loader), so the layer cache
// cannot serve it: the build a machine does when the binary is new. The
// base image (imported once per machine) is not part of it.
func coldImage(ctx context.Context, c config) (float64, error) {
	_ = exec.Command("docker", "rmi", c.coldImage).Run()
	dir, err := os.MkdirTemp("", "dqtest-bench-cold")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "dqtest")
	if err := copyFile(c.binary, bin); err != nil {
		return 0, err
	}
	f, err := os.OpenFile(bin, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return 0, err
	}
	fmt.Fprintf(f, "\ndqtest-bench cold build %d\n", time.Now().UnixNano())
	if err := f.Close(); err != nil {
		return 0, err
	}
	start := time.Now()
	cmd := exec.CommandContext(ctx, c.imageScript, bin)
	cmd.Env = append(os.Environ(), "DQTEST_IMAGE="+c.coldImage)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return 0, err
	}
	return time.Since(start).Seconds(), nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func medianPhases(ps []verdict.Phases) verdict.Phases {
	pick := func(f func(verdict.Phases) float64) float64 {
		var xs []float64
		for _, p := range ps {
			xs = append(xs, f(p))
		}
		return median(xs)
	}
	return verdict.Phases{
		Startup:  pick(func(p verdict.Phases) float64 { return p.Startup }),
		Workload: pick(func(p verdict.Phases) float64 { return p.Workload }),
		Recovery: pick(func(p verdict.Phases) float64 { return p.Recovery }),
		Teardown: pick(func(p verdict.Phases) float64 { return p.Teardown }),
		Check:    pick(func(p verdict.Phases) float64 { return p.Check }),
		Total:    pick(func(p verdict.Phases) float64 { return p.Total }),
	}
}
