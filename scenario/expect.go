package scenario

import (
	"fmt"
	"strings"

	"github.com/dqtest/dqtest/checker"
)

// Expect says what a run should show. The default is a valid run. A
// regression scenario for a known bug expects the anomaly or crash the bug
// causes: the run then passes when it shows exactly that, and fails when it
// does not (or shows something else as well).
type Expect struct {
	// Verdict is valid or invalid; it defaults to invalid when Anomalies
	// or Crash are given, valid otherwise.
	Verdict checker.Verdict `yaml:"verdict,omitempty" json:"verdict,omitempty"`
	// Anomalies are anomaly kinds (checker.Anomaly.Kind) that must appear;
	// with Verdict invalid and no Anomalies, any anomaly is expected.
	Anomalies []string `yaml:"anomalies,omitempty" json:"anomalies,omitempty"`
	// Crash is text that a node's crash signature or kind must contain,
	// e.g. "dqlite_node_stop" or "assertion".
	Crash string `yaml:"crash,omitempty" json:"crash,omitempty"`
	// Recovery is required (the default: a cluster that has no leader, or
	// a node that does not answer, within recovery_timeout after healing
	// makes the run invalid with a did-not-recover finding) or optional
	// (for a known liveness bug: the run is judged on its safety alone,
	// and the report still says the cluster did not recover).
	Recovery string `yaml:"recovery,omitempty" json:"recovery,omitempty"`
}

// Recovery expectations (Expect.Recovery).
const (
	RecoveryRequired = "required"
	RecoveryOptional = "optional"
)

func (e *Expect) resolve() error {
	switch e.Recovery {
	case "":
		e.Recovery = RecoveryRequired
	case RecoveryRequired, RecoveryOptional:
	default:
		return badField("expect.recovery", "must be required or optional, got %q", e.Recovery)
	}
	switch e.Verdict {
	case "":
		e.Verdict = checker.Valid
		if len(e.Anomalies) > 0 || e.Crash != "" {
			e.Verdict = checker.Invalid
		}
	case checker.Valid:
		if len(e.Anomalies) > 0 || e.Crash != "" {
			return badField("expect.verdict", "valid contradicts the expected anomalies or crash")
		}
	case checker.Invalid:
	default:
		return badField("expect.verdict", "must be valid or invalid, got %q", e.Verdict)
	}
	for i, a := range e.Anomalies {
		if strings.TrimSpace(a) == "" {
			return badField(fmt.Sprintf("expect.anomalies[%d]", i), "an anomaly kind must not be empty")
		}
	}
	return nil
}
