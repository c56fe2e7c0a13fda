package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// checkerRow is one checker benchmark: its median time for one check of a
// history of the given size.
type checkerRow struct {
	Checker string // register, bank, set, append
	Case    string // e.g. ops=1000000, txns=10000/keys=10/serializable
	Size    int    // operations or transactions in the history
	Samples int
	Seconds float64 // median seconds per check
}

var benchLine = regexp.MustCompile(`^Benchmark(\w+)/(\S+)-\d+\s+\d+\s+([\d.]+) ns/op`)

// measureCheckers runs the checker package's benchmarks, one check per
// sample (-benchtime 1x), count samples each, and takes the medians.
func measureCheckers(ctx context.Context, c config) ([]checkerRow, error) {
	args := []string{"test", "-run", "^$", "-bench", ".", "-benchtime", "1x", "-count", strconv.Itoa(c.benchCount), "./checker/"}
	slog.Info("checker benchmarks", "command", "go "+strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go test -bench: %w\n%s", err, out)
	}
	return parseBench(out)
}

func parseBench(out []byte) ([]checkerRow, error) {
	samples := map[string][]float64{}
	var order []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		key := m[1] + "/" + m[2]
		if _, ok := samples[key]; !ok {
			order = append(order, key)
		}
		ns, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			return nil, err
		}
		samples[key] = append(samples[key], ns/1e9)
	}
	if len(order) == 0 {
		return nil, fmt.Errorf("no benchmark results in the output:\n%s", out)
	}
	var rows []checkerRow
	for _, key := range order {
		name, cs, _ := strings.Cut(key, "/")
		r := checkerRow{Checker: checkerName(name), Case: cs, Samples: len(samples[key]), Seconds: median(samples[key])}
		if m := regexp.MustCompile(`=(\d+)`).FindStringSubmatch(cs); m != nil {
			r.Size, _ = strconv.Atoi(m[1])
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// checkerName turns a benchmark's name into the checker and variant it
// measures: AppendCheckNonAtomic → append (non-atomic history).
func checkerName(bench string) string {
	switch {
	case strings.HasPrefix(bench, "AppendCheck"):
		variant := strings.TrimPrefix(bench, "AppendCheck")
		if variant == "" {
			return "append"
		}
		return "append (" + strings.ToLower(regexp.MustCompile(`([a-z])([A-Z])`).ReplaceAllString(variant, "$1 $2")) + " history)"
	default:
		return strings.ToLower(bench)
	}
}
