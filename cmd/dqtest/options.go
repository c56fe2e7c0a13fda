package main

import (
	"fmt"
	"log/slog"

	"github.com/dqtest/dqtest/harness"
	"github.com/dqtest/dqtest/harness/docker"
	"github.com/dqtest/dqtest/harness/sim"
)

// runOptions are the harness options of every command that runs scenarios
// (run, repro, matrix): the docker backend with the node image, reaching
// the nodes as reach says (--reach; "" is auto), the simulator with simBug
// injected ("" for none), run directories under runsDir ("" for the
// harness's default).
func runOptions(simBug, runsDir, image string, reach docker.Reach) harness.Options {
	return harness.Options{
		Backend:  &docker.Backend{Log: slog.Default(), Reach: reach},
		Simulate: sim.Simulator(simBug),
		SimBug:   simBug,
		RunsDir:  runsDir,
		Image:    image,
		Log:      slog.Default(),
	}
}

// reachHelp is the help text of --reach (run and matrix).
const reachHelp = "how dqtest reaches the nodes' control APIs (and, with --client direct, dqlite ports): " +
	"bridge (the containers' addresses on the run's network: dqtest on the engine's machine), " +
	"ports (host ports Docker publishes: 127.0.0.1 for an engine on this machine, every interface of a remote engine's host) " +
	"or auto (ports for a tcp:// engine on another host, bridge otherwise)"

// parseReach reads --reach.
func parseReach(s string) (docker.Reach, error) {
	r, err := docker.ParseReach(s)
	if err != nil {
		return "", &exitError{code: exitUnknown, err: fmt.Errorf("--reach: %w", err)}
	}
	return r, nil
}
