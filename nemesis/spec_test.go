package nemesis

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestWithDefaultsFillsEveryZeroField(t *testing.T) {
	require.Equal(t, Spec{
		Targets: "one",
		Schedule: Schedule{
			Kind: "fixed", Interval: 10 * time.Second, Duration: 5 * time.Second,
			Min: 5 * time.Second, Max: 15 * time.Second,
		},
	}, Spec{}.WithDefaults())

	set := Spec{Faults: []string{"kill"}, Targets: "majority", Schedule: Schedule{Kind: "random", Min: time.Second, Max: 2 * time.Second}}
	got := set.WithDefaults()
	require.Equal(t, "majority", got.Targets)
	require.Equal(t, time.Second, got.Schedule.Min, "set fields are kept")
	require.Equal(t, DefaultDuration, got.Schedule.Duration)
	got.Faults[0] = "pause"
	require.Equal(t, "kill", set.Faults[0], "the result does not share the caller's slices")
}

func TestValidateAcceptsGoodSpecs(t *testing.T) {
	for name, spec := range map[string]Spec{
		"zero spec: no faults": {},
		"every fault, fixed":   {Faults: Faults(), Schedule: Schedule{Interval: time.Second, Duration: 5 * time.Second}},
		"random":               {Faults: []string{"kill", "pause"}, Targets: "minority", Schedule: Schedule{Kind: "random", Min: 3 * time.Second, Max: 9 * time.Second, Duration: 6 * time.Second}},
		"back to back":         {Faults: []string{"pause"}, Schedule: Schedule{Interval: 5 * time.Second, Duration: 5 * time.Second}},
		"instantaneous only":   {Faults: []string{"handover"}, Schedule: Schedule{Interval: time.Second, Duration: time.Minute}},
		"timeline": {Schedule: Schedule{Kind: "timeline", Timeline: []Step{
			{At: 5 * time.Second, Fault: "kill", Action: "start", Targets: []string{"n2"}},
			{At: 6 * time.Second, Fault: "handover", Action: "start"},
			{At: 8 * time.Second, Fault: "kill", Action: "stop"},
			{At: 8 * time.Second, Fault: "kill", Action: "start"},
			{At: 9 * time.Second, Fault: "kill", Action: "stop"},
		}}},
		"timeline with its faults listed": {Faults: []string{"pause"}, Schedule: Schedule{Kind: "timeline", Timeline: []Step{
			{At: 0, Fault: "pause", Action: "start"}, {At: time.Second, Fault: "pause", Action: "stop"},
		}}},
	} {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, spec.Validate())
		})
	}
}

func TestValidateNamesTheBadField(t *testing.T) {
	kill := func(at time.Duration, action string, targets ...string) Step {
		return Step{At: at, Fault: "kill", Action: action, Targets: targets}
	}
	timeline := func(steps ...Step) Spec {
		return Spec{Schedule: Schedule{Kind: "timeline", Timeline: steps}}
	}
	for _, tc := range []struct {
		name  string
		spec  Spec
		field string
		msg   string
	}{
		{"unknown fault", Spec{Faults: []string{"kill", "partition-half"}}, "faults[1]", `unknown fault "partition-half"`},
		{"fault listed twice", Spec{Faults: []string{"kill", "pause", "kill"}}, "faults[2]", "kill is listed twice"},
		{"unknown targets", Spec{Targets: "all"}, "targets", `unknown target spec "all"`},
		{"unknown schedule kind", Spec{Schedule: Schedule{Kind: "cron"}}, "schedule.kind", `unknown schedule kind "cron"`},
		{"negative interval", Spec{Schedule: Schedule{Interval: -time.Second}}, "schedule.interval", "must be positive"},
		{"negative duration", Spec{Schedule: Schedule{Duration: -time.Second}}, "schedule.duration", "must be positive"},
		{"negative min", Spec{Schedule: Schedule{Kind: "random", Min: -time.Second}}, "schedule.min", "must be positive"},
		{"max below min", Spec{Schedule: Schedule{Kind: "random", Min: 9 * time.Second, Max: 3 * time.Second}}, "schedule.max", "less than min"},
		{"fixed fault outlasts its turn", Spec{Faults: []string{"kill", "pause"}, Schedule: Schedule{Interval: 2 * time.Second, Duration: 5 * time.Second}},
			"schedule.duration", "longer than interval x faults (4s)"},
		{"random fault outlasts its turn", Spec{Faults: []string{"kill"}, Schedule: Schedule{Kind: "random", Min: 2 * time.Second, Max: 3 * time.Second, Duration: 5 * time.Second}},
			"schedule.duration", "longer than min x faults (2s)"},
		{"timeline kind without steps", timeline(), "schedule.timeline", "at least one step"},
		{"steps without timeline kind", Spec{Schedule: Schedule{Timeline: []Step{kill(0, "start")}}}, "schedule.timeline", "only used with kind: timeline"},
		{"negative at", timeline(kill(-time.Second, "start"), kill(0, "stop")), "schedule.timeline[0].at", "must not be negative"},
		{"out of order", timeline(kill(5*time.Second, "start"), kill(2*time.Second, "stop")), "schedule.timeline[1].at", "before the previous step's 5s"},
		{"unknown timeline fault", timeline(Step{Fault: "flood", Action: "start"}), "schedule.timeline[0].fault", `unknown fault "flood"`},
		{"timeline fault not in faults", Spec{Faults: []string{"pause"}, Schedule: Schedule{Kind: "timeline", Timeline: []Step{kill(0, "start"), kill(1, "stop")}}},
			"schedule.timeline[0].fault", "kill is not in faults [pause]"},
		{"unknown action", timeline(kill(0, "begin")), "schedule.timeline[0].action", `must be start or stop, got "begin"`},
		{"start twice", timeline(kill(0, "start"), kill(1, "start"), kill(2, "stop")), "schedule.timeline[1].action", "while it is in force since timeline[0]"},
		{"stop without start", timeline(kill(0, "stop")), "schedule.timeline[0].action", "not in force"},
		{"never stopped", timeline(kill(0, "start")), "schedule.timeline[0]", "kill is started but never stopped"},
		{"instantaneous stop", timeline(Step{Fault: "handover", Action: "start"}, Step{At: 1, Fault: "handover", Action: "stop"}),
			"schedule.timeline[1].action", "handover is instantaneous"},
		{"leader fault with targets", timeline(Step{Fault: "partition-leader", Action: "start", Targets: []string{"n1"}}, Step{At: 1, Fault: "partition-leader", Action: "stop"}),
			"schedule.timeline[0].targets", "finds its target (the leader) when applied"},
		{"one-node fault with two", timeline(Step{Fault: "transfer", Action: "start", Targets: []string{"n1", "n2"}}),
			"schedule.timeline[0].targets", "transfer takes one node, got 2"},
		{"duplicate target", timeline(kill(0, "start", "n1", "n1"), kill(1, "stop")), "schedule.timeline[0].targets", "n1 is listed twice"},
		{"stop with other targets", timeline(kill(0, "start", "n1"), kill(1, "stop", "n2")), "schedule.timeline[1].targets", "a stop undoes its start"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.spec.Validate()
			require.Error(t, err)
			var fe *FieldError
			require.True(t, errors.As(err, &fe), "a *FieldError: %v", err)
			require.Equal(t, tc.field, fe.Field, "%v", err)
			require.Contains(t, fe.Problem, tc.msg)
			require.Contains(t, err.Error(), tc.field+": ")
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	err := Spec{Faults: []string{"flood"}, Targets: "all", Schedule: Schedule{Kind: "cron"}}.Validate()
	require.Error(t, err)
	var fields []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		fields = append(fields, e.(*FieldError).Field)
	}
	require.Equal(t, []string{"faults[0]", "targets", "schedule.kind"}, fields)
}
