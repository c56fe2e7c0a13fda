package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/parser"
	"github.com/spf13/pflag"

	"github.com/dqtest/dqtest/scenario"
)

// emptyScenarioFile says whether the file at path holds no YAML at all
// (nothing, or only comments): it then means every default, which a person
// who made a typo in a file name with `touch` should be told.
func emptyScenarioFile(path string) (bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return false, err
	}
	return len(f.Docs) == 0 || (len(f.Docs) == 1 && f.Docs[0].Body == nil), nil
}

// emptyScenarioNote is the one line `dqtest run` prints for an empty
// scenario file: what it is about to run instead.
func emptyScenarioNote(path string, sc scenario.Scenario) string {
	return fmt.Sprintf("scenario %s is empty: running the defaults (%s)", path, describeScenario(sc))
}

// describeScenario is a resolved scenario in a few words: "register, 3
// docker nodes, 60 s, no faults".
func describeScenario(sc scenario.Scenario) string {
	faults := "no faults"
	if len(sc.Nemesis.Faults) > 0 {
		faults = "faults " + strings.Join(sc.Nemesis.Faults, ", ")
	}
	return fmt.Sprintf("%s, %d %s nodes, %s, %s", sc.Workload.Name, sc.Nodes, sc.Backend, secondsText(sc.TimeLimit.Seconds()), faults)
}

func secondsText(s float64) string {
	return strconv.FormatFloat(s, 'f', -1, 64) + " s"
}

// scenarioDefaults is what `run --help` says about the flags that replace a
// scenario field: each keeps the file's value unless given, and a file
// that leaves the field out gets the default shown, taken from
// scenario.Default so the help cannot drift from it.
func scenarioDefaults(f *pflag.FlagSet) {
	d := scenario.Default()
	faults := "none"
	if len(d.Nemesis.Faults) > 0 {
		faults = strings.Join(d.Nemesis.Faults, ",")
	}
	concurrency := strconv.Itoa(d.Concurrency)
	if d.Concurrency == 0 {
		concurrency = "two per node"
	}
	rate := strconv.FormatFloat(d.Rate, 'f', -1, 64) + "/s"
	if d.Rate == 0 {
		rate = "unlimited"
	}
	seed := strconv.FormatInt(d.Seed, 10)
	if d.Seed == 0 {
		seed = "a fresh one per run"
	}
	for name, v := range map[string]string{
		"backend":     string(d.Backend),
		"nodes":       strconv.Itoa(d.Nodes),
		"client":      string(d.Client),
		"stop-mode":   string(d.StopMode),
		"workload":    d.Workload.Name,
		"time-limit":  d.TimeLimit.String(),
		"rate":        rate,
		"concurrency": concurrency,
		"nemesis":     faults,
		"seed":        seed,
	} {
		fl := f.Lookup(name)
		if fl == nil {
			panic("scenarioDefaults: no flag --" + name)
		}
		fl.Usage += " (default: the scenario file's, else " + v + ")"
	}
}
