package nemesis

import (
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/stretchr/testify/require"
)

// The scenario loader decodes the nemesis section with goccy/go-yaml in
// strict mode; these tests pin the YAML names (Step has json tags only,
// which goccy falls back to).

func TestSpecDecodesFromScenarioYAML(t *testing.T) {
	const doc = `
faults: [partition-halves, kill]
targets: minority
schedule:
  kind: random
  interval: 10s
  duration: 5s
  min: 8s
  max: 20s
`
	var spec Spec
	require.NoError(t, yaml.UnmarshalWithOptions([]byte(doc), &spec, yaml.Strict()))
	require.Equal(t, Spec{
		Faults:  []string{"partition-halves", "kill"},
		Targets: "minority",
		Schedule: Schedule{
			Kind: "random", Interval: 10 * time.Second, Duration: 5 * time.Second,
			Min: 8 * time.Second, Max: 20 * time.Second,
		},
	}, spec)
	require.NoError(t, spec.Validate())
}

func TestTimelineDecodesFromScenarioYAML(t *testing.T) {
	const doc = `
schedule:
  kind: timeline
  timeline:
    - {at: 5s, fault: kill, action: start, targets: [n2]}
    - {at: 12s, fault: kill, action: stop}
    - at: 15s
      fault: handover
      action: start
`
	var spec Spec
	require.NoError(t, yaml.UnmarshalWithOptions([]byte(doc), &spec, yaml.Strict()))
	require.Equal(t, []Step{
		{At: 5 * time.Second, Fault: "kill", Action: "start", Targets: []string{"n2"}},
		{At: 12 * time.Second, Fault: "kill", Action: "stop"},
		{At: 15 * time.Second, Fault: "handover", Action: "start"},
	}, spec.Schedule.Timeline)
	require.NoError(t, spec.Validate())
}

func TestSpecYAMLRejectsUnknownFields(t *testing.T) {
	for _, doc := range []string{
		"fault: [kill]\n",
		"schedule: {kind: fixed, every: 10s}\n",
		"schedule: {kind: timeline, timeline: [{at: 1s, fault: kill, action: start, node: n1}]}\n",
	} {
		var spec Spec
		require.Error(t, yaml.UnmarshalWithOptions([]byte(doc), &spec, yaml.Strict()), doc)
	}
}

func TestResolvedSpecRoundTripsThroughYAML(t *testing.T) {
	spec := Spec{Faults: []string{"pause"}, Schedule: Schedule{Kind: "timeline", Timeline: []Step{
		{At: 1500 * time.Millisecond, Fault: "pause", Action: "start", Targets: []string{"n1"}},
		{At: 3 * time.Second, Fault: "pause", Action: "stop"},
	}}}.WithDefaults()
	b, err := yaml.Marshal(spec)
	require.NoError(t, err)
	require.Contains(t, string(b), "interval: 10s", "durations are written as Go durations")
	var back Spec
	require.NoError(t, yaml.UnmarshalWithOptions(b, &back, yaml.Strict()), "%s", b)
	require.Equal(t, spec, back)
}

// TestDocumentedExamplesPlan keeps docs/nemesis.md honest: every YAML example
// there decodes strictly and plans on 5 nodes.
func TestDocumentedExamplesPlan(t *testing.T) {
	doc, err := os.ReadFile("../docs/nemesis.md")
	require.NoError(t, err)
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(doc, -1)
	require.GreaterOrEqual(t, len(blocks), 4)
	for _, b := range blocks {
		var scenario struct {
			Nemesis Spec `yaml:"nemesis"`
		}
		require.NoError(t, yaml.UnmarshalWithOptions(b[1], &scenario, yaml.Strict()), "%s", b[1])
		steps, err := Plan(scenario.Nemesis, nodeNames(5), 70*time.Second, 1)
		require.NoError(t, err, "%s", b[1])
		require.NotEmpty(t, steps, "%s", b[1])
	}
}
