package detect

import (
	"github.com/dqtest/dqtest/history"
)

// Tally is what CountOps, FaultEffects and KilledNodes need from a history
// read as a stream, kept instead of the events: the client operations'
// counts, the times of the ok completions (8 bytes each) and the nemesis
// events. Its answers are those of the functions on the whole history,
// for a well-formed one (history.Validate: times never decrease). The zero
// value is ready to use.
type Tally struct {
	events int
	last   int64 // the time of the last event
	// counts by type, and the completions (all, ok) within [From, To]
	// when To > 0.
	invoked, ok, fail, info int
	spanDone, spanOK        int
	okTimes                 [][]int64 // in blocks of okBlock: no garbage as they grow
	nemesis                 []history.Event
	// From and To are the workload phase CountOps gets; set before the
	// first Observe.
	From, To int64
}

// Observe counts the next events.
func (t *Tally) Observe(batch []history.Event) {
	if len(batch) == 0 {
		return
	}
	t.events += len(batch)
	t.last = batch[len(batch)-1].Time
	for i := range batch {
		e := &batch[i]
		if !e.IsClient() {
			t.nemesis = append(t.nemesis, *e)
			continue
		}
		in := t.To <= 0 || (e.Time >= t.From && e.Time <= t.To)
		switch e.Type {
		case history.Invoke:
			t.invoked++
		case history.OK:
			t.ok++
			if n := len(t.okTimes); n == 0 || len(t.okTimes[n-1]) == okBlock {
				t.okTimes = append(t.okTimes, make([]int64, 0, okBlock))
			}
			last := &t.okTimes[len(t.okTimes)-1]
			*last = append(*last, e.Time)
			if in {
				t.spanOK++
			}
		case history.Fail:
			t.fail++
		case history.Info:
			t.info++
		}
		if in && e.Type != history.Invoke {
			t.spanDone++
		}
	}
}

const okBlock = 8192

// Events is how many events were observed.
func (t *Tally) Events() int { return t.events }

// Nemesis are the nemesis events observed, in order.
func (t *Tally) Nemesis() []history.Event { return t.nemesis }

// CountOps is CountOps(events, t.From, t.To).
func (t *Tally) CountOps() OpCounts {
	c := OpCounts{Invoked: t.invoked, OK: t.ok, Fail: t.fail, Info: t.info}
	from, to := t.From, t.To
	if to <= 0 && t.events > 0 {
		from, to = 0, t.last
	}
	c.rates(t.spanDone, t.spanOK, from, to)
	return c
}

// FaultEffects is FaultEffects(events, from, to).
func (t *Tally) FaultEffects(from, to int64) []FaultEffect {
	return faultEffects(t.nemesis, t.okTimes, t.events, t.last, from, to)
}

// KilledNodes is KilledNodes(events).
func (t *Tally) KilledNodes() map[string]bool { return KilledNodes(t.nemesis) }
