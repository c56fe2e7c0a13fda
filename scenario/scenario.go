package scenario

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/parser"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/mode"
	"github.com/dqtest/dqtest/nemesis"
	"github.com/dqtest/dqtest/workloads"
)

// Scenario is one test, as a YAML file gives it (docs/scenarios.md). Every
// field has a default (Default); Load fills them in, so a
// file says only what differs. The resolved scenario, with every default
// and the seed made explicit, is written to the run directory: running it
// again reproduces the run's operations and faults.
type Scenario struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description,omitempty"`
	// Backend is docker (real dqlite in containers) or sim (the simulator).
	Backend mode.Backend `yaml:"backend"`
	// Nodes is the cluster size: 1, 3, 5 or 7.
	Nodes int `yaml:"nodes"`
	// StopMode is how the Node API stops dqlite: guarded, unguarded or bypass.
	StopMode mode.Stop `yaml:"stop_mode"`
	// Client is how the workload's clients reach dqlite (docker backend):
	// "node" (default) sends each operation to its node's control API, and
	// that node's own go-dqlite client runs it on the leader, as an
	// application embedded in a node does (Jepsen's dqlite test does the
	// same); "direct" runs it from dqtest's process with the same client
	// (package node/dqclient), straight to the leader's dqlite port, with
	// the leader found through the client's node, as an application outside
	// the cluster does. Partitions cut only traffic between nodes, so a
	// direct client reaches any leader its node names. The simulator
	// models no transport and ignores it.
	Client mode.Client `yaml:"client"`
	// StopDeadline bounds each stop, start and handover of a fault; one
	// that runs past it is a hang finding, and the node is killed.
	StopDeadline time.Duration `yaml:"stop_deadline"`
	// DataDirSize puts each node's data directory on a file system of its
	// own of this size (e.g. 256m), which the disk nemesis fills. Default:
	// DefaultDataDirSize when the nemesis uses disk, else none (the
	// container's own file system).
	DataDirSize string `yaml:"data_dir_size,omitempty"`
	// Dqlite is the C dqlite the nodes run (docker backend): a version, or
	// a section with per-node versions (dqlite.go).
	Dqlite Dqlite `yaml:"dqlite"`
	// NodeArgs are extra `dqtest node` flags per node, e.g. {n2: [--self-test-stale-reads]}.
	NodeArgs map[string][]string `yaml:"node_args,omitempty"`
	Workload WorkloadSpec        `yaml:"workload"`
	// Concurrency is the number of client slots; 0 means two per node.
	Concurrency int `yaml:"concurrency"`
	// Rate is the total operations per second over all clients; 0 means as
	// fast as the cluster answers.
	Rate float64 `yaml:"rate"`
	// TimeLimit is how long the workload and the nemesis run.
	TimeLimit time.Duration `yaml:"time_limit"`
	// OpTimeout is each operation's deadline; an operation that hits it is
	// recorded as info.
	OpTimeout time.Duration `yaml:"op_timeout"`
	Nemesis   nemesis.Spec  `yaml:"nemesis"`
	// Seed fixes the operation sequence of every client slot and the fault
	// plan. 0 means: pick one when the run starts (it is written to the
	// resolved scenario).
	Seed int64 `yaml:"seed"`
	// RecoveryTimeout bounds the wait, after healing, for a leader and
	// every node answering.
	RecoveryTimeout time.Duration `yaml:"recovery_timeout"`
	// FinalReadsTimeout bounds the final reads through every node.
	FinalReadsTimeout time.Duration  `yaml:"final_reads_timeout"`
	Checker           CheckerOptions `yaml:"checker"`
	Expect            Expect         `yaml:"expect"`
}

// WorkloadSpec names the workload; its parameters sit beside the name.
type WorkloadSpec struct {
	Name             string `yaml:"name"`
	workloads.Params `yaml:",inline"`
}

// CheckerOptions tune checking.
type CheckerOptions struct {
	// TimeBudget bounds the check; past it the verdict is unknown.
	TimeBudget time.Duration `yaml:"time_budget"`
	// Consistency is the model the list-append checker checks:
	// strict-serializable (the default: transactions also respect real
	// time) or serializable. Other workloads check linearizability or
	// their invariants and ignore it.
	Consistency string `yaml:"consistency"`
	// Convergence compares every node's own copy of the workload's data
	// after the final reads (docs/scenarios.md); on by default.
	Convergence *bool `yaml:"convergence,omitempty"`
}

// ConvergenceOn reports whether the replica-convergence check runs.
func (c CheckerOptions) ConvergenceOn() bool { return c.Convergence == nil || *c.Convergence }

// DefaultStopDeadline bounds each stop, start and handover a fault asks a
// node for (Scenario.StopDeadline). A dqlite_node_stop takes tens of
// milliseconds; a guarded stop waits for a handover in flight, which takes
// a few seconds at most.
const DefaultStopDeadline = 20 * time.Second

// DefaultCheckerBudget bounds a check when the scenario does not say (and
// for a bare history checked without one): past it the verdict is unknown.
const DefaultCheckerBudget = 60 * time.Second

// Default is what an empty scenario file means: the register
// workload on three real nodes for a minute, with no faults.
func Default() Scenario {
	return Scenario{
		Backend:           mode.Docker,
		Nodes:             3,
		StopMode:          mode.Guarded,
		Client:            mode.ClientNode,
		StopDeadline:      DefaultStopDeadline,
		Workload:          WorkloadSpec{Name: "register"},
		Rate:              100,
		TimeLimit:         60 * time.Second,
		OpTimeout:         5 * time.Second,
		RecoveryTimeout:   60 * time.Second,
		FinalReadsTimeout: 30 * time.Second,
		Checker:           CheckerOptions{TimeBudget: DefaultCheckerBudget, Consistency: checker.StrictSerializable},
	}
}

// Load reads, resolves and validates a scenario file. Its name
// defaults to the file's base name.
func Load(path string) (Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Scenario{}, err
	}
	return Parse(path, data)
}

// Parse is Load on bytes; file names them in errors.
func Parse(file string, data []byte) (Scenario, error) {
	sc := Default()
	sc.Name = strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return Scenario{}, locate(file, nil, err)
	}
	// An empty document (or one of only comments) means every default;
	// decoding it would zero the defaults instead.
	if len(f.Docs) > 1 {
		line := 0
		if tk := f.Docs[1].Start; tk != nil {
			line = tk.Position.Line
		} else if tk := f.Docs[1].GetToken(); tk != nil {
			line = tk.Position.Line
		}
		return Scenario{}, &Error{File: file, Line: line, Msg: "a scenario file holds one YAML document"}
	}
	if len(f.Docs) == 1 && f.Docs[0].Body != nil {
		if err := yaml.UnmarshalWithOptions(data, &sc, yaml.Strict()); err != nil {
			return Scenario{}, locate(file, f, err)
		}
	}
	if err := sc.resolve(); err != nil {
		if fe, ok := err.(*fieldError); ok {
			return Scenario{}, &Error{File: file, Line: lineOf(yamlKeys(f), fe.field), Field: fe.field, Msg: fe.msg}
		}
		return Scenario{}, &Error{File: file, Msg: err.Error()}
	}
	return sc, nil
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// resolve fills in the defaults that depend on other fields and checks
// every field, returning the first bad one.
func (sc *Scenario) resolve() error {
	_, err := sc.resolvePlan()
	return err
}

// resolvePlan is resolve, returning the fault plan it drew to check the
// nemesis against the cluster size and run length.
func (sc *Scenario) resolvePlan() ([]nemesis.Step, error) {
	if !nameRE.MatchString(sc.Name) {
		return nil, badField("name", "%q must be letters, digits, '.', '_' or '-' (it names the run directory)", sc.Name)
	}
	if !sc.Backend.Valid() {
		return nil, badField("backend", "must be %s, got %q", mode.Names(mode.Backends()), sc.Backend)
	}
	if !mode.ValidNodes(sc.Nodes) {
		return nil, badField("nodes", "must be 1, 3, 5 or 7, got %d", sc.Nodes)
	}
	if !sc.StopMode.Valid() {
		return nil, badField("stop_mode", "must be %s, got %q", mode.Names(mode.StopModes()), sc.StopMode)
	}
	if !sc.Client.Valid() {
		return nil, badField("client", "must be %s, got %q", mode.Names(mode.ClientModes()), sc.Client)
	}
	if sc.Client == mode.ClientDirect && sc.Backend == mode.Docker {
		for _, node := range slices.Sorted(maps.Keys(sc.NodeArgs)) {
			for _, a := range sc.NodeArgs[node] {
				if strings.HasPrefix(a, "--self-test-stale-reads") {
					return nil, badField("client", "direct clients bypass the control API, where %s's %s serves its stale reads: the self-test would test nothing (use client: node)", node, a)
				}
			}
		}
	}
	names := NodeNames(sc.Nodes)
	for node, args := range sc.NodeArgs {
		if !slices.Contains(names, node) {
			return nil, badField("node_args."+node, "no node %q in a %d-node cluster (nodes are %s)", node, sc.Nodes, strings.Join(names, ", "))
		}
		for _, a := range args {
			if !strings.HasPrefix(a, "-") {
				return nil, badField("node_args."+node, "%q is not a flag (flags start with -)", a)
			}
		}
	}
	params, err := workloads.Resolve(sc.Workload.Name, sc.Workload.Params)
	if err != nil {
		return nil, badField(workloadField(err), "%v", err)
	}
	sc.Workload.Params = params
	if sc.Concurrency < 0 {
		return nil, badField("concurrency", "must be 0 (two per node) or more, got %d", sc.Concurrency)
	}
	if sc.Concurrency == 0 {
		sc.Concurrency = 2 * sc.Nodes
	}
	if sc.Rate < 0 {
		return nil, badField("rate", "must be 0 (unlimited) or more operations per second, got %v", sc.Rate)
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{
		{"time_limit", sc.TimeLimit},
		{"op_timeout", sc.OpTimeout},
		{"stop_deadline", sc.StopDeadline},
		{"recovery_timeout", sc.RecoveryTimeout},
		{"final_reads_timeout", sc.FinalReadsTimeout},
		{"checker.time_budget", sc.Checker.TimeBudget},
	} {
		if d.v <= 0 {
			return nil, badField(d.field, "must be a positive duration such as 30s, got %v", d.v)
		}
		if d.v > 24*time.Hour {
			return nil, badField(d.field, "must be at most 24h, got %v", d.v)
		}
	}
	if sc.Checker.Consistency == "" {
		sc.Checker.Consistency = checker.StrictSerializable
	}
	if err := checker.ValidateConsistency(sc.Checker.Consistency); err != nil {
		return nil, badField("checker.consistency", "%v", err)
	}
	plan, err := resolveNemesis(sc)
	if err != nil {
		return nil, err
	}
	if err := resolveDataDirSize(sc); err != nil {
		return nil, err
	}
	if err := resolveDqlite(sc); err != nil {
		return nil, err
	}
	return plan, sc.Expect.resolve()
}

// workloadField names the field an error from workloads.Resolve is about,
// so the error points at its line.
func workloadField(err error) string {
	var pe *workloads.ParamError
	if errors.As(err, &pe) {
		return "workload." + pe.Param
	}
	return "workload"
}

// NodeNames are the names of an n-node cluster's nodes: n1..nN.
func NodeNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("n%d", i+1)
	}
	return names
}

// Overrides are command-line values that replace a scenario's fields. A
// nil field leaves the scenario's value.
type Overrides struct {
	Seed        *int64
	Nodes       *int
	TimeLimit   *time.Duration
	Concurrency *int
	Rate        *float64
	// Nemesis replaces the scenario's faults with these, on its schedule.
	Nemesis []string
	// StopMode replaces the stop mode (guarded, unguarded, bypass).
	StopMode *mode.Stop
	// Client replaces the client mode (node, direct).
	Client *mode.Client
	// Workload switches the workload; the file's parameters are dropped
	// when the name changes (they belong to the other workload).
	Workload *string
	Backend  *mode.Backend
	// Dqlite replaces the C dqlite version of every node (--dqlite).
	Dqlite *string
}

// Apply returns sc with the overrides applied, resolved and validated
// again. Errors name the flag.
func (o Overrides) Apply(sc Scenario) (Scenario, error) {
	flags := map[string]string{} // field -> the flag that set it
	set := func(field, flag string) { flags[field] = flag }
	override(&sc.Seed, o.Seed, "seed", "--seed", flags)
	override(&sc.Nodes, o.Nodes, "nodes", "--nodes", flags)
	override(&sc.TimeLimit, o.TimeLimit, "time_limit", "--time-limit", flags)
	override(&sc.Concurrency, o.Concurrency, "concurrency", "--concurrency", flags)
	override(&sc.Rate, o.Rate, "rate", "--rate", flags)
	override(&sc.Backend, o.Backend, "backend", "--backend", flags)
	override(&sc.StopMode, o.StopMode, "stop_mode", "--stop-mode", flags)
	override(&sc.Client, o.Client, "client", "--client", flags)
	if o.Dqlite != nil {
		sc.Dqlite.Version, sc.Dqlite.Nodes = *o.Dqlite, nil // the settings stay
		set("dqlite.version", "--dqlite")
	}
	if o.Workload != nil && *o.Workload != sc.Workload.Name {
		sc.Workload = WorkloadSpec{Name: *o.Workload}
		set("workload.name", "--workload")
		set("workload", "--workload")
	}
	if o.Nemesis != nil {
		if err := overrideNemesis(&sc, o.Nemesis); err != nil {
			return Scenario{}, fmt.Errorf("--nemesis: %w", err)
		}
		set("nemesis", "--nemesis")
	}
	if err := sc.resolve(); err != nil {
		if fe, ok := err.(*fieldError); ok {
			if flag := flags[fe.field]; flag != "" {
				return Scenario{}, fmt.Errorf("%s: %s", flag, fe.msg)
			}
			for field, flag := range flags {
				if strings.HasPrefix(fe.field, field+".") {
					return Scenario{}, fmt.Errorf("%s: %s: %s", flag, fe.field, fe.msg)
				}
			}
		}
		return Scenario{}, fmt.Errorf("scenario %s: %w", sc.Name, err)
	}
	return sc, nil
}

// override sets *dst to *v when the flag was given, noting which flag set
// the field.
func override[T any](dst *T, v *T, field, flag string, flags map[string]string) {
	if v != nil {
		*dst = *v
		flags[field] = flag
	}
}

// Marshal renders the scenario as YAML, as the run directory records it.
func (sc Scenario) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# Resolved scenario %s: every default made explicit.\n", sc.Name)
	b, err := yaml.Marshal(sc)
	if err != nil {
		return nil, err
	}
	buf.Write(b)
	return buf.Bytes(), nil
}

// resolveNemesis fills in the nemesis defaults and checks the spec against
// the cluster size and run length (Plan does both).
func resolveNemesis(sc *Scenario) ([]nemesis.Step, error) {
	spec := sc.Nemesis.WithDefaults()
	if err := spec.Validate(); err != nil {
		return nil, nemesisFieldError(err)
	}
	plan, err := nemesis.Plan(spec, NodeNames(sc.Nodes), sc.TimeLimit, sc.Seed)
	var unplanned *nemesis.UnplannedError
	if errors.As(err, &unplanned) {
		return nil, badField("time_limit", "%v", err)
	}
	if err != nil {
		return nil, nemesisFieldError(err)
	}
	sc.Nemesis = spec
	return plan, nil
}

// nemesisFieldError turns the first of the nemesis package's errors into a
// field error under "nemesis".
func nemesisFieldError(err error) error {
	var fe *nemesis.FieldError
	if errors.As(err, &fe) {
		return badField("nemesis."+fe.Field, "%s", fe.Problem)
	}
	return badField("nemesis", "%v", err)
}

// overrideNemesis replaces the scenario's faults by a --nemesis list
// ("none" or an empty list: no faults). A timeline names its own faults, so
// it gives way to the default fixed schedule.
func overrideNemesis(sc *Scenario, faults []string) error {
	var clean []string
	for _, f := range faults {
		f = strings.TrimSpace(f)
		if f != "" && f != "none" {
			clean = append(clean, f)
		}
	}
	sc.Nemesis.Faults = clean
	if sc.Nemesis.Schedule.Kind == nemesis.Timeline {
		sc.Nemesis.Schedule.Kind = nemesis.Fixed
		sc.Nemesis.Schedule.Timeline = nil
	}
	if err := sc.Nemesis.Validate(); err != nil {
		var fe *nemesis.FieldError
		if errors.As(err, &fe) {
			return errors.New(fe.Problem)
		}
		return err
	}
	return nil
}

// Summary is a scenario file's one-line description: its first comment
// line (every shipped scenario starts with one), or else its description
// field's first line.
func Summary(data []byte) string {
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if text, ok := strings.CutPrefix(line, "#"); ok {
			if text = strings.TrimSpace(text); text != "" {
				return text
			}
			continue
		}
		break
	}
	var d struct {
		Description string `yaml:"description"`
	}
	if yaml.Unmarshal(data, &d) == nil {
		if first, _, _ := strings.Cut(strings.TrimSpace(d.Description), "\n"); first != "" {
			return first
		}
	}
	return "(no description)"
}
