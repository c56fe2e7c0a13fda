package report

import (
	"cmp"
	"math"
	"slices"
	"strings"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/history"
)

// The plots and tables are drawn from these: plain data derived from the
// history in one pass each, so they can be tested without drawing.

// span is one client operation as the plots draw it. Times are seconds
// since the run started (virtual seconds for the simulator).
type span struct {
	Process int
	F       string
	Start   float64
	// End is the completion's time; an operation still open when the
	// history ended runs to the end of the history.
	End     float64
	Outcome history.Type
	Open    bool
	// Anomalous says a checker named this operation in an anomaly.
	Anomalous bool
}

// Latency is the operation's duration in seconds.
func (s span) Latency() float64 { return s.End - s.Start }

// spans pairs the history's client operations. anomalous holds the indexes
// of the events the checkers named.
func spans(events []history.Event, anomalous map[int64]bool) []span {
	end := 0.0
	if len(events) > 0 {
		end = seconds(events[len(events)-1].Time)
	}
	ops := history.Pair(events)
	out := make([]span, 0, len(ops))
	for _, op := range ops {
		s := span{Process: int(op.Invoke.Process), F: op.Invoke.F, Start: seconds(op.Invoke.Time),
			End: end, Outcome: op.Outcome(), Open: op.Completion == nil}
		s.Anomalous = anomalous[op.Invoke.Index]
		if op.Completion != nil {
			s.End = seconds(op.Completion.Time)
			s.Anomalous = s.Anomalous || anomalous[op.Completion.Index]
		}
		out = append(out, s)
	}
	return out
}

// anomalousEvents are the indexes of every event an anomaly names.
func anomalousEvents(results []checker.Result) map[int64]bool {
	m := map[int64]bool{}
	for _, r := range results {
		for _, a := range r.Anomalies {
			for _, e := range a.Ops {
				m[e.Index] = true
			}
		}
	}
	return m
}

func seconds(ns int64) float64 { return float64(ns) / 1e9 }

// faultWindow is one interval a fault was in force: from its start-X event
// to the next stop-X (or the end of the history). A fault kind that is
// never stopped (handover, transfer) is instantaneous: From == To.
type faultWindow struct {
	Fault    string
	Nodes    []string
	From, To float64
}

// Instant reports whether the fault has no duration of its own.
func (w faultWindow) Instant() bool { return w.From == w.To }

// faultWindows reads the nemesis events. A fault whose event carries an
// error was not applied and changes nothing (as in the checkers'
// explanations); a second start of a fault already in force extends the
// window it is in.
func faultWindows(events []history.Event) []faultWindow {
	end := 0.0
	if len(events) > 0 {
		end = seconds(events[len(events)-1].Time)
	}
	return faultWindowsUntil(events, end)
}

// faultWindowsUntil is faultWindows of a history's nemesis events (other
// events are skipped) and the time of its last event, end (seconds).
func faultWindowsUntil(events []history.Event, end float64) []faultWindow {
	stopped := map[string]bool{}
	for _, e := range events {
		if name, ok := strings.CutPrefix(e.F, "stop-"); ok && !e.IsClient() {
			stopped[name] = true
		}
	}
	var out []faultWindow
	open := map[string]int{} // fault -> its window in out
	for _, e := range events {
		if e.IsClient() || e.Error != "" {
			continue
		}
		t := seconds(e.Time)
		if name, ok := strings.CutPrefix(e.F, "start-"); ok {
			if !stopped[name] {
				out = append(out, faultWindow{Fault: name, Nodes: e.Nodes, From: t, To: t})
			} else if _, in := open[name]; !in {
				open[name] = len(out)
				out = append(out, faultWindow{Fault: name, Nodes: e.Nodes, From: t, To: math.NaN()})
			}
		} else if name, ok := strings.CutPrefix(e.F, "stop-"); ok {
			if i, in := open[name]; in {
				out[i].To = t
				delete(open, name)
			}
		}
	}
	for _, i := range open {
		out[i].To = end
	}
	return out
}

// faultKinds are the distinct faults of windows, in order of appearance.
func faultKinds(ws []faultWindow) []string {
	var kinds []string
	for _, w := range ws {
		if !slices.Contains(kinds, w.Fault) {
			kinds = append(kinds, w.Fault)
		}
	}
	return kinds
}

// quantileRow is the latency distribution of one kind of operation with
// one outcome, in milliseconds.
type quantileRow struct {
	F       string
	Outcome history.Type
	Count   int
	P50     float64
	P90     float64
	P99     float64
	Max     float64
}

// latencyQuantiles gives a row per operation kind and outcome (open
// operations have no latency and are left out), then one per outcome over
// every kind, labelled "all".
func latencyQuantiles(ss []span) []quantileRow {
	var g latencyGroups
	for _, s := range ss {
		if s.Open {
			continue
		}
		g.add(s.F, s.Outcome, s.Latency())
	}
	return g.rows()
}

// latencyGroups are the latencies (ms) of completed operations by kind and
// outcome, and by outcome over every kind ("all").
type latencyGroups map[latencyKey][]float64

type latencyKey struct {
	f string
	o history.Type
}

// add adds one operation's latency, in seconds.
func (g *latencyGroups) add(f string, o history.Type, latency float64) {
	if *g == nil {
		*g = latencyGroups{}
	}
	ms := latency * 1000
	(*g)[latencyKey{f, o}] = append((*g)[latencyKey{f, o}], ms)
	(*g)[latencyKey{"all", o}] = append((*g)[latencyKey{"all", o}], ms)
}

func (g latencyGroups) rows() []quantileRow {
	groups := g
	rank := map[history.Type]int{history.OK: 0, history.Fail: 1, history.Info: 2}
	var rows []quantileRow
	for k, ls := range groups {
		slices.Sort(ls)
		rows = append(rows, quantileRow{F: k.f, Outcome: k.o, Count: len(ls),
			P50: quantile(ls, 0.5), P90: quantile(ls, 0.9), P99: quantile(ls, 0.99), Max: ls[len(ls)-1]})
	}
	slices.SortFunc(rows, func(a, b quantileRow) int {
		if (a.F == "all") != (b.F == "all") {
			if a.F == "all" {
				return 1
			}
			return -1
		}
		return cmp.Or(cmp.Compare(a.F, b.F), cmp.Compare(rank[a.Outcome], rank[b.Outcome]))
	})
	return rows
}

// quantile is the nearest-rank q-quantile of sorted values.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// bucketWidth picks a bucket width (seconds) that gives about n buckets
// over a span of total seconds: at least 1 s, and a round number.
func bucketWidth(total float64, n int) float64 {
	w := total / float64(n)
	for _, nice := range []float64{1, 2, 5, 10, 15, 30, 60, 120, 300, 600} {
		if w <= nice {
			return nice
		}
	}
	return math.Ceil(w/600) * 600
}

// rateSeries counts completions per second of each outcome in buckets of
// width seconds, by completion time. Open operations never completed and
// are left out.
func rateSeries(ss []span, width, end float64) (mid []float64, rates map[history.Type][]float64) {
	n := max(1, int(math.Ceil(end/width)))
	rates = map[history.Type][]float64{history.OK: make([]float64, n), history.Fail: make([]float64, n), history.Info: make([]float64, n)}
	for _, s := range ss {
		if s.Open {
			continue
		}
		i := min(n-1, int(s.End/width))
		rates[s.Outcome][i] += 1 / width
	}
	mid = make([]float64, n)
	for i := range mid {
		mid[i] = (float64(i) + 0.5) * width
	}
	return mid, rates
}

// quantileSeries gives, per bucket of width seconds (by invoke time), the
// given quantiles of ok latencies in milliseconds; a bucket without ok
// operations gets NaN.
func quantileSeries(ss []span, width, end float64, qs []float64) (mid []float64, series [][]float64) {
	n := max(1, int(math.Ceil(end/width)))
	buckets := make([][]float64, n)
	for _, s := range ss {
		if s.Outcome != history.OK {
			continue
		}
		i := min(n-1, int(s.Start/width))
		buckets[i] = append(buckets[i], s.Latency()*1000)
	}
	series = make([][]float64, len(qs))
	for j := range qs {
		series[j] = make([]float64, n)
	}
	mid = make([]float64, n)
	for i, b := range buckets {
		mid[i] = (float64(i) + 0.5) * width
		slices.Sort(b)
		for j, q := range qs {
			series[j][i] = quantile(b, q)
		}
	}
	return mid, series
}
