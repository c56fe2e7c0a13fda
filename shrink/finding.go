package shrink

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/dqtest/dqtest/detect"
	"github.com/dqtest/dqtest/scenario"
	"github.com/dqtest/dqtest/verdict"
)

// Finding is what a run showed that the shrinker keeps: one anomaly kind,
// one crash or one hang. Findings are compared by Key, a signature made of
// structured parts only (the anomaly kind; the crash's signal and its
// assertion or faulting function; the call that hung), never by free text
// such as an explanation, a node name or an address.
type Finding struct {
	// Key identifies the finding: "anomaly nonlinearizable",
	// "crash SIGABRT dqlite_node_stop: Assertion `rv == 0' failed",
	// "crash SIGSEGV at github.com/dqtest/dqtest/node._Cfunc_dqlite_node_stop",
	// "hang handover".
	Key string `json:"key"`
	// Class is anomaly, crash or hang.
	Class string `json:"class"`
	// Expect is what a scenario's expect says to require exactly this
	// finding (expect.anomalies or expect.crash).
	Expect scenario.Expect `json:"expect"`
}

// Finding classes.
const (
	ClassAnomaly = "anomaly"
	ClassCrash   = "crash"
	ClassHang    = "hang"
)

func (f Finding) String() string { return f.Key }

// assertion signature: "SIGABRT: src/server.c:779: dqlite_node_stop: Assertion `rv == 0' failed."
var assertionSigRE = regexp.MustCompile("^(SIG[A-Z]+): \\S+:\\d+: (?:([^:]+): )?(Assertion [`'].*' failed)\\.?$")

// hang signature: "hang: handover exceeded its deadline".
var hangSigRE = regexp.MustCompile(`^hang: (\S+) exceeded its deadline$`)

// CrashFinding is the finding a detected crash or hang stands for.
func CrashFinding(c detect.Crash) Finding {
	sig := strings.TrimSpace(c.Signature)
	switch c.Kind {
	case "hang":
		op := sig
		if m := hangSigRE.FindStringSubmatch(sig); m != nil {
			op = m[1]
		}
		return Finding{Key: "hang " + op, Class: ClassHang, Expect: scenario.Expect{Crash: sig}}
	case "open-connections":
		return Finding{Key: "hang open-connections", Class: ClassHang, Expect: scenario.Expect{Crash: c.Kind}}
	case "assertion":
		if m := assertionSigRE.FindStringSubmatch(sig); m != nil {
			text := m[3]
			if m[2] != "" {
				text = m[2] + ": " + m[3]
			}
			return Finding{Key: "crash " + m[1] + " " + text, Class: ClassCrash, Expect: scenario.Expect{Crash: text}}
		}
	}
	// A signal, a Go panic or fatal error: the message and the first
	// frame (the faulting function); the deeper frames are left out.
	head, _, _ := strings.Cut(sig, " < ")
	key := head
	if c.Signal != "" && !strings.HasPrefix(head, c.Signal) {
		key = c.Signal + " " + head
	}
	return Finding{Key: "crash " + key, Class: ClassCrash, Expect: scenario.Expect{Crash: head}}
}

// AnomalyFinding is the finding of an anomaly kind.
func AnomalyFinding(kind string) Finding {
	return Finding{Key: "anomaly " + kind, Class: ClassAnomaly, Expect: scenario.Expect{Anomalies: []string{kind}}}
}

// Findings lists a run's findings, crashes and hangs first (in the order
// the run found them), then anomaly kinds (sorted), each once. A checker
// that could not decide is not a finding.
func Findings(res *verdict.Result) []Finding {
	var out []Finding
	seen := map[string]bool{}
	add := func(f Finding) {
		if !seen[f.Key] {
			seen[f.Key] = true
			out = append(out, f)
		}
	}
	for _, c := range res.Crashes {
		add(CrashFinding(c))
	}
	var kinds []string
	for _, r := range res.Checkers {
		for _, a := range r.Anomalies {
			if !slices.Contains(kinds, a.Kind) {
				kinds = append(kinds, a.Kind)
			}
		}
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		add(AnomalyFinding(k))
	}
	return out
}

// Shows reports whether a run showed the finding.
func Shows(res *verdict.Result, f Finding) bool {
	if res == nil {
		return false
	}
	return slices.ContainsFunc(Findings(res), func(g Finding) bool { return g.Key == f.Key })
}

// Pick chooses the finding to shrink: the one want names (its key, or the
// short form: an anomaly kind, the expect text of a crash, the call that
// hung), or, when want is empty, the first. A run with no finding is
// ErrNothingToShrink.
func Pick(findings []Finding, want string) (Finding, error) {
	if len(findings) == 0 {
		return Finding{}, ErrNothingToShrink
	}
	if want == "" {
		return findings[0], nil
	}
	for _, f := range findings {
		if f.Key == want {
			return f, nil
		}
	}
	var match []Finding
	for _, f := range findings {
		short := strings.TrimPrefix(f.Key, f.Class+" ")
		if short == want || f.Expect.Crash == want || slices.Contains(f.Expect.Anomalies, want) {
			match = append(match, f)
		}
	}
	if len(match) == 1 {
		return match[0], nil
	}
	return Finding{}, fmt.Errorf("--finding %q names %d of the run's findings; name one of: %s", want, len(match), keys(findings))
}

func keys(fs []Finding) string {
	var ks []string
	for _, f := range fs {
		ks = append(ks, fmt.Sprintf("%q", f.Key))
	}
	return strings.Join(ks, ", ")
}
