package harness_test

// Integration tests of the shipped shutdown regression scenarios against
// real nodes (the dqtest-node image: dqlite 1.18.1): each must reproduce its
// bug, with evidence, and lose no acknowledged write. They fail when CI=true
// and Docker or the image is missing. About 2.5 minutes in all:
//
//	build/inroot.sh go test -tags "libsqlite3 netgo osusergo" ./harness/ -run IntegrationShutdown

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/harness"
	"github.com/dqtest/dqtest/harness/docker"
	"github.com/dqtest/dqtest/mode"
	"github.com/dqtest/dqtest/scenario"
	"github.com/dqtest/dqtest/verdict"
)

// runShipped runs a scenario file from scenarios/, with a fixed seed and
// optionally another stop mode.
// buggyDqlite is the dqlite version the shutdown bugs reproduce on.
const buggyDqlite = "1.18.1"

func runShipped(t *testing.T, file, stopMode string) *verdict.Result {
	t.Helper()
	return runShippedOn(t, file, stopMode, buggyDqlite)
}

func runShippedOn(t *testing.T, file, stopMode, dqlite string) *verdict.Result {
	t.Helper()
	sc, err := scenario.Load(filepath.Join("..", "scenarios", file))
	require.NoError(t, err)
	seed := int64(61)
	o := scenario.Overrides{Seed: &seed, Dqlite: &dqlite}
	if stopMode != "" {
		m := mode.Stop(stopMode)
		o.StopMode = &m
	}
	sc, err = o.Apply(sc)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := harness.Run(ctx, sc, harness.Options{Backend: &docker.Backend{}, RunsDir: t.TempDir(), Log: slog.Default()})
	require.NoError(t, err)
	return res
}

// requireNoLostWrite requires the workload's checker (set: every
// acknowledged insert in the final reads of every node) to pass.
func requireNoLostWrite(t *testing.T, res *verdict.Result) {
	t.Helper()
	require.NotEmpty(t, res.Checkers)
	for _, c := range res.Checkers {
		require.Equal(t, checker.Valid, c.Verdict, "checker %s: %s %+v", c.Checker, c.Reason, c.Anomalies)
	}
	require.True(t, res.Recovery.Recovered, "every node answered after the revive: %+v", res.Recovery)
}

func TestIntegrationShutdownRegressionScenariosReproduceTheirBugs(t *testing.T) {
	cli := requireDocker(t)
	for _, tc := range []struct {
		file, node, kind, signature, address string
		exit                                 int // 2: the Go runtime after a fault; 137: the harness's SIGKILL of a hung node
	}{
		{"shutdown-double-stop.yaml", "n2", "assertion", // canonical/dqlite#737
			"SIGABRT: src/server.c:924: dqlite_node_stop: Assertion `rv == 0' failed.", "pc=", 2},
		{"shutdown-never-started.yaml", "n3", "signal", // canonical/dqlite#848
			"SIGSEGV: segmentation violation at github.com/dqtest/dqtest/node._Cfunc_dqlite_node_stop", "addr=", 2},
		{"shutdown-handover-never-started.yaml", "n3", "signal", // canonical/dqlite#848
			"SIGSEGV: segmentation violation at github.com/dqtest/dqtest/node._Cfunc_dqlite_node_handover", "addr=", 2},
		{"shutdown-handover-after-stop.yaml", "n2", "hang", // handover of a stopped node never returns
			"hang: handover exceeded its deadline", "", 137},
		{"selftest-panic-on-stop.yaml", "n2", "go-panic",
			`panic: self-test: panic on stop (mode "guarded") at github.com/dqtest/dqtest/node/control.selfTestPanic`, "", 2},
	} {
		t.Run(strings.TrimSuffix(tc.file, ".yaml"), func(t *testing.T) {
			res := runShipped(t, tc.file, "")
			require.Equal(t, checker.Valid, res.Outcome, "the bug reproduced as expected: %v", res.Reasons)
			require.Equal(t, checker.Invalid, res.Verdict)
			require.Len(t, res.Crashes, 1, "%+v", res.Crashes)
			c := res.Crashes[0]
			require.Equal(t, tc.node, c.Node)
			require.Equal(t, tc.kind, c.Kind)
			require.True(t, strings.HasPrefix(c.Signature, tc.signature), "signature %q", c.Signature)
			require.True(t, c.Expected)
			// The evidence: exit status, fault address, the log before,
			// the fault in flight, how to rerun.
			require.NotNil(t, c.Exit)
			require.Equal(t, tc.exit, c.Exit.ExitCode)
			require.Contains(t, c.Address, tc.address)
			require.NotEmpty(t, c.Before)
			require.NotNil(t, c.InFlight)
			require.NotNil(t, c.InFlight.Fault, "the fault step in flight is named")
			require.Contains(t, c.InFlight.Fault.Nodes, tc.node)
			require.Equal(t, int64(61), c.Seed)
			require.Equal(t, "dqtest repro "+res.Dir, c.Rerun)
			requireNoLostWrite(t, res)
			require.Empty(t, leftovers(t, cli, res.RunID))
		})
	}
}

func TestIntegrationShutdownGuardedAndBypassModesAvoidTheBugs(t *testing.T) {
	cli := requireDocker(t)
	for _, tc := range []struct{ file, mode string }{
		{"shutdown-double-stop.yaml", "guarded"},         // the second stop is a no-op
		{"shutdown-double-stop.yaml", "bypass"},          // no C stop at all
		{"shutdown-never-started.yaml", "guarded"},       // stop and handover refused: not running
		{"shutdown-handover-after-stop.yaml", "guarded"}, // the handover refused: not running
	} {
		t.Run(strings.TrimSuffix(tc.file, ".yaml")+"/"+tc.mode, func(t *testing.T) {
			res := runShipped(t, tc.file, tc.mode)
			require.Equal(t, checker.Valid, res.Verdict, "no crash, no hang: %v", res.Reasons)
			require.Empty(t, res.Crashes)
			require.Equal(t, checker.Invalid, res.Outcome, "the expected crash is missing, so the gate says so")
			requireNoLostWrite(t, res)
			require.Empty(t, leftovers(t, cli, res.RunID))
		})
	}
}

// TestIntegrationShutdownGatesSayFixedOnDqlite1187: the same regression
// gates on dqlite 1.18.7, which has the fixes, pass as valid runs that say
// the bug is fixed in this version (measured: no crash, no hang; the
// second stop and the handovers are refused with dqlite's error instead).
func TestIntegrationShutdownGatesSayFixedOnDqlite1187(t *testing.T) {
	cli := requireDocker(t)
	for _, file := range []string{"shutdown-double-stop.yaml", "shutdown-never-started.yaml",
		"shutdown-handover-never-started.yaml", "shutdown-handover-after-stop.yaml"} {
		t.Run(strings.TrimSuffix(file, ".yaml"), func(t *testing.T) {
			res := runShippedOn(t, file, "", "1.18.7")
			require.Equal(t, checker.Valid, res.Verdict, "no crash, no hang on 1.18.7: %v %+v", res.Reasons, res.Crashes)
			require.Equal(t, checker.Valid, res.Outcome, "%v", res.Reasons)
			require.NotEmpty(t, res.Reasons)
			require.Contains(t, res.Reasons[0], "fixed in this version")
			require.Equal(t, "1.18.7", res.Expect.Fixed)
			require.Len(t, res.Dqlite, 1)
			require.Equal(t, "1.18.7", res.Dqlite[0].Dqlite)
			requireNoLostWrite(t, res)
			require.Empty(t, leftovers(t, cli, res.RunID))
		})
	}
}
