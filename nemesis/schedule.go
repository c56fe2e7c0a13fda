package nemesis

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Independent random streams drawn from the one seed, so that the nemesis
// does not share a sequence with the workload's use of the same seed, and
// fault times do not move when only the targets change.
const (
	streamTimes   = 0x6e656d6573697301 // "nemesis" + 1
	streamTargets = 0x6e656d6573697302
)

// Plan computes every step of the nemesis for a run of length runFor on the
// given nodes. It is a pure function: the same inputs give the same steps.
// The steps are sorted by At (fixed and random put a stop before a start at
// the same offset; a timeline keeps the order it was written in);
// every fault that stays in force has a stop strictly before runFor, so the
// run heals itself; one kind's starts and stops alternate, while different
// kinds may overlap when Duration exceeds Interval. Instantaneous faults
// (handover, transfer) get a start step only.
//
// fixed and random schedules start the listed faults in turn, the first one
// Interval (or a random gap) after the workload starts, each staying in force
// for Duration; a start whose stop would not come before runFor is left out.
func Plan(spec Spec, nodes []string, runFor time.Duration, seed int64) ([]Step, error) {
	spec = spec.WithDefaults()
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if err := checkNodes(nodes); err != nil {
		return nil, err
	}
	if runFor <= 0 {
		return nil, fmt.Errorf("run length must be positive, got %s", runFor)
	}
	if err := checkClusterSize(spec, len(nodes)); err != nil {
		return nil, err
	}
	targets := rand.New(rand.NewPCG(uint64(seed), streamTargets))
	if spec.Schedule.Kind == Timeline {
		return planTimeline(spec, nodes, runFor, targets)
	}
	times := rand.New(rand.NewPCG(uint64(seed), streamTimes))
	sc := spec.Schedule
	gap := func() time.Duration { return sc.Interval }
	if sc.Kind == Random {
		gap = func() time.Duration {
			ms := int64((sc.Max - sc.Min) / time.Millisecond)
			return sc.Min + time.Duration(times.Int64N(ms+1))*time.Millisecond
		}
	}
	var steps []Step
	planned := make([]bool, len(spec.Faults)) // planned[i]: Faults[i] got a step
	at := time.Duration(0)
	for k := 0; len(spec.Faults) > 0; k++ {
		at += gap()
		if at >= runFor {
			break
		}
		f, concrete := lookup(spec.Faults[k%len(spec.Faults)])
		if !f.instant && at+sc.Duration >= runFor {
			continue
		}
		if !concrete {
			kinds := familyKinds(spec.Faults[k%len(spec.Faults)], len(nodes))
			f = kinds[targets.IntN(len(kinds))]
		}
		chosen := f.choose(targets, nodes, spec.Targets)
		planned[k%len(spec.Faults)] = true
		steps = append(steps, Step{At: at, Fault: f.name, Action: "start", Targets: chosen, Loss: lossOf(spec, f, 0)})
		if !f.instant {
			steps = append(steps, Step{At: at + sc.Duration, Fault: f.name, Action: "stop", Targets: slices.Clone(chosen)})
		}
	}
	var missing []string
	for i, ok := range planned {
		if !ok {
			missing = append(missing, spec.Faults[i])
		}
	}
	if len(missing) > 0 {
		return nil, &UnplannedError{Faults: missing, RunFor: runFor, Schedule: sc}
	}
	// Stable: a stop due when a later fault starts was emitted first, so at
	// equal offsets stops come before starts.
	slices.SortStableFunc(steps, func(a, b Step) int { return cmp.Compare(a.At, b.At) })
	return steps, nil
}

// UnplannedError says that faults the spec names never fit in the run:
// the schedule's first chance for them comes too late (a fault that is not
// instant must also end before the run does). A run with them would be
// judged without the faults it is named after, so Plan refuses it.
type UnplannedError struct {
	Faults   []string
	RunFor   time.Duration
	Schedule Schedule
}

func (e *UnplannedError) Error() string {
	first := e.Schedule.Interval
	how := fmt.Sprintf("a fixed schedule starts a fault every %s, each in force for %s", e.Schedule.Interval, e.Schedule.Duration)
	if e.Schedule.Kind == Random {
		first = e.Schedule.Min
		how = fmt.Sprintf("a random schedule starts a fault every %s to %s, each in force for %s", e.Schedule.Min, e.Schedule.Max, e.Schedule.Duration)
	}
	return fmt.Sprintf("%s never fit in a run of %s (%s; the first starts at %s at the earliest and faults take turns): the run would be judged without them; lengthen the run or shorten the schedule's interval and duration",
		strings.Join(e.Faults, ", "), e.RunFor, how, first)
}

// planTimeline copies the timeline, choosing targets the file left out
// (stops repeat their start's) and checking the ones it gave.
func planTimeline(spec Spec, nodes []string, runFor time.Duration, r *rand.Rand) ([]Step, error) {
	var errs []error
	steps := make([]Step, len(spec.Schedule.Timeline))
	started := map[string][]string{}
	for i, st := range spec.Schedule.Timeline {
		field := fmt.Sprintf("schedule.timeline[%d]", i)
		f, _ := lookup(st.Fault)
		if st.At >= runFor {
			errs = append(errs, fieldErr(field+".at", "%s is not before the end of the run (%s)", st.At, runFor))
		}
		st.Targets = slices.Clone(st.Targets)
		switch {
		case st.Action == "stop":
			st.Targets = slices.Clone(started[st.Fault])
		case len(st.Targets) == 0:
			st.Targets = f.choose(r, nodes, spec.Targets)
		default:
			if err := checkTargets(f, nodes, st.Targets); err != nil {
				errs = append(errs, fieldErr(field+".targets", "%v", err))
			}
		}
		if st.Action == "start" {
			started[st.Fault] = st.Targets
			st.Loss = lossOf(spec, f, st.Loss)
		}
		steps[i] = st
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return steps, nil
}

// checkTargets checks targets a timeline gave against the cluster.
func checkTargets(f fault, nodes, targets []string) error {
	for _, t := range targets {
		if !slices.Contains(nodes, t) {
			return fmt.Errorf("unknown node %q (nodes: %v)", t, nodes)
		}
	}
	switch f.shape {
	case shapeOne, shapeRolling:
		if len(targets) != 1 {
			return fmt.Errorf("%s takes one node, got %d", f.name, len(targets))
		}
	case shapeTwo:
		if len(targets) != 2 {
			return fmt.Errorf("%s takes two nodes, got %d", f.name, len(targets))
		}
	case shapeHalf:
		if len(targets) != len(nodes)/2 {
			return fmt.Errorf("%s takes one half, %d of the %d nodes, got %d (partition-one isolates a single node)",
				f.name, len(nodes)/2, len(nodes), len(targets))
		}
	case shapeOrder:
		if len(targets) != len(nodes) {
			return fmt.Errorf("%s takes every node, in the order that shapes it, got %d of %d", f.name, len(targets), len(nodes))
		}
	}
	return nil
}

func checkNodes(nodes []string) error {
	if len(nodes) == 0 {
		return errors.New("no nodes to plan faults for")
	}
	for i, n := range nodes {
		if n == "" {
			return fmt.Errorf("node %d has an empty name", i)
		}
		if slices.Index(nodes, n) < i {
			return fmt.Errorf("node %s is listed twice", n)
		}
	}
	return nil
}

// checkClusterSize refuses faults that make no sense on so few nodes, rather
// than planning steps that would quietly do nothing.
func checkClusterSize(spec Spec, n int) error {
	var errs []error
	check := func(field, name string) {
		f, _ := lookup(name)
		if _, family := families[name]; family {
			f = fault{name: name, minNodes: familyMinNodes(name)}
		}
		if n < f.minNodes {
			errs = append(errs, fieldErr(field, "%s needs at least %d nodes, the cluster has %d", name, f.minNodes, n))
			return
		}
		if sh, k := f.resolvedShape(spec.Targets, n); sh == shapeSpec && k == 0 {
			errs = append(errs, fieldErr("targets", "%s of %d nodes is no node, so %s would do nothing", spec.Targets, n, name))
		}
	}
	for i, name := range spec.Faults {
		check(fmt.Sprintf("faults[%d]", i), name)
	}
	if len(spec.Faults) == 0 {
		for i, st := range spec.Schedule.Timeline {
			if slices.IndexFunc(spec.Schedule.Timeline, func(o Step) bool { return o.Fault == st.Fault }) == i {
				check(fmt.Sprintf("schedule.timeline[%d].fault", i), st.Fault)
			}
		}
	}
	return errors.Join(errs...)
}

// lossOf is a packet start's loss: the step's own, else the spec's, else
// the default. Other faults have none.
func lossOf(spec Spec, f fault, own float64) float64 {
	switch {
	case f.name != "packet":
		return 0
	case own > 0:
		return own
	case spec.PacketLoss > 0:
		return spec.PacketLoss
	}
	return DefaultPacketLoss
}
