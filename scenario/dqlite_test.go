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
