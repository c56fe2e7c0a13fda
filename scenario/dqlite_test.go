package scenario

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/mode"
)

func TestDqliteVersionDefaultsToTheNewestShipped(t *testing.T) {
	sc, err := Parse("s.yaml", []byte("nodes: 3\n"))
	require.NoError(t, err)
	require.Equal(t, mode.DefaultDqlite, sc.Dqlite.Version)
	require.Equal(t, "1.18.7", sc.Dqlite.Version, "the default is written out, never whatever image is present")
	require.Nil(t, sc.Dqlite.Nodes)
}

func TestDqliteIsAVersionOrASection(t *testing.T) {
	sc, err := Parse("s.yaml", []byte("dqlite: 1.18.1\n"))
	require.NoError(t, err)
	require.Equal(t, "1.18.1", sc.Dqlite.Version)

	sc, err = Parse("s.yaml", []byte("dqlite:\n  version: 1.18.1\n  nodes: {n3: 1.18.7, n2: 1.18.1}\n"))
	require.NoError(t, err)
	require.Equal(t, "1.18.1", sc.Dqlite.Version)
	require.Equal(t, map[string]string{"n3": "1.18.7"}, sc.Dqlite.Nodes, "a node on the cluster's version is said once")
	require.Equal(t, "1.18.7", sc.Dqlite.NodeVersion("n3"))
	require.Equal(t, "1.18.1", sc.Dqlite.NodeVersion("n1"))
	require.Equal(t, []string{"1.18.1", "1.18.7"}, sc.Dqlite.Versions())

	// The resolved scenario reads back the same.
	b, err := sc.Marshal()
	require.NoError(t, err)
	back, err := Parse("s.yaml", b)
	require.NoError(t, err)
	require.Equal(t, sc.Dqlite, back.Dqlite)
}

func TestDqliteErrorsNameTheLineAndField(t *testing.T) {
	for src, want := range map[string]string{
		"nodes: 3\ndqlite: latest\n":                                    `s.yaml:2: dqlite.version: "latest": want a version such as 1.18.7`,
		"nodes: 3\ndqlite:\n  version: 1.18.1\n  nodes: {n4: 1.18.7}\n": `dqlite.nodes.n4: no node "n4" in a 3-node cluster`,
		"dqlite:\n  version: 1.18.1\n  flavour: vanilla\n":              `flavour`,
	} {
		_, err := Parse("s.yaml", []byte(src))
		require.ErrorContains(t, err, want, "source %q", src)
	}
}

func TestDqliteFlagReplacesEveryNodesVersion(t *testing.T) {
	sc, err := Parse("s.yaml", []byte("dqlite:\n  version: 1.18.1\n  nodes: {n3: 1.18.7}\n"))
	require.NoError(t, err)
	v := "1.18.1"
	sc, err = Overrides{Dqlite: &v}.Apply(sc)
	require.NoError(t, err)
	require.Equal(t, Dqlite{Version: "1.18.1"}, sc.Dqlite)
	bad := "one"
	_, err = Overrides{Dqlite: &bad}.Apply(sc)
	require.ErrorContains(t, err, `--dqlite: "one": want a version`)
}

func TestExpectFixedInTurnsAGateValidFromTheFixOn(t *testing.T) {
	sc, err := Parse("s.yaml", []byte("expect: {crash: dqlite_node_stop, fixed_in: 1.18.2}\n"))
	require.NoError(t, err)
	before := sc.Expect.For("1.18.1")
	require.Equal(t, "dqlite_node_stop", before.Crash, "before the fix the crash is expected")
	require.Empty(t, before.Fixed)
	after := sc.Expect.For("1.18.7")
	require.Equal(t, "valid", string(after.Verdict))
	require.Empty(t, after.Crash)
	require.Equal(t, "1.18.7", after.Fixed)
	require.Equal(t, sc.Expect, sc.Expect.For(""), "the simulator has no version: the expectation stands")
	require.Equal(t, 1, CompareVersions("1.18.10", "1.18.2"), "versions compare as numbers")

	for src, want := range map[string]string{
		"expect: {fixed_in: 1.18.2}\n":                 "expect.fixed_in: says when an expected anomaly or crash stopped",
		"expect: {crash: x, fixed_in: soon}\n":         `expect.fixed_in: "soon": want a dqlite version`,
		"expect: {verdict: valid, fixed_in: 1.18.2}\n": "expect.fixed_in",
	} {
		_, err := Parse("s.yaml", []byte(src))
		require.ErrorContains(t, err, want, src)
	}
}

func TestOldestVersionOfAMixedCluster(t *testing.T) {
	sc, err := Parse("s.yaml", []byte("dqlite: {version: 1.18.7, nodes: {n2: 1.18.1}}\n"))
	require.NoError(t, err)
	require.Equal(t, "1.18.1", sc.Dqlite.Oldest())
}

func TestDqliteSettingsBecomeNodeFlagsOnEveryNode(t *testing.T) {
	src := "nodes: 3\nnode_args: {n2: [--stop-timeout=5s]}\ndqlite:\n  version: 1.18.1\n  snapshot: {threshold: 128, trailing: 1024}\n  network_latency: 20ms\n  failure_domain: 3\n  auto_recovery: false\n  disk_mode: true\n"
	sc, err := Parse("s.yaml", []byte(src))
	require.NoError(t, err)
	want := []string{"--snapshot-threshold=128", "--snapshot-trailing=1024", "--network-latency=20ms", "--failure-domain=3", "--auto-recovery=false", "--disk-mode=true"}
	require.Equal(t, want, sc.Dqlite.NodeFlags())
	require.True(t, sc.Dqlite.HasSettings())
	args := sc.NodeArgsWithDqlite()
	require.Equal(t, want, args["n1"])
	require.Equal(t, append(want, "--stop-timeout=5s"), args["n2"], "node_args come after the settings")

	// A node_args flag overrides a setting for its node: it comes last.
	per, err := Parse("s.yaml", []byte("node_args: {n3: [--snapshot-trailing=100000]}\ndqlite:\n  snapshot: {threshold: 128, trailing: 256}\n"))
	require.NoError(t, err)
	require.Equal(t, []string{"--snapshot-threshold=128", "--snapshot-trailing=256", "--snapshot-trailing=100000"}, per.NodeArgsWithDqlite()["n3"])
	require.Equal(t, []string{"--snapshot-threshold=128", "--snapshot-trailing=256"}, per.NodeArgsWithDqlite()["n1"])
	require.Equal(t, want, args["n3"])
	require.Equal(t, map[string][]string{"n2": {"--stop-timeout=5s"}}, sc.NodeArgs, "the scenario's own node_args are untouched")

	// The resolved scenario reads back the same.
	b, err := sc.Marshal()
	require.NoError(t, err)
	back, err := Parse("s.yaml", b)
	require.NoError(t, err)
	require.Equal(t, sc.Dqlite, back.Dqlite)

	// --dqlite replaces the version and keeps the settings.
	v := "1.18.1"
	sc, err = Overrides{Dqlite: &v}.Apply(sc)
	require.NoError(t, err)
	require.Equal(t, want, sc.Dqlite.NodeFlags())
	// --nodes 5: every node gets them.
	five := 5
	sc, err = Overrides{Nodes: &five}.Apply(sc)
	require.NoError(t, err)
	require.Len(t, sc.NodeArgsWithDqlite(), 5)
	require.Equal(t, want, sc.NodeArgsWithDqlite()["n5"])
}

func TestDqliteWithoutSettingsPassesNodeArgsAsTheyAre(t *testing.T) {
	sc, err := Parse("s.yaml", []byte("dqlite:\n  version: 1.18.7\n  snapshot: {}\n  auto_recovery: true\n"))
	require.NoError(t, err)
	require.False(t, sc.Dqlite.HasSettings(), "an empty snapshot and dqlite's default auto-recovery set nothing")
	require.Nil(t, sc.Dqlite.Snapshot)
	require.Nil(t, sc.Dqlite.AutoRecovery)
	require.Nil(t, sc.NodeArgsWithDqlite())
}

func TestDqliteSettingsErrorsNameTheLineAndField(t *testing.T) {
	for src, want := range map[string]string{
		"dqlite:\n  version: 1.18.7\n  disk_mode: true\n":                                "s.yaml:3: dqlite.disk_mode: dqlite 1.18.7 has no disk mode: it was dropped in 1.18.3",
		"dqlite:\n  version: 1.18.1\n  nodes: {n3: 1.18.7}\n  disk_mode: true\n":         "dqlite.disk_mode: dqlite 1.18.7 has no disk mode",
		"dqlite:\n  version: 1.18.1\n  disk_mode: true\nnemesis:\n  faults: [upgrade]\n": "dqlite.disk_mode: the upgrade fault moves nodes to a dqlite without disk mode",
		"dqlite:\n  version: 1.18.1\n  network_latency: 500us\n":                         "dqlite.network_latency: 500µs: want whole milliseconds from 1ms to 1h",
		"dqlite:\n  version: 1.18.1\n  network_latency: 2h\n":                            "dqlite.network_latency: 2h0m0s",
		"dqlite:\n  version: 1.18.1\n  snapshot: {threshold: 1}\n":                       "dqlite.snapshot.threshold: 1: want at least 2",
		"dqlite:\n  version: 1.18.1\n  snapshot: {threshold: 64, every: 3}\n":            "every",
		"dqlite:\n  version: 1.18.1\n  snapshot: {threshold: 128, trailing: 64}\n":       "dqlite.snapshot.trailing: 64: dqlite wants at least 4 and at least the threshold (128",
		"dqlite:\n  version: 1.18.1\n  snapshot: {threshold: 9000}\n":                    "dqlite.snapshot.trailing: 8192",
	} {
		_, err := Parse("s.yaml", []byte(src))
		require.ErrorContains(t, err, want, "source %q", src)
	}
	sc, err := Parse("s.yaml", []byte("dqlite:\n  version: 1.18.1\n  disk_mode: true\n"))
	require.NoError(t, err, "disk mode on 1.18.1 is allowed")
	v := "1.18.7"
	_, err = Overrides{Dqlite: &v}.Apply(sc)
	require.ErrorContains(t, err, "dqlite.disk_mode: dqlite 1.18.7 has no disk mode", "--dqlite 1.18.7 keeps the settings, and disk mode is refused there")
}
