package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/dqtest/dqtest/verdict"
)

// figures are one invocation's measurements.
type figures struct {
	Started, Finished time.Time
	Machine           string
	// Background is the share of CPU time in use by other work during the
	// 5 s before the measurements.
	Background float64
	Config     config
	Overhead   []overhead
	Checkers   []checkerRow
	Check      *checkBench
	SimRun     *simRunBench
	Verdict    *timeToVerdict
}

// The README's Benchmarks section is rewritten between these markers.
const (
	markStart = "<!-- dqtest-bench:start (written by make bench; do not edit by hand) -->"
	markEnd   = "<!-- dqtest-bench:end -->"
)

func (f figures) write(c config) error {
	// Tables this run did not measure (-only) are kept from the previous
	// figures: the README's section, else the doc.
	var previous string
	if c.readme != "" {
		if readme, err := os.ReadFile(c.readme); err == nil {
			i, j := bytes.Index(readme, []byte(markStart)), bytes.Index(readme, []byte(markEnd))
			if i >= 0 && j > i {
				previous = string(readme[i+len(markStart) : j])
			}
		}
	}
	if previous == "" && c.doc != "" {
		if doc, err := os.ReadFile(c.doc); err == nil {
			previous = string(doc)
		}
	}
	body := f.markdown(previous)
	fmt.Print(body)
	if c.doc != "" {
		doc := "# Benchmarks\n\nWritten by `make bench` (cmd/dqtest-bench); the README's Benchmarks section\nholds the same tables.\n\n" + body
		if err := os.WriteFile(c.doc, []byte(doc), 0o644); err != nil {
			return err
		}
	}
	if c.readme == "" {
		return nil
	}
	readme, err := os.ReadFile(c.readme)
	if err != nil {
		return err
	}
	section := markStart + "\n" + body + markEnd
	i, j := bytes.Index(readme, []byte(markStart)), bytes.Index(readme, []byte(markEnd))
	var out []byte
	if i >= 0 && j > i {
		out = append(append(append([]byte{}, readme[:i]...), section...), readme[j+len(markEnd):]...)
	} else {
		out = append(bytes.TrimRight(readme, "\n"), []byte("\n\n## Benchmarks\n\n"+section+"\n")...)
	}
	return os.WriteFile(c.readme, out, 0o644)
}

// The measurements' tables, in the order they appear, each known by the
// start of its heading.
var blockHeadings = []struct{ name, heading string }{
	{"overhead", "**Harness overhead"},
	{"checkers", "**Checkers**"},
	{"check", "**Checking a stored history"},
	{"sim", "**A long simulator run"},
	{"verdict", "**Time to verdict**"},
}

var (
	measuredOn = regexp.MustCompile(`Measured (\d{4}-\d{2}-\d{2})`)
	keptFrom   = regexp.MustCompile(`(\w+) \((\d{4}-\d{2}-\d{2})\)`)
)

const keptLine = "Kept from earlier runs (not measured in this one): "

// previousBlocks cuts earlier figures into their measurements' tables and
// finds the date each was measured.
func previousBlocks(previous string) (blocks, dates map[string]string) {
	blocks, dates = map[string]string{}, map[string]string{}
	measured := ""
	if m := measuredOn.FindStringSubmatch(previous); m != nil {
		measured = m[1]
	}
	current := ""
	for _, line := range strings.SplitAfter(previous, "\n") {
		if rest, ok := strings.CutPrefix(line, keptLine); ok {
			for _, m := range keptFrom.FindAllStringSubmatch(rest, -1) {
				dates[m[1]] = m[2]
			}
			continue
		}
		for _, h := range blockHeadings {
			if strings.HasPrefix(line, h.heading) {
				current = h.name
			}
		}
		if current != "" {
			blocks[current] += line
		}
	}
	for name := range blocks {
		if dates[name] == "" {
			dates[name] = measured
		}
	}
	return blocks, dates
}

func (f figures) markdown(previous string) string {
	made := map[string]string{}
	if len(f.Overhead) > 0 {
		made["overhead"] = f.overheadMarkdown()
	}
	if len(f.Checkers) > 0 {
		made["checkers"] = f.checkersMarkdown()
	}
	if f.Check != nil {
		made["check"] = f.checkMarkdown()
	}
	if f.SimRun != nil {
		made["sim"] = f.simRunMarkdown()
	}
	if f.Verdict != nil {
		made["verdict"] = f.verdictMarkdown()
	}
	old, dates := previousBlocks(previous)
	var kept []string
	var b strings.Builder
	fmt.Fprintf(&b, "Measured %s on %s; every figure is a median. Before it started, other work kept the machine's CPUs %.0f%% busy.\n\n",
		f.Started.UTC().Format("2006-01-02"), f.Machine, 100*f.Background)
	var tables strings.Builder
	for _, h := range blockHeadings {
		if m, ok := made[h.name]; ok {
			tables.WriteString(strings.TrimRight(m, "\n") + "\n\n")
		} else if o, ok := old[h.name]; ok {
			tables.WriteString(strings.TrimRight(o, "\n") + "\n\n")
			kept = append(kept, fmt.Sprintf("%s (%s)", h.name, dates[h.name]))
		}
	}
	if len(kept) > 0 {
		b.WriteString(keptLine + strings.Join(kept, ", ") + ".\n\n")
	}
	b.WriteString(tables.String())
	return b.String()
}

func (f figures) overheadMarkdown() string {
	var b strings.Builder
	for _, o := range f.Overhead {
		c := f.Config
		fmt.Fprintf(&b, "**Harness overhead, %d %s** (register workload, mix %s, no rate limit, no faults, a 3-node docker cluster, %d rounds of %s per side, rotating which side goes first):\n\n",
			o.Concurrency, plural(o.Concurrency, "client", "clients"), mixYAML(c.mix), c.rounds, c.seconds)
		b.WriteString("| clients | completed ops/s (ok, or a cas that found another value) | per round | of them writes that took effect, /s | tried ops/s (errors included) | machine CPU busy | CPU per completed op, µs (this process + the nodes) | of it: this process / the leader / the followers |\n|---|---:|---|---:|---:|---:|---:|---|\n")
		for i, name := range o.Sides {
			if i == sideDqtest || i == sideDirect || i == sideDriver {
				name = "**" + name + "**"
			}
			perOp := "-"
			if i < len(o.CPUPerOp) && o.CPUPerOp[i] > 0 {
				perOp = fmt.Sprintf("%.0f", o.CPUPerOp[i])
			}
			split, tried := "-", "-"
			if i < len(o.CPUSelf) && o.CPUPerOp[i] > 0 {
				split = fmt.Sprintf("%.0f / %.0f / %.0f", o.CPUSelf[i], o.CPULeader[i], o.CPUFollowers[i])
			}
			if i < len(o.Attempts) {
				tried = fmt.Sprintf("%.0f", o.Attempts[i])
			}
			fmt.Fprintf(&b, "| %s | %.0f | %s | %.0f | %s | %.0f%% | %s | %s |\n", name, o.Median[i], perRound(o, i), o.Writes[i], tried, 100*o.CPUBusy[i], perOp, split)
		}
		verdict := "meets the goal of 0.9: the harness's overhead"
		if o.Ratio < 0.9 {
			verdict = "below the goal of 0.9: the harness's overhead"
		}
		fmt.Fprintf(&b, "| **ratio dqtest (client: direct) / driver** | **%.2f** | %s | | | | | |\n", o.Ratio, verdict)
		fmt.Fprintf(&b, "| ratio dqtest (client: node) / driver | %.2f | the default mode: the harness plus a control-API hop per operation (see docs/report.md) | | | | | |\n", o.NodeRatio)
		if o.NodeCPURatio > 0 {
			fmt.Fprintf(&b, "| driver's CPU per op / client: node's | %.2f | what the node mode's path costs in CPU (1: no more than the driver) | | | | | |\n", o.NodeCPURatio)
		}
		b.WriteString("\n")
		for i, n := range o.Failed {
			if n > 0 {
				fmt.Fprintf(&b, "Errors (SQLITE_BUSY and the like, all rounds), %s: %d.\n", o.Sides[i], n)
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

func (f figures) checkersMarkdown() string {
	var b strings.Builder
	{
		fmt.Fprintf(&b, "**Checkers** (`go test -bench . -benchtime 1x -count %d ./checker/`: one whole check of a valid generated history per sample):\n\n", f.Config.benchCount)
		b.WriteString("| checker | history | time per check | ops/s checked |\n|---|---|---:|---:|\n")
		for _, r := range f.Checkers {
			rate := "–"
			if r.Size > 0 && r.Seconds > 0 {
				rate = fmt.Sprintf("%.0f", float64(r.Size)/r.Seconds)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", r.Checker, r.Case, seconds(r.Seconds), rate)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func (f figures) checkMarkdown() string {
	var b strings.Builder
	if k := f.Check; k != nil {
		fmt.Fprintf(&b, "**Checking a stored history, whole process** (`dqtest check --workload register` on a generated linearizable history of %d operations, %d events, %.0f MB of JSONL, %d keys, %d client processes; against a plain Go program in the same invocation: encoding/json into a struct, porcupine.CheckOperations per key, cmd/dqtest-bench/checkbaseline; %d %s each, alternating which goes first; peak RSS from the child's rusage):\n\n",
			k.Ops, k.Events, float64(k.Bytes)/1e6, k.Keys, k.Processes, len(k.Wall[checkDqtest]), plural(len(k.Wall[checkDqtest]), "run", "runs"))
		b.WriteString("| program | wall time | per run | peak RSS | per run | CPU time (user + system) | per run |\n|---|---:|---|---:|---|---:|---|\n")
		for side, name := range []string{"**dqtest check**", "plain encoding/json + porcupine"} {
			fmt.Fprintf(&b, "| %s | %s | %s | %.0f MB | %s | %s | %s |\n", name, seconds(k.WallMedian[side]), list(k.Wall[side], "%.2f"),
				k.RSSMedian[side]/1e6, list(scale(k.RSS[side], 1e-6), "%.0f"), seconds(k.CPUMedian[side]), list(k.CPU[side], "%.2f"))
		}
		goal := func(r, g float64) string {
			if r <= g {
				return fmt.Sprintf("meets the goal of <= %.1fx", g)
			}
			return fmt.Sprintf("misses the goal of <= %.1fx", g)
		}
		fmt.Fprintf(&b, "| **ratio dqtest / plain** | **%.2fx** (%s) | | **%.2fx** (%s) | | %.2fx | |\n\n",
			k.WallRatio, goal(k.WallRatio, 0.3), k.RSSRatio, goal(k.RSSRatio, 0.5), k.CPURatio)
	}
	return b.String()
}

func (f figures) verdictMarkdown() string {
	var b strings.Builder
	if v := f.Verdict; v != nil {
		fmt.Fprintf(&b, "**Time to verdict** (scenarios/default.yaml, seed 1: 40 s of workload with a partition and a kill; outcomes %s):\n\n", strings.Join(v.Outcomes, ", "))
		b.WriteString("| run | image build | startup | workload | recovery | teardown | check | total |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
		row := func(name string, build string, p verdict.Phases) {
			fmt.Fprintf(&b, "| %s | %s | %.1f s | %.1f s | %.1f s | %.1f s | %.2f s | **%.1f s** |\n", name, build,
				p.Startup, p.Workload, p.Recovery, p.Teardown, p.Check, p.Total)
		}
		row("cold (image never built, first run on it)", fmt.Sprintf("%.1f s", v.ColdBuild), v.Cold)
		row(fmt.Sprintf("warm (median of %d)", len(v.Warm)), "–", v.WarmMedian)
		b.WriteString("\nCold adds the image build (from an existing binary; compiling it and importing the base image once per machine are not counted) to a run's wall time.\n\n")
	}
	return b.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func perRound(o overhead, side int) string {
	var parts []string
	for _, r := range o.Rounds {
		parts = append(parts, fmt.Sprintf("%.0f", r[side]))
	}
	return strings.Join(parts, ", ")
}

func list(xs []float64, format string) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf(format, x)
	}
	return strings.Join(parts, ", ")
}

func scale(xs []float64, by float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = x * by
	}
	return out
}

func seconds(s float64) string {
	switch {
	case s >= 1:
		return fmt.Sprintf("%.2f s", s)
	default:
		return fmt.Sprintf("%.0f ms", s*1000)
	}
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func contains(list, name string) bool {
	return slices.Contains(strings.Split(list, ","), name)
}

// machine describes where the figures were measured.
func machine() string {
	cpu := runtime.GOARCH
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if name, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(name), ":"))
				break
			}
		}
	}
	docker := ""
	if out, err := exec.Command("docker", "version", "--format", "{{.Server.Version}}").Output(); err == nil {
		docker = ", Docker " + strings.TrimSpace(string(out))
	}
	return fmt.Sprintf("%d CPUs (%s), %s%s", runtime.NumCPU(), cpu, runtime.Version(), docker)
}
