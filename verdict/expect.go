package verdict

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/detect"
	"github.com/dqtest/dqtest/scenario"
)

// judge compares what a run showed with what the scenario expected and
// returns the outcome and the reasons for it.
//
// A run expected valid has the outcome it showed. A run expected invalid
// passes (valid) when every expected anomaly kind and the expected crash
// appeared and nothing else did; it is invalid when something expected is
// missing or something unexpected appeared, and unknown when the checkers
// could not decide and the expected evidence did not appear.
func judge(exp scenario.Expect, verdict checker.Verdict, results []checker.Result, crashes []detect.Crash) (checker.Verdict, []string) {
	found := anomalyKinds(results)
	if exp.Verdict != checker.Invalid {
		var reasons []string
		for _, k := range found {
			reasons = append(reasons, "anomaly found: "+k)
		}
		for _, c := range crashes {
			reasons = append(reasons, fmt.Sprintf("node %s crashed: %s", c.Node, c.Signature))
		}
		for _, r := range results {
			if r.Verdict == checker.Unknown {
				reasons = append(reasons, fmt.Sprintf("checker %s could not decide: %s", r.Checker, r.Reason))
			}
		}
		return verdict, reasons
	}

	var missing, unexpected []string
	for _, want := range exp.Anomalies {
		if !slices.Contains(found, want) {
			missing = append(missing, "anomaly "+want)
		}
	}
	for _, k := range found {
		if len(exp.Anomalies) > 0 && !slices.Contains(exp.Anomalies, k) {
			unexpected = append(unexpected, "anomaly "+k)
		}
	}
	crashSeen := false
	anyInvalidity := len(exp.Anomalies) == 0 && exp.Crash == ""
	for _, c := range crashes {
		if anyInvalidity || exp.Crash != "" && crashMatches(c, exp.Crash) {
			crashSeen = true
			continue
		}
		unexpected = append(unexpected, fmt.Sprintf("crash of %s: %s", c.Node, c.Signature))
	}
	if exp.Crash != "" && !crashSeen {
		missing = append(missing, fmt.Sprintf("crash matching %q", exp.Crash))
	}
	if exp.Crash != "" && len(exp.Anomalies) == 0 {
		// Only a crash is expected: any anomaly is a surprise.
		for _, k := range found {
			unexpected = append(unexpected, "anomaly "+k)
		}
	}
	if anyInvalidity && verdict != checker.Invalid {
		missing = append(missing, "an invalid verdict")
	}

	var reasons []string
	for _, m := range missing {
		reasons = append(reasons, "expected "+m+", not seen")
	}
	for _, u := range unexpected {
		reasons = append(reasons, notExpectedPrefix+u)
	}
	switch {
	case len(missing) > 0 && verdict == checker.Unknown:
		return checker.Unknown, append(reasons, "the checkers could not decide")
	case len(missing) > 0 || len(unexpected) > 0:
		return checker.Invalid, reasons
	default:
		return checker.Valid, []string{"invalid as expected: " + strings.Join(expectedEvidence(exp, found), ", ")}
	}
}

// notExpectedPrefix starts a reason that names something a run showed and
// its scenario did not expect.
const notExpectedPrefix = "not expected: "

// crashMatches reports whether an expect.crash text names this crash.
func crashMatches(c detect.Crash, want string) bool {
	return c.Kind == want || c.Signal == want || strings.Contains(c.Signature, want)
}

func expectedEvidence(exp scenario.Expect, found []string) []string {
	ev := append([]string(nil), found...)
	if exp.Crash != "" {
		ev = append(ev, "crash "+exp.Crash)
	}
	return ev
}

// anomalyKinds lists the distinct anomaly kinds the checkers reported.
func anomalyKinds(results []checker.Result) []string {
	var kinds []string
	for _, r := range results {
		for _, a := range r.Anomalies {
			if !slices.Contains(kinds, a.Kind) {
				kinds = append(kinds, a.Kind)
			}
		}
	}
	sort.Strings(kinds)
	return kinds
}

// combinedVerdict is the worst of the checkers' verdicts, made invalid by
// any crash.
func combinedVerdict(results []checker.Result, crashes []detect.Crash) checker.Verdict {
	v := checker.Valid
	for _, r := range results {
		v = checker.Worst(v, r.Verdict)
	}
	if len(crashes) > 0 {
		v = checker.Invalid
	}
	return v
}

// markExpected flags the crashes the scenario expected.
func markExpected(crashes []detect.Crash, exp scenario.Expect) {
	for i := range crashes {
		crashes[i].Expected = exp.Crash != "" && crashMatches(crashes[i], exp.Crash)
	}
}
