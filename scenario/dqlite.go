package scenario

import (
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/dqtest/dqtest/mode"
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
type Dqlite struct {
	Version string            `yaml:"version"`
	Nodes   map[string]string `yaml:"nodes,omitempty"`
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
	return nil
}
