package nemesis

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Spec is the nemesis section of a scenario file (under `nemesis:`). The
// zero Spec is valid and means no faults. Zero fields take their defaults
// (WithDefaults), so a scenario only writes what it changes. The YAML names
// are part of the scenario format: keep them stable.
type Spec struct {
	// Faults are the fault kinds to inject (Faults() lists them). Several
	// combine: they take turns on the one schedule, in the order listed.
	Faults []string `yaml:"faults,omitempty" json:"faults,omitempty"`
	// Targets says which nodes kill, pause, stop and member act on:
	// one (default), minority, majority, or leader (found when applied).
	Targets string `yaml:"targets,omitempty" json:"targets,omitempty"`
	// Schedule says when faults start and stop.
	Schedule Schedule `yaml:"schedule,omitempty" json:"schedule"`
	// PacketLoss is the probability that the packet fault drops a packet
	// between two nodes, in (0, 1); 0 means DefaultPacketLoss.
	PacketLoss float64 `yaml:"packet_loss,omitempty" json:"packet_loss,omitempty"`
}

// Schedule kinds.
const (
	// Fixed starts a fault every Interval.
	Fixed = "fixed"
	// Random starts a fault after a gap drawn from [Min, Max] (seeded).
	Random = "random"
	// Timeline applies the steps listed in Timeline, exactly as written.
	Timeline = "timeline"
)

var scheduleKinds = []string{Fixed, Random, Timeline}

// Schedule says when faults start and stop. Offsets count from the start of
// the workload.
type Schedule struct {
	Kind string `yaml:"kind,omitempty" json:"kind,omitempty"`
	// Interval is the time from one fault's start to the next (fixed).
	Interval time.Duration `yaml:"interval,omitempty" json:"interval,omitempty"`
	// Duration is how long a fault stays in force (fixed and random).
	Duration time.Duration `yaml:"duration,omitempty" json:"duration,omitempty"`
	// Min and Max bound the time from one fault's start to the next (random).
	Min time.Duration `yaml:"min,omitempty" json:"min,omitempty"`
	Max time.Duration `yaml:"max,omitempty" json:"max,omitempty"`
	// Timeline lists the steps of a timeline schedule, in order of At:
	// {at: 5s, fault: kill, action: start, targets: [n2]}. Targets may be
	// left out; Plan then chooses them from the seed like any schedule does.
	Timeline []Step `yaml:"timeline,omitempty" json:"timeline,omitempty"`
}

// Defaults of every Spec field.
const (
	DefaultTargets  = TargetsOne
	DefaultKind     = Fixed
	DefaultInterval = 10 * time.Second
	DefaultDuration = 5 * time.Second
	DefaultMin      = 5 * time.Second
	DefaultMax      = 15 * time.Second
)

// WithDefaults returns the spec with every zero field set to its default:
// what a run will actually do, fit for the resolved scenario of a run.
func (s Spec) WithDefaults() Spec {
	s.Faults = expandCombinations(s.Faults)
	s.Schedule.Timeline = slices.Clone(s.Schedule.Timeline)
	if s.Targets == "" {
		s.Targets = DefaultTargets
	}
	sc := &s.Schedule
	if sc.Kind == "" {
		sc.Kind = DefaultKind
	}
	for _, d := range []struct {
		field *time.Duration
		def   time.Duration
	}{{&sc.Interval, DefaultInterval}, {&sc.Duration, DefaultDuration}, {&sc.Min, DefaultMin}, {&sc.Max, DefaultMax}} {
		if *d.field == 0 {
			*d.field = d.def
		}
	}
	return s
}

// FieldError is a problem with one field of a Spec. Field is the path from
// the Spec, e.g. "schedule.timeline[2].at"; a scenario loader prefixes
// "nemesis." and can map it to a line of the file.
type FieldError struct {
	Field   string
	Problem string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Problem }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)}
}

// Validate checks the spec (with its defaults) on its own, without a
// cluster. It returns every problem found, each a *FieldError, joined with
// errors.Join. Plan checks what depends on the cluster and the run length.
func (s Spec) Validate() error {
	s = s.WithDefaults()
	sc := s.Schedule
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fieldErr(field, format, args...))
	}

	lasting := 0 // faults that stay in force, so need a stop
	for i, name := range s.Faults {
		f, ok := lookup(name)
		_, family := families[name]
		switch {
		case family && slices.Index(s.Faults, name) == i:
			lasting++
		case !ok && !family:
			add(fmt.Sprintf("faults[%d]", i), "unknown fault %q (known: %s; families: %s)", name,
				strings.Join(Faults(), ", "), strings.Join(Families(), ", "))
		case slices.Index(s.Faults, name) < i:
			add(fmt.Sprintf("faults[%d]", i), "%s is listed twice", name)
		case !f.instant:
			lasting++
		}
	}
	if s.PacketLoss < 0 || s.PacketLoss >= 1 {
		add("packet_loss", "must be a probability from 0 (the default, %v) up to but not including 1, got %v", DefaultPacketLoss, s.PacketLoss)
	}
	if !slices.Contains(targetSpecs, s.Targets) {
		add("targets", "unknown target spec %q (known: %s)", s.Targets, strings.Join(targetSpecs, ", "))
	}
	if !slices.Contains(scheduleKinds, sc.Kind) {
		add("schedule.kind", "unknown schedule kind %q (known: %s)", sc.Kind, strings.Join(scheduleKinds, ", "))
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{{"interval", sc.Interval}, {"duration", sc.Duration}, {"min", sc.Min}, {"max", sc.Max}} {
		if d.v < 0 {
			add("schedule."+d.field, "must be positive, got %s", d.v)
		}
	}

	// A fault recurs every len(Faults) starts; it must be stopped by then so
	// that one kind's starts and stops alternate.
	switch sc.Kind {
	case Fixed:
		if lasting > 0 && sc.Interval > 0 && sc.Duration > time.Duration(len(s.Faults))*sc.Interval {
			add("schedule.duration", "%s is longer than interval x faults (%s), so a fault would start again while still in force",
				sc.Duration, time.Duration(len(s.Faults))*sc.Interval)
		}
	case Random:
		if sc.Max < sc.Min {
			add("schedule.max", "%s is less than min %s", sc.Max, sc.Min)
		}
		if lasting > 0 && sc.Min > 0 && sc.Duration > time.Duration(len(s.Faults))*sc.Min {
			add("schedule.duration", "%s is longer than min x faults (%s), so a fault could start again while still in force",
				sc.Duration, time.Duration(len(s.Faults))*sc.Min)
		}
	}
	if sc.Kind == Timeline {
		if len(sc.Timeline) == 0 {
			add("schedule.timeline", "kind timeline needs at least one step")
		}
		errs = append(errs, validateTimeline(s)...)
	} else if len(sc.Timeline) > 0 {
		add("schedule.timeline", "steps are only used with kind: timeline (kind is %s)", sc.Kind)
	}
	return errors.Join(errs...)
}

// validateTimeline checks what can be checked without a cluster: order,
// names, and that each fault's starts and stops alternate and end stopped.
func validateTimeline(s Spec) []error {
	var errs []error
	started := map[string]int{} // fault in force -> index of its start
	for i, st := range s.Schedule.Timeline {
		field := fmt.Sprintf("schedule.timeline[%d]", i)
		add := func(sub, format string, args ...any) {
			errs = append(errs, fieldErr(field+sub, format, args...))
		}
		if st.At < 0 {
			add(".at", "must not be negative, got %s", st.At)
		}
		if i > 0 && st.At < s.Schedule.Timeline[i-1].At {
			add(".at", "%s is before the previous step's %s: list steps in order", st.At, s.Schedule.Timeline[i-1].At)
		}
		f, ok := lookup(st.Fault)
		if _, family := families[st.Fault]; family {
			add(".fault", "%s is a family of faults: a timeline names one kind (%s)", st.Fault, strings.Join(families[st.Fault], ", "))
			continue
		}
		if !ok {
			add(".fault", "unknown fault %q (known: %s)", st.Fault, strings.Join(Faults(), ", "))
			continue
		}
		if st.Loss != 0 && (st.Fault != "packet" || st.Loss < 0 || st.Loss >= 1) {
			add(".loss", "only a packet step takes a loss, a probability below 1; got %v for %s", st.Loss, st.Fault)
		}
		if len(s.Faults) > 0 && !slices.Contains(s.Faults, st.Fault) {
			add(".fault", "%s is not in faults %v", st.Fault, s.Faults)
		}
		for j, t := range st.Targets {
			if slices.Index(st.Targets, t) < j {
				add(".targets", "%s is listed twice", t)
			}
		}
		switch st.Action {
		case "start":
			if j, in := started[st.Fault]; in {
				add(".action", "starts %s again while it is in force since timeline[%d]", st.Fault, j)
			}
			if !f.instant {
				started[st.Fault] = i
			}
			if f.shape == shapeLeader && len(st.Targets) > 0 {
				add(".targets", "%s finds its target (the leader) when applied; leave targets out", st.Fault)
			}
			if (f.shape == shapeOne || f.shape == shapeRolling) && len(st.Targets) > 1 {
				add(".targets", "%s takes one node, got %d", st.Fault, len(st.Targets))
			}
		case "stop":
			j, in := started[st.Fault]
			switch {
			case f.instant:
				add(".action", "%s is instantaneous: it has no stop", st.Fault)
			case !in:
				add(".action", "stops %s, which is not in force", st.Fault)
			case len(st.Targets) > 0 && !slices.Equal(st.Targets, s.Schedule.Timeline[j].Targets):
				add(".targets", "a stop undoes its start (timeline[%d]): leave targets out or repeat %v",
					j, s.Schedule.Timeline[j].Targets)
			}
			delete(started, st.Fault)
		default:
			add(".action", "must be start or stop, got %q", st.Action)
		}
	}
	unstopped := slices.Sorted(maps.Values(started))
	for _, i := range unstopped {
		errs = append(errs, fieldErr(fmt.Sprintf("schedule.timeline[%d]", i), "%s is started but never stopped",
			s.Schedule.Timeline[i].Fault))
	}
	return errs
}
