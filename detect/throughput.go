package detect

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/dqtest/dqtest/history"
)

// FaultEffect is what one fault kind did to throughput: ok operations per
// second while it was in force against the rate while no fault was.
type FaultEffect struct {
	Fault string `json:"fault"`
	// Starts is how many times the fault was started.
	Starts int `json:"starts"`
	// Seconds is how long it was in force in total. An instantaneous fault
	// (handover, transfer) counts the instantEffect after each start.
	Seconds     float64 `json:"seconds"`
	OKPerSecond float64 `json:"ok_per_second"`
	// BaselineOKPerSecond is the rate while no fault was in force.
	BaselineOKPerSecond float64 `json:"baseline_ok_per_second"`
}

// instantEffect is the window after an instantaneous fault (one with no
// stop event) over which its effect is measured.
const instantEffect = 5 * time.Second

type window struct{ from, to int64 }

// FaultEffects measures each fault kind's windows in a history, over the
// span [from, to] (ns): the workload phase, so that start-up and final
// reads do not count. to <= 0 means the history's last event.
func FaultEffects(events []history.Event, from, to int64) []FaultEffect {
	var t Tally
	t.Observe(events)
	return t.FaultEffects(from, to)
}

// faultEffects is FaultEffects of a history's nemesis events (in order),
// the times of its ok client completions (in order), its number of events
// and the time of its last event.
func faultEffects(nemesis []history.Event, okTimes [][]int64, events int, last, from, to int64) []FaultEffect {
	if events == 0 {
		return nil
	}
	if to <= 0 {
		to = last
	}
	inSpan := func(e history.Event) bool { return e.Time >= from && e.Time <= to }
	// A fault kind that is never stopped is instantaneous.
	var order []string
	hasStop := map[string]bool{}
	for _, e := range nemesis {
		if e.IsClient() || !inSpan(e) {
			continue
		}
		if name, ok := strings.CutPrefix(e.F, "start-"); ok && !slices.Contains(order, name) {
			order = append(order, name)
		}
		if name, ok := strings.CutPrefix(e.F, "stop-"); ok {
			hasStop[name] = true
		}
	}
	windows := map[string][]window{}
	starts := map[string]int{}
	open := map[string]int64{}
	for _, e := range nemesis {
		if e.IsClient() || !inSpan(e) {
			continue
		}
		if name, ok := strings.CutPrefix(e.F, "start-"); ok {
			starts[name]++
			if !hasStop[name] {
				windows[name] = append(windows[name], window{e.Time, min(to, e.Time+instantEffect.Nanoseconds())})
			} else if _, in := open[name]; !in {
				open[name] = e.Time
			}
		}
		if name, ok := strings.CutPrefix(e.F, "stop-"); ok {
			if t, in := open[name]; in {
				windows[name] = append(windows[name], window{t, e.Time})
				delete(open, name)
			}
		}
	}
	for name, t := range open {
		windows[name] = append(windows[name], window{t, to})
	}

	var oks []int64
	for _, b := range okTimes {
		for _, t := range b {
			if t >= from && t <= to {
				oks = append(oks, t)
			}
		}
	}
	inAny := func(t int64) bool {
		for _, ws := range windows {
			for _, w := range ws {
				if t >= w.from && t <= w.to {
					return true
				}
			}
		}
		return false
	}
	var all []window
	for _, ws := range windows {
		all = append(all, ws...)
	}
	baseSeconds := float64(to-from-covered(all)) / 1e9
	baseOK := 0
	for _, t := range oks {
		if !inAny(t) {
			baseOK++
		}
	}
	base := 0.0
	if baseSeconds > 0 {
		base = float64(baseOK) / baseSeconds
	}

	var effects []FaultEffect
	for _, name := range order {
		ws := windows[name]
		n := 0
		for _, t := range oks {
			for _, w := range ws {
				if t >= w.from && t <= w.to {
					n++
					break
				}
			}
		}
		secs := float64(covered(ws)) / 1e9
		fe := FaultEffect{Fault: name, Starts: starts[name], Seconds: secs, BaselineOKPerSecond: base}
		if secs > 0 {
			fe.OKPerSecond = float64(n) / secs
		}
		effects = append(effects, fe)
	}
	return effects
}

// covered is the total length of the union of windows.
func covered(ws []window) int64 {
	ws = slices.Clone(ws)
	slices.SortFunc(ws, func(a, b window) int { return cmp.Compare(a.from, b.from) })
	var total, curFrom, curTo int64
	started := false
	for _, w := range ws {
		switch {
		case !started:
			curFrom, curTo, started = w.from, w.to, true
		case w.from > curTo:
			total += curTo - curFrom
			curFrom, curTo = w.from, w.to
		case w.to > curTo:
			curTo = w.to
		}
	}
	if started {
		total += curTo - curFrom
	}
	return total
}

// CountOps counts client operations by outcome (final reads included),
// and the rates of completions within [from, to] (ns; to <= 0: the whole
// history, in the simulator's virtual time).
func CountOps(events []history.Event, from, to int64) OpCounts {
	var c OpCounts
	if to <= 0 && len(events) > 0 {
		from, to = 0, events[len(events)-1].Time
	}
	var done, ok int
	for _, e := range events {
		if !e.IsClient() {
			continue
		}
		in := e.Time >= from && e.Time <= to
		switch e.Type {
		case history.Invoke:
			c.Invoked++
		case history.OK:
			c.OK++
			if in {
				ok++
			}
		case history.Fail:
			c.Fail++
		case history.Info:
			c.Info++
		}
		if in && e.Type != history.Invoke {
			done++
		}
	}
	c.rates(done, ok, from, to)
	return c
}

func (c *OpCounts) rates(done, ok int, from, to int64) {
	if secs := float64(to-from) / 1e9; secs > 0 {
		c.PerSecond = float64(done) / secs
		c.OKPerSecond = float64(ok) / secs
	}
}

// OpCounts count client operations by outcome.
type OpCounts struct {
	Invoked int `json:"invoked"`
	OK      int `json:"ok"`
	Fail    int `json:"fail"`
	Info    int `json:"info"`
	// PerSecond is completed operations (ok, fail, info) per second of the
	// workload phase; OKPerSecond only the ok ones.
	PerSecond   float64 `json:"per_second"`
	OKPerSecond float64 `json:"ok_per_second"`
}
