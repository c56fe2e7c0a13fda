package shrink

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/dqtest/dqtest/nemesis"
	"github.com/dqtest/dqtest/scenario"
)

// Episode is one fault of a plan: its start and, unless the fault is
// instantaneous, the stop that undoes it. The shrinker drops and moves
// episodes, never a start without its stop, so every candidate's timeline
// is valid by construction.
type Episode struct {
	Fault   string
	Targets []string
	Loss    float64
	Start   time.Duration
	// Stop is when the fault is undone; HasStop is false for an
	// instantaneous fault (handover, transfer, stop-start-loop).
	Stop    time.Duration
	HasStop bool
}

// End is when the episode is over: its stop, or its start.
func (e Episode) End() time.Duration {
	if e.HasStop {
		return e.Stop
	}
	return e.Start
}

func (e Episode) String() string {
	t := ""
	if len(e.Targets) > 0 {
		t = " " + strings.Join(e.Targets, ",")
	}
	if !e.HasStop {
		return fmt.Sprintf("%s%s @%s", e.Fault, t, e.Start)
	}
	return fmt.Sprintf("%s%s @%s-%s", e.Fault, t, e.Start, e.Stop)
}

// Episodes pairs a plan's starts with their stops (one kind's starts and
// stops alternate in every plan). A start that is never stopped (which no
// valid plan has) is kept as an instantaneous step would be.
func Episodes(plan []nemesis.Step) []Episode {
	var eps []Episode
	open := map[string]int{} // fault -> index of its episode in force
	for _, st := range plan {
		switch st.Action {
		case "start":
			eps = append(eps, Episode{Fault: st.Fault, Targets: slices.Clone(st.Targets), Loss: st.Loss, Start: st.At})
			open[st.Fault] = len(eps) - 1
		case "stop":
			if i, ok := open[st.Fault]; ok {
				eps[i].Stop, eps[i].HasStop = st.At, true
				delete(open, st.Fault)
			}
		}
	}
	return eps
}

// Steps turns episodes back into timeline steps, in order of time; at the
// same offset a stop comes before a start (as fixed and random plans have
// it), then the episodes' order. A stop leaves its targets out: it undoes
// its start.
func Steps(eps []Episode) []nemesis.Step {
	type ev struct {
		st    nemesis.Step
		start bool
		ep    int
	}
	var evs []ev
	for i, e := range eps {
		evs = append(evs, ev{nemesis.Step{At: e.Start, Fault: e.Fault, Action: "start", Targets: slices.Clone(e.Targets), Loss: e.Loss}, true, i})
		if e.HasStop {
			evs = append(evs, ev{nemesis.Step{At: e.Stop, Fault: e.Fault, Action: "stop"}, false, i})
		}
	}
	slices.SortStableFunc(evs, func(a, b ev) int {
		if c := cmp.Compare(a.st.At, b.st.At); c != 0 {
			return c
		}
		if a.start != b.start {
			if a.start {
				return 1
			}
			return -1
		}
		return cmp.Compare(a.ep, b.ep)
	})
	steps := make([]nemesis.Step, len(evs))
	for i, e := range evs {
		steps[i] = e.st
	}
	return steps
}

// StepCount is how many timeline steps the episodes make.
func StepCount(eps []Episode) int {
	n := 0
	for _, e := range eps {
		n++
		if e.HasStop {
			n++
		}
	}
	return n
}

// Shape is how a fault's targets depend on the cluster size, which the
// shrinker needs when it removes nodes.
type shape int

const (
	shapeNone  shape = iota // found when applied (the leader): no targets
	shapeOne                // one node
	shapeTwo                // two nodes
	shapeHalf               // n/2 nodes
	shapeOrder              // every node, in an order that shapes the fault
	shapeAll                // every node, in the cluster's order
	shapeSpec               // as the spec's targets say: one, minority, majority, leader
)

// shapes mirrors the nemesis catalogue (docs/nemesis.md). A fault not
// listed keeps no targets when nodes are removed: the plan then picks them
// from the seed.
var shapes = map[string]shape{
	"partition-halves": shapeHalf, "partition-one": shapeOne, "partition-leader": shapeNone,
	"partition-ring": shapeOrder, "partition-bridge": shapeOrder,
	"kill": shapeSpec, "pause": shapeSpec, "stop": shapeSpec, "member": shapeSpec, "disk": shapeSpec,
	"handover": shapeNone, "transfer": shapeOne, "packet": shapeAll,
	"double-stop": shapeSpec, "stop-two": shapeTwo, "stop-during-handover": shapeNone,
	"stop-with-open-txn": shapeNone, "stop-after-start": shapeSpec, "handover-after-stop": shapeSpec,
	"never-started": shapeOne, "handover-never-started": shapeOne, "stop-start-loop": shapeSpec,
}

// nodeMap maps a node of an n-node cluster onto a cluster of m < n nodes:
// n1..nm stay, n(m+1).. wrap around (n4 of 5 -> n1 of 3).
func nodeMap(node string, m int) string {
	var k int
	if _, err := fmt.Sscanf(node, "n%d", &k); err != nil || k < 1 {
		return node
	}
	return fmt.Sprintf("n%d", (k-1)%m+1)
}

// RemapTargets gives an episode's targets on a cluster of m nodes, with
// targetSpec the spec's targets (one, minority, majority, leader). ok is
// false when the fault's shape is unknown.
func RemapTargets(e Episode, m int, targetSpec string) ([]string, bool) {
	if len(e.Targets) == 0 {
		return nil, true
	}
	nodes := scenario.NodeNames(m)
	sh, known := shapes[e.Fault]
	if !known {
		return nil, false
	}
	want := len(e.Targets)
	switch sh {
	case shapeNone:
		return nil, true
	case shapeOne:
		want = 1
	case shapeTwo:
		want = 2
	case shapeHalf:
		want = m / 2
	case shapeAll:
		return nodes, true
	case shapeOrder:
		var kept []string
		for _, t := range e.Targets {
			if slices.Contains(nodes, t) {
				kept = append(kept, t)
			}
		}
		return kept, len(kept) == m
	case shapeSpec:
		switch targetSpec {
		case nemesis.TargetsMinority:
			want = nemesis.Majority(m) - 1
		case nemesis.TargetsMajority:
			want = nemesis.Majority(m)
		case nemesis.TargetsLeader:
			return nil, true
		default:
			want = 1
		}
	}
	var set []string
	for _, t := range e.Targets {
		if n := nodeMap(t, m); !slices.Contains(set, n) {
			set = append(set, n)
		}
	}
	for _, n := range nodes {
		if len(set) >= want {
			break
		}
		if !slices.Contains(set, n) {
			set = append(set, n)
		}
	}
	set = set[:min(len(set), want)]
	slices.SortFunc(set, func(a, b string) int { return cmp.Compare(slices.Index(nodes, a), slices.Index(nodes, b)) })
	return set, true
}

// touches reports whether an episode targets a node outside n1..nm.
func touches(e Episode, m int) bool {
	names := scenario.NodeNames(m)
	return slices.ContainsFunc(e.Targets, func(t string) bool { return !slices.Contains(names, t) })
}

// remapNodeArgs moves node_args of removed nodes onto the nodes they map
// to, so a flag a fault needs (--no-start for never-started) follows its
// remapped target.
func remapNodeArgs(args map[string][]string, m int) map[string][]string {
	if len(args) == 0 {
		return nil
	}
	out := map[string][]string{}
	for _, node := range slices.Sorted(maps.Keys(args)) {
		to := nodeMap(node, m)
		for _, a := range args[node] {
			if !slices.Contains(out[to], a) {
				out[to] = append(out[to], a)
			}
		}
	}
	return out
}

// remapVersions moves per-node dqlite versions onto the nodes left: a
// node that stays keeps its own; a removed node's version goes to the
// node it maps to when that one has none of its own.
func remapVersions(v map[string]string, m int) map[string]string {
	if len(v) == 0 {
		return nil
	}
	names := scenario.NodeNames(m)
	out := map[string]string{}
	for node, ver := range v {
		if slices.Contains(names, node) {
			out[node] = ver
		}
	}
	for _, node := range slices.Sorted(maps.Keys(v)) {
		if to := nodeMap(node, m); !slices.Contains(names, node) && out[to] == "" {
			out[to] = v[node]
		}
	}
	return out
}
