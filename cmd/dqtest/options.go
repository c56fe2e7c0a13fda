package main

import (
	"log/slog"

	"github.com/dqtest/dqtest/harness"
	"github.com/dqtest/dqtest/harness/docker"
	"github.com/dqtest/dqtest/harness/sim"
)

// runOptions are the harness options of every command that runs scenarios
// (run, repro, matrix): the docker backend with the node image, the
// simulator with simBug injected ("" for none), run directories under
// runsDir ("" for the harness's default).
func runOptions(simBug, runsDir, image string) harness.Options {
	return harness.Options{
		Backend:  &docker.Backend{Log: slog.Default()},
		Simulate: sim.Simulator(simBug),
		SimBug:   simBug,
		RunsDir:  runsDir,
		Image:    image,
		Log:      slog.Default(),
	}
}
