package scenario

import (
	"cmp"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/dqtest/dqtest/mode"
	"github.com/dqtest/dqtest/nemesis"
)

// Dqlite says which C dqlite the nodes run (docker backend) and, per node,
// where that differs: a cluster that starts mixed, as in the middle of a
// rolling upgrade. In a file it is either a version alone,
//
//	dqlite: 1.18.1
//
// or a section:
//
//	dqlite:
//	  version: 1.18.1
//	  nodes: {n3: 1.18.7}
//
// The version defaults to mode.DefaultDqlite (the newest dqtest ships),
// never to whatever image happens to be present. The simulator models no
// dqlite version and ignores it.
//
// The section also holds the C node's settings where bugs live, the same
// on every node (`dqtest node` flags, NodeFlags):
//
//	dqlite:
//	  version: 1.18.1
//	  snapshot: {threshold: 128, trailing: 1024}   # jepsen.dqlite's, to force snapshot installs
//	  network_latency: 20ms
//	  failure_domain: 1
//	  auto_recovery: false
//	  disk_mode: true                              # 1.18.1 only: dqlite 1.18.3 dropped it
//
// The simulator refuses a scenario with settings (it has no C node).
type Dqlite struct {
	Version string            `yaml:"version"`
	Nodes   map[string]string `yaml:"nodes,omitempty"`
	// Snapshot is when dqlite takes a raft snapshot (threshold: after that
	// many log entries) and how many entries it keeps behind one
	// (trailing). A follower further behind than trailing entries can only
	// catch up by installing a snapshot. dqlite's defaults: 1024 and 8192.
	Snapshot *Snapshot `yaml:"snapshot,omitempty"`
	// NetworkLatency is the one-way latency dqlite tunes its raft
	// heartbeat and election timeouts to (dqlite_node_set_network_latency).
	NetworkLatency time.Duration `yaml:"network_latency,omitempty"`
	// FailureDomain is every node's failure domain code
	// (dqlite_node_set_failure_domain); per node, use node_args
	// --failure-domain.
	FailureDomain uint64 `yaml:"failure_domain,omitempty"`
	// AutoRecovery false makes a node fail its start on a corrupt
	// snapshot or segment instead of deleting it (dqlite's default: true).
	AutoRecovery *bool `yaml:"auto_recovery,omitempty"`
	// DiskMode keeps the databases on disk (experimental in 1.18.1;
	// dqlite 1.18.3 dropped it, so it is refused for any node on 1.18.3
	// or later, and with the upgrade fault).
	DiskMode bool `yaml:"disk_mode,omitempty"`
}

// Snapshot is the dqlite section's snapshot parameters; 0 is dqlite's
// default for either.
type Snapshot struct {
	Threshold uint64 `yaml:"threshold,omitempty"`
	Trailing  uint64 `yaml:"trailing,omitempty"`
}

// DiskModeDroppedIn is the first C dqlite without disk mode.
const DiskModeDroppedIn = "1.18.3"

// HasSettings reports whether the section sets any C node setting.
func (d Dqlite) HasSettings() bool { return len(d.settingFlags()) > 0 }

// settingFlag is one `dqtest node` flag a setting becomes, and the field
// that set it.
type settingFlag struct{ field, flag, value string }

func (d Dqlite) settingFlags() []settingFlag {
	var fs []settingFlag
	if d.Snapshot != nil && d.Snapshot.Threshold != 0 {
		fs = append(fs, settingFlag{"dqlite.snapshot.threshold", "--snapshot-threshold", strconv.FormatUint(d.Snapshot.Threshold, 10)})
	}
	if d.Snapshot != nil && d.Snapshot.Trailing != 0 {
		fs = append(fs, settingFlag{"dqlite.snapshot.trailing", "--snapshot-trailing", strconv.FormatUint(d.Snapshot.Trailing, 10)})
	}
	if d.NetworkLatency != 0 {
		fs = append(fs, settingFlag{"dqlite.network_latency", "--network-latency", d.NetworkLatency.String()})
	}
	if d.FailureDomain != 0 {
		fs = append(fs, settingFlag{"dqlite.failure_domain", "--failure-domain", strconv.FormatUint(d.FailureDomain, 10)})
	}
	if d.AutoRecovery != nil && !*d.AutoRecovery {
		fs = append(fs, settingFlag{"dqlite.auto_recovery", "--auto-recovery", "false"})
	}
	if d.DiskMode {
		fs = append(fs, settingFlag{"dqlite.disk_mode", "--disk-mode", "true"})
	}
	return fs
}

// NodeFlags are the `dqtest node` flags the settings become, the same for
// every node, e.g. [--snapshot-threshold=128 --snapshot-trailing=1024].
func (d Dqlite) NodeFlags() []string {
	var out []string
	for _, f := range d.settingFlags() {
		out = append(out, f.flag+"="+f.value)
	}
	return out
}

// NodeArgsWithDqlite are the scenario's node_args with the dqlite
// section's settings put before every node's: what the docker backend
// passes each `dqtest node`. A node_args flag that sets the same setting
// comes later and wins for its node (a per-node override, e.g. one node's
// --snapshot-trailing).
func (sc Scenario) NodeArgsWithDqlite() map[string][]string {
	flags := sc.Dqlite.NodeFlags()
	if len(flags) == 0 {
		return sc.NodeArgs
	}
	out := make(map[string][]string, sc.Nodes)
	for _, n := range NodeNames(sc.Nodes) {
		out[n] = append(slices.Clone(flags), sc.NodeArgs[n]...)
	}
	return out
}

// UnmarshalYAML accepts the version alone or the section.
func (d *Dqlite) UnmarshalYAML(data []byte) error {
	var version string
	if err := yaml.Unmarshal(data, &version); err == nil && !strings.ContainsAny(strings.TrimSpace(string(data)), ":{\n") {
		d.Version = version
		return nil
	}
	type section Dqlite
	var s section
	if err := yaml.UnmarshalWithOptions(data, &s, yaml.Strict()); err != nil {
		return err
	}
	*d = Dqlite(s)
	return nil
}

var dqliteVersionRE = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+$`)

// NodeVersion is the C dqlite version node runs.
func (d Dqlite) NodeVersion(node string) string {
	if v := d.Nodes[node]; v != "" {
		return v
	}
	return d.Version
}

// Oldest is the oldest version any node runs.
func (d Dqlite) Oldest() string {
	oldest := d.Version
	for _, v := range d.Nodes {
		if CompareVersions(v, oldest) < 0 {
			oldest = v
		}
	}
	return oldest
}

// Versions are the distinct versions the cluster runs, sorted.
func (d Dqlite) Versions() []string {
	vs := []string{d.Version}
	for _, v := range d.Nodes {
		if !slices.Contains(vs, v) {
			vs = append(vs, v)
		}
	}
	slices.Sort(vs)
	return vs
}

func resolveDqlite(sc *Scenario) error {
	d := &sc.Dqlite
	if d.Version == "" {
		d.Version = mode.DefaultDqlite
	}
	if !dqliteVersionRE.MatchString(d.Version) {
		return badField("dqlite.version", "%q: want a version such as %s (shipped: %s)", d.Version, mode.DefaultDqlite, strings.Join(mode.DqliteVersions, ", "))
	}
	names := NodeNames(sc.Nodes)
	for _, n := range slices.Sorted(maps.Keys(d.Nodes)) {
		if !slices.Contains(names, n) {
			return badField("dqlite.nodes."+n, "no node %q in a %d-node cluster (nodes are %s)", n, sc.Nodes, strings.Join(names, ", "))
		}
		if !dqliteVersionRE.MatchString(d.Nodes[n]) {
			return badField("dqlite.nodes."+n, "%q: want a version such as %s", d.Nodes[n], mode.DefaultDqlite)
		}
		if d.Nodes[n] == d.Version {
			delete(d.Nodes, n) // the same as the cluster's: say it once
		}
	}
	if len(d.Nodes) == 0 {
		d.Nodes = nil
	}
	return resolveSettings(sc)
}

// upgradeFaults are the nemesis faults that move a node to another dqlite.
var upgradeFaults = []string{"upgrade", "downgrade"}

// resolveSettings checks the C node settings against every version a node
// runs and the faults that change versions.
func resolveSettings(sc *Scenario) error {
	d := &sc.Dqlite
	if d.Snapshot != nil {
		if *d.Snapshot == (Snapshot{}) {
			d.Snapshot = nil
		} else if d.Snapshot.Threshold == 1 {
			return badField("dqlite.snapshot.threshold", "1: want at least 2 (or 0 for dqlite's default, 1024)")
		} else if th, tr := cmp.Or(d.Snapshot.Threshold, 1024), cmp.Or(d.Snapshot.Trailing, 8192); tr < 4 || tr < th {
			// dqlite_node_set_snapshot_params refuses these (DQLITE_MISUSE).
			return badField("dqlite.snapshot.trailing", "%d: dqlite wants at least 4 and at least the threshold (%d; 0 means dqlite's defaults, threshold 1024 and trailing 8192)", tr, th)
		}
	}
	if d.AutoRecovery != nil && *d.AutoRecovery {
		d.AutoRecovery = nil // dqlite's default: said by leaving it out
	}
	if lat := d.NetworkLatency; lat != 0 && (lat < time.Millisecond || lat > time.Hour || lat%time.Millisecond != 0) {
		return badField("dqlite.network_latency", "%s: want whole milliseconds from 1ms to 1h (dqlite takes milliseconds)", lat)
	}
	if d.DiskMode {
		for _, v := range d.Versions() {
			if CompareVersions(v, DiskModeDroppedIn) >= 0 {
				return badField("dqlite.disk_mode", "dqlite %s has no disk mode: it was dropped in %s (dqlite_node_enable_disk_mode always fails there and go-dqlite v3 deprecates WithDiskMode); run disk_mode with dqlite: 1.18.1", v, DiskModeDroppedIn)
			}
		}
		for _, f := range upgradeFaults {
			if slices.Contains(sc.Nemesis.Faults, f) || slices.ContainsFunc(sc.Nemesis.Schedule.Timeline, func(st nemesis.Step) bool { return st.Fault == f }) {
				return badField("dqlite.disk_mode", "the %s fault moves nodes to a dqlite without disk mode (dropped in %s)", f, DiskModeDroppedIn)
			}
		}
	}
	return nil
}
