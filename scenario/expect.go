package scenario

import (
	"cmp"
	"fmt"
	"strconv"
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
	// FixedIn is the dqlite version that fixed the bug a regression gate
	// expects: on a cluster whose every node runs that version or a newer
	// one, the run is expected valid instead, and its outcome says the bug
	// is fixed in this version (the gate passes on both sides of the fix;
	// the bug coming back is a finding). Docker runs only.
	FixedIn string `yaml:"fixed_in,omitempty" json:"fixed_in,omitempty"`
	// Fixed is set on the expectation For returned when FixedIn applied:
	// the version the run's cluster ran.
	Fixed string `yaml:"-" json:"fixed,omitempty"`
}

// For is the expectation on a cluster whose oldest node runs dqlite
// version ("" for unknown, or the simulator): e itself, or, from FixedIn
// on, a valid run (with Fixed set to version).
func (e Expect) For(version string) Expect {
	if e.FixedIn == "" || version == "" || CompareVersions(version, e.FixedIn) < 0 {
		return e
	}
	return Expect{Verdict: checker.Valid, Recovery: e.Recovery, FixedIn: e.FixedIn, Fixed: version}
}

// CompareVersions compares two major.minor.patch versions numerically:
// -1, 0 or 1.
func CompareVersions(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(pa), len(pb)); i++ {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			return cmp.Compare(x, y)
		}
	}
	return 0
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
	if e.FixedIn != "" {
		if !dqliteVersionRE.MatchString(e.FixedIn) {
			return badField("expect.fixed_in", "%q: want a dqlite version such as 1.18.2", e.FixedIn)
		}
		if e.Verdict != checker.Invalid {
			return badField("expect.fixed_in", "says when an expected anomaly or crash stopped: give the anomalies or the crash too")
		}
	}
	for i, a := range e.Anomalies {
		if strings.TrimSpace(a) == "" {
			return badField(fmt.Sprintf("expect.anomalies[%d]", i), "an anomaly kind must not be empty")
		}
	}
	return nil
}
