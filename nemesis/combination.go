package nemesis

import (
	"slices"
	"strings"
)

// A family is a name that stands for one of several fault kinds: each time
// the schedule starts it, Plan picks one of its kinds from the seed. It is
// how `partition` reads in the dqlite team's matrix: some partition, of a
// kind that varies from one fault to the next, as in Jepsen's partition
// nemesis (one node, halves, the leader, a majorities ring, a bridge).
var families = map[string][]string{
	"partition": {"partition-halves", "partition-one", "partition-leader", "partition-ring", "partition-bridge"},
}

// Families lists the family names, sorted.
func Families() []string {
	var names []string
	for name := range families {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// familyKinds are the kinds of the family that fit an n-node cluster.
func familyKinds(name string, n int) []fault {
	var kinds []fault
	for _, k := range families[name] {
		if f, _ := lookup(k); n >= f.minNodes {
			kinds = append(kinds, f)
		}
	}
	return kinds
}

// familyMinNodes is the fewest nodes any kind of the family works on.
func familyMinNodes(name string) int {
	least := 0
	for i, k := range families[name] {
		f, _ := lookup(k)
		if i == 0 || f.minNodes < least {
			least = f.minNodes
		}
	}
	return least
}

// Combinations are the nemesis names of the dqlite team's hourly Jepsen
// matrix, in its order. Each is a combination name (SplitCombination):
// faults joined by "+", "none" for no faults.
var Combinations = []string{
	"none", "partition", "kill", "stop", "disk", "member",
	"partition+stop", "partition+kill", "partition+member", "packet+stop",
	"pause", "partition+disk", "pause+disk",
}

// SplitCombination turns a combination name into the fault names it
// combines: "partition+kill" is [partition kill], "none" and "" are no
// faults. Names are not checked here (Spec.Validate does that).
func SplitCombination(name string) []string {
	var faults []string
	for _, f := range strings.Split(name, "+") {
		if f = strings.TrimSpace(f); f != "" && f != "none" {
			faults = append(faults, f)
		}
	}
	return faults
}

// expandCombinations replaces every combination name in faults by the
// faults it names, so that a scenario may say `faults: [partition+kill]`
// as well as `faults: [partition, kill]`.
func expandCombinations(faults []string) []string {
	if faults == nil {
		return nil
	}
	out := make([]string, 0, len(faults))
	for _, f := range faults {
		if strings.Contains(f, "+") || strings.TrimSpace(f) == "none" {
			out = append(out, SplitCombination(f)...)
			continue
		}
		out = append(out, f)
	}
	return out
}
