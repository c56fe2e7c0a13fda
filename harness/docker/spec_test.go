package docker

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/harness"
	"github.com/dqtest/dqtest/node/control"
)

func TestBadSpecsAreRefusedBeforeDockerIsTouched(t *testing.T) {
	ok := harness.ClusterSpec{RunID: "r1", Nodes: 3}
	for _, tc := range []struct {
		name  string
		edit  func(*harness.ClusterSpec)
		error string
	}{
		{"empty run id", func(s *harness.ClusterSpec) { s.RunID = "" }, "run id"},
		{"run id with a slash", func(s *harness.ClusterSpec) { s.RunID = "a/b" }, `run id "a/b"`},
		{"run id starting with a dash", func(s *harness.ClusterSpec) { s.RunID = "-x" }, "run id"},
		{"no nodes", func(s *harness.ClusterSpec) { s.Nodes = 0 }, "0 nodes"},
		{"too many nodes", func(s *harness.ClusterSpec) { s.Nodes = 8 }, "8 nodes"},
		{"unknown stop mode", func(s *harness.ClusterSpec) { s.StopMode = "gentle" }, `stop mode "gentle"`},
		{"args for a node beyond the cluster", func(s *harness.ClusterSpec) { s.NodeArgs = map[string][]string{"n4": {"-x"}} }, `"n4"`},
		{"args for a badly named node", func(s *harness.ClusterSpec) { s.NodeArgs = map[string][]string{"n01": {"-x"}} }, `"n01"`},
		{"args for node zero", func(s *harness.ClusterSpec) { s.NodeArgs = map[string][]string{"n0": {"-x"}} }, `"n0"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := ok
			tc.edit(&spec)
			_, err := (&Backend{}).Up(context.Background(), spec)
			require.ErrorContains(t, err, tc.error)
		})
	}
	require.NoError(t, checkSpec(harness.ClusterSpec{RunID: "run-1.a_b", Nodes: 7, StopMode: "bypass", NodeArgs: map[string][]string{"n7": {"-x"}}}))
}

func TestExitCodesAbove128NameTheSignal(t *testing.T) {
	for code, want := range map[int]string{0: "", 1: "", 2: "", 128: "", 134: "SIGABRT", 137: "SIGKILL", 139: "SIGSEGV", 143: "SIGTERM", 255: ""} {
		require.Equal(t, want, signalOf(code), "exit code %d", code)
	}
}

func TestAClusterIsFormedOnlyWhenEveryNodeRunsAndAgreesOnTheLeaderAndMembers(t *testing.T) {
	members := []control.Member{{ID: 1, Address: "a:1"}, {ID: 2, Address: "b:1"}, {ID: 3, Address: "c:1"}}
	st := func(leader string, running bool, m []control.Member) nodeStatus {
		return nodeStatus{st: control.Status{Running: running, LeaderAddress: leader, Members: m}}
	}
	good := st("a:1", true, members)
	for _, tc := range []struct {
		name   string
		sts    []nodeStatus
		formed bool
	}{
		{"all agree", []nodeStatus{good, good, good}, true},
		{"one node unreachable", []nodeStatus{good, good, {err: errors.New("refused")}}, false},
		{"one node stopped", []nodeStatus{good, good, st("a:1", false, members)}, false},
		{"no leader yet", []nodeStatus{st("", true, members), st("", true, members), st("", true, members)}, false},
		{"two leaders", []nodeStatus{good, good, st("b:1", true, members)}, false},
		{"a node sees too few members", []nodeStatus{good, good, st("a:1", true, members[:2])}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leader, ok := formed(tc.sts, 3)
			require.Equal(t, tc.formed, ok)
			if ok {
				require.Equal(t, "a:1", leader)
			}
		})
	}
}
