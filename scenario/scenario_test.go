package scenario

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/mode"
	"github.com/dqtest/dqtest/nemesis"
)

func TestParseScenarioFillsEveryDefault(t *testing.T) {
	for _, src := range []string{"", "# only a comment\n", "{}\n"} {
		sc, err := Parse("scenarios/quiet.yaml", []byte(src))
		require.NoError(t, err, "source %q", src)
		require.Equal(t, "quiet", sc.Name, "the name defaults to the file's base name")
		require.Equal(t, mode.Docker, sc.Backend)
		require.Equal(t, 3, sc.Nodes)
		require.Equal(t, mode.Guarded, sc.StopMode)
		require.Equal(t, mode.ClientNode, sc.Client, "clients go through the nodes' control APIs unless told")
		require.Equal(t, "register", sc.Workload.Name)
		require.Equal(t, 2, sc.Workload.Keys, "workload parameters are resolved to the workload's defaults")
		require.Equal(t, 6, sc.Concurrency, "concurrency defaults to two per node")
		require.Equal(t, 100.0, sc.Rate)
		require.Equal(t, 60*time.Second, sc.TimeLimit)
		require.Equal(t, 5*time.Second, sc.OpTimeout)
		require.Equal(t, 60*time.Second, sc.RecoveryTimeout)
		require.Equal(t, 30*time.Second, sc.FinalReadsTimeout)
		require.Equal(t, 60*time.Second, sc.Checker.TimeBudget)
		require.Empty(t, sc.Nemesis.Faults)
		require.Equal(t, nemesis.Fixed, sc.Nemesis.Schedule.Kind)
		require.Equal(t, checker.Valid, sc.Expect.Verdict)
		require.Zero(t, sc.Seed, "seed 0: chosen when the run starts")
	}
}

func TestParseScenarioReadsEveryField(t *testing.T) {
	src := `# five nodes, bank under pauses
name: bank-test
description: Bank transfers under pauses.
backend: sim
nodes: 5
stop_mode: bypass
node_args:
  n2: [--self-test-stale-reads]
workload:
  name: bank
  accounts: 8
  total: 800
concurrency: 4
rate: 0
time_limit: 15s
op_timeout: 2s
nemesis:
  faults: [pause, kill]
  targets: minority
  schedule: {kind: fixed, interval: 4s, duration: 2s}
seed: 42
recovery_timeout: 20s
final_reads_timeout: 10s
checker:
  time_budget: 5s
expect:
  anomalies: [wrong-total]
`
	sc, err := Parse("x.yaml", []byte(src))
	require.NoError(t, err)
	require.Equal(t, "bank-test", sc.Name)
	require.Equal(t, "Bank transfers under pauses.", sc.Description)
	require.Equal(t, mode.Sim, sc.Backend)
	require.Equal(t, 5, sc.Nodes)
	require.Equal(t, mode.Bypass, sc.StopMode)
	require.Equal(t, map[string][]string{"n2": {"--self-test-stale-reads"}}, sc.NodeArgs)
	require.Equal(t, "bank", sc.Workload.Name)
	require.Equal(t, 8, sc.Workload.Accounts)
	require.Equal(t, int64(800), sc.Workload.Total)
	require.Equal(t, 4, sc.Concurrency)
	require.Equal(t, 0.0, sc.Rate)
	require.Equal(t, 15*time.Second, sc.TimeLimit)
	require.Equal(t, 2*time.Second, sc.OpTimeout)
	require.Equal(t, []string{"pause", "kill"}, sc.Nemesis.Faults)
	require.Equal(t, "minority", sc.Nemesis.Targets)
	require.Equal(t, 4*time.Second, sc.Nemesis.Schedule.Interval)
	require.Equal(t, int64(42), sc.Seed)
	require.Equal(t, 20*time.Second, sc.RecoveryTimeout)
	require.Equal(t, 10*time.Second, sc.FinalReadsTimeout)
	require.Equal(t, 5*time.Second, sc.Checker.TimeBudget)
	require.Equal(t, checker.Invalid, sc.Expect.Verdict, "expecting an anomaly means expecting invalid")
	require.Equal(t, []string{"wrong-total"}, sc.Expect.Anomalies)
}

func TestParseScenarioRejectsBadInputAtItsLine(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		line  int
		field string
		msg   string
	}{
		{"unknown top-level field", "nodes: 3\nnodez: 5\n", 2, "nodez", `unknown field "nodez"`},
		{"unknown workload parameter", "workload:\n  name: register\n  keyz: 3\n", 3, "workload.keyz", `unknown field "keyz"`},
		{"unknown nemesis field", "nemesis:\n  faults: [kill]\n  schedule:\n    every: 5s\n", 4, "nemesis.schedule.every", `unknown field "every"`},
		{"wrong type", "time_limit: 30s\nnodes: three\n", 2, "nodes", `expected an integer, got "three"`},
		{"a duration without a unit", "time_limit: 30\n", 1, "time_limit", "expected a duration with a unit"},
		{"a bad duration", "nodes: 3\nop_timeout: 5x\n", 2, "op_timeout", `unknown unit "x"`},
		{"nodes=4", "# comment\nnodes: 4\n", 2, "nodes", "must be 1, 3, 5 or 7, got 4"},
		{"negative concurrency", "concurrency: -2\n", 1, "concurrency", "got -2"},
		{"negative rate", "rate: -1\n", 1, "rate", "got -1"},
		{"zero time limit", "nodes: 3\ntime_limit: 0s\n", 2, "time_limit", "positive duration"},
		{"unknown backend", "backend: kubernetes\n", 1, "backend", `"kubernetes"`},
		{"unknown stop mode", "stop_mode: gentle\n", 1, "stop_mode", `"gentle"`},
		{"unknown client mode", "nodes: 3\nclient: http\n", 2, "client", `must be node or direct, got "http"`},
		{"direct clients with the stale-read self-test", "client: direct\nnode_args:\n  n2: [--self-test-stale-reads=3s]\n", 1, "client", "bypass the control API"},
		{"bad name", "name: ../evil\n", 1, "name", "names the run directory"},
		{"unknown workload", "workload:\n  name: queue\n", 2, "workload.name", `unknown workload "queue"`},
		{"a parameter of another workload", "workload:\n  name: set\n  accounts: 3\n", 3, "workload.accounts", "does not apply"},
		{"a bad workload parameter value", "workload:\n  name: bank\n  accounts: 1\n", 3, "workload.accounts", "at least 2"},
		{"an unknown op in the mix", "workload:\n  name: register\n  mix: {read: 1, delete: 1}\n", 3, "workload.mix", `unknown operation "delete"`},
		{"unknown fault", "nemesis:\n  faults:\n    - kill\n    - meteor\n", 4, "nemesis.faults[1]", `unknown fault "meteor"`},
		{"unknown schedule kind", "nemesis:\n  faults: [kill]\n  schedule:\n    kind: hourly\n", 4, "nemesis.schedule.kind", `"hourly"`},
		{"a timeline step out of order", "nemesis:\n  faults: [kill]\n  schedule:\n    kind: timeline\n    timeline:\n      - {at: 5s, fault: kill, action: start}\n      - {at: 2s, fault: kill, action: stop}\n", 7, "nemesis.schedule.timeline[1].at", "before the previous step"},
		{"a fault that needs more nodes", "nodes: 1\nnemesis:\n  faults: [partition-halves]\n", 3, "nemesis.faults[0]", "partition-halves needs at least 2 nodes"},
		{"node args for a node that does not exist", "nodes: 3\nnode_args:\n  n4: [--x]\n", 3, "node_args.n4", `no node "n4"`},
		{"node args that are not flags", "node_args:\n  n1: [stale]\n", 2, "node_args.n1", "not a flag"},
		{"an unknown expected verdict", "expect:\n  verdict: maybe\n", 2, "expect.verdict", `"maybe"`},
		{"expecting valid and an anomaly", "expect:\n  verdict: valid\n  anomalies: [lost]\n", 2, "expect.verdict", "contradicts"},
		{"malformed YAML", "nodes: [3\ntime_limit: 5s\n", 2, "", "']' must be specified"},
		{"a list where a mapping belongs", "- nodes: 3\n", 1, "", "mapping"},
		{"a list where a number belongs", "rate: [1, 2]\n", 1, "rate", "expected a number"},
		{"a key given twice", "nodes: 3\nseed: 1\nnodes: 5\n", 3, "", `mapping key "nodes" already defined`},
		{"two documents", "nodes: 3\n---\nnodes: 5\n", 2, "", "one YAML document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("scenarios/bad.yaml", []byte(tt.src))
			require.Error(t, err)
			var se *Error
			require.ErrorAs(t, err, &se)
			require.Equal(t, "scenarios/bad.yaml", se.File)
			require.Equal(t, tt.line, se.Line, "error: %v", err)
			if tt.field != "" {
				require.Equal(t, tt.field, se.Field, "error: %v", err)
			}
			require.Contains(t, err.Error(), tt.msg)
			require.Contains(t, err.Error(), "scenarios/bad.yaml:")
		})
	}
}

func TestLoadScenarioNamesAMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

func ptr[T any](v T) *T { return &v }

func TestOverridesReplaceFields(t *testing.T) {
	base, err := Parse("s.yaml", []byte(`
nodes: 3
workload: {name: register, keys: 4}
nemesis:
  faults: [kill]
  schedule:
    kind: timeline
    timeline:
      - {at: 1s, fault: kill, action: start}
      - {at: 2s, fault: kill, action: stop}
seed: 7
`))
	require.NoError(t, err)

	sc, err := Overrides{
		Seed: ptr(int64(99)), Nodes: ptr(5), TimeLimit: ptr(32 * time.Second), Concurrency: ptr(3),
		Rate: ptr(25.0), Backend: ptr(mode.Sim), Nemesis: []string{"partition-halves", "pause"},
		Client: ptr(mode.ClientDirect),
	}.Apply(base)
	require.NoError(t, err)
	require.Equal(t, mode.ClientDirect, sc.Client)
	require.Equal(t, int64(99), sc.Seed)
	require.Equal(t, 5, sc.Nodes)
	require.Equal(t, 32*time.Second, sc.TimeLimit)
	require.Equal(t, 3, sc.Concurrency)
	require.Equal(t, 25.0, sc.Rate)
	require.Equal(t, mode.Sim, sc.Backend)
	require.Equal(t, []string{"partition-halves", "pause"}, sc.Nemesis.Faults)
	require.Equal(t, nemesis.Fixed, sc.Nemesis.Schedule.Kind, "a timeline of other faults gives way to a fixed schedule")
	require.Equal(t, 4, sc.Workload.Keys, "fields without a flag keep the file's value")

	sc, err = Overrides{Workload: ptr("append")}.Apply(base)
	require.NoError(t, err)
	require.Equal(t, "append", sc.Workload.Name)
	require.Equal(t, 8, sc.Workload.Keys, "switching workload drops the file's parameters for the new workload's defaults")

	sc, err = Overrides{Nemesis: []string{"none"}}.Apply(base)
	require.NoError(t, err)
	require.Empty(t, sc.Nemesis.Faults)

	sc, err = Overrides{}.Apply(base)
	require.NoError(t, err)
	require.Equal(t, base, sc, "no flags change nothing")
}

func TestOverridesRejectBadValuesNamingTheFlag(t *testing.T) {
	base, err := Parse("s.yaml", nil)
	require.NoError(t, err)
	tests := []struct {
		name string
		o    Overrides
		msg  string
	}{
		{"nodes", Overrides{Nodes: ptr(4)}, "--nodes: must be 1, 3, 5 or 7, got 4"},
		{"concurrency", Overrides{Concurrency: ptr(-1)}, "--concurrency: "},
		{"time limit", Overrides{TimeLimit: ptr(time.Duration(0))}, "--time-limit: "},
		{"rate", Overrides{Rate: ptr(-3.0)}, "--rate: "},
		{"workload", Overrides{Workload: ptr("queue")}, `--workload: unknown workload "queue"`},
		{"backend", Overrides{Backend: ptr(mode.Backend("vm"))}, `--backend: must be docker or sim, got "vm"`},
		{"client", Overrides{Client: ptr(mode.Client("carrier-pigeon"))}, `--client: must be node or direct, got "carrier-pigeon"`},
		{"nemesis", Overrides{Nemesis: []string{"kill", "meteor"}}, `--nemesis: unknown fault "meteor"`},
		{"nemesis on too few nodes", Overrides{Nodes: ptr(1), Nemesis: []string{"partition-ring"}}, "--nemesis"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.o.Apply(base)
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.msg)
		})
	}
}

func TestResolvedScenarioRoundTrips(t *testing.T) {
	sc, err := Parse("rt.yaml", []byte("nodes: 5\nworkload: {name: append}\nnemesis: {faults: [kill, handover]}\nseed: 3\nnode_args: {n1: [--x]}\nexpect: {crash: assertion}\n"))
	require.NoError(t, err)
	b, err := sc.Marshal()
	require.NoError(t, err)
	again, err := Parse("rt.yaml", b)
	require.NoError(t, err, "resolved scenario:\n%s", b)
	require.Equal(t, sc, again, "resolved scenario:\n%s", b)
}

func TestShippedScenariosLoadAndSayWhatTheyAre(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("..", "scenarios", "*.yaml"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(paths), 7)
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			sc, err := Load(p)
			require.NoError(t, err)
			data, err := os.ReadFile(p)
			require.NoError(t, err)
			require.NotEqual(t, "(no description)", Summary(data))
			require.True(t, len(data) > 0 && data[0] == '#', "a scenario starts with its one-line comment")
			require.LessOrEqual(t, sc.TimeLimit, 60*time.Second, "shipped scenarios stay short")
		})
	}
}

func TestSummaryIsTheFirstCommentLine(t *testing.T) {
	require.Equal(t, "Register on 3 nodes.", Summary([]byte("\n#   Register on 3 nodes.\n# more\nnodes: 3\n")))
	require.Equal(t, "From the field.", Summary([]byte("nodes: 3\ndescription: |\n  From the field.\n  More.\n")))
	require.Equal(t, "(no description)", Summary([]byte("nodes: 3\n")))
}

func TestExpectIsWrittenToResultsWithTheScenarioFileNames(t *testing.T) {
	b, err := json.Marshal(Expect{Verdict: checker.Invalid, Anomalies: []string{"G1a"}, Crash: "assertion"})
	require.NoError(t, err)
	require.JSONEq(t, `{"verdict": "invalid", "anomalies": ["G1a"], "crash": "assertion"}`, string(b))
	var back Expect
	require.NoError(t, json.Unmarshal([]byte(`{"Verdict": "invalid", "Crash": "x"}`), &back), "results.json of earlier versions")
	require.Equal(t, Expect{Verdict: checker.Invalid, Crash: "x"}, back)
}

func TestAScenarioWhoseFaultsNeverFitIsRefusedAtTimeLimit(t *testing.T) {
	_, err := Parse("short.yaml", []byte("nodes: 3\ntime_limit: 8s\nnemesis:\n  faults: [kill]\n"))
	require.Error(t, err)
	require.Contains(t, err.Error(), "short.yaml:2")
	require.Contains(t, err.Error(), "time_limit")
	require.Contains(t, err.Error(), "kill never fit in a run of 8s")

	base, err := Parse("s.yaml", []byte("nodes: 3\ntime_limit: 60s\nnemesis:\n  faults: [kill]\n"))
	require.NoError(t, err)
	_, err = Overrides{TimeLimit: ptr(5 * time.Second)}.Apply(base)
	require.ErrorContains(t, err, "--time-limit")
	require.ErrorContains(t, err, "never fit")
}
