package report

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/dqtest/dqtest/history"
)

// digest is what the report takes from a history, read as a stream (one
// pass, and a second one to sample the plotted operations of a history
// longer than maxPoints): the number of operations, every completed
// operation's latency (16 bytes each: per kind and over all, for the exact quantiles of the
// table), the nemesis events, the operations the plots draw (at most
// maxPoints, and every anomalous one) and the transfers that overlapped
// each bank read shown. Memory does not hold the history.
type digest struct {
	ops       int
	end       float64 // the last event's time, seconds
	nemesis   []history.Event
	latencies latencyGroups
	drawn     []span
	thinned   int
	counts    []overlap // per read window: the transfers that overlapped it
	problem   string
	failed    bool // the history could not be read: nothing of it is shown
}

// digestHistory reads src. anomalous are the indexes of the events the
// checkers named, reads the bank reads whose overlapping transfers are
// shown.
func digestHistory(src history.Source, anomalous map[int64]bool, reads []readWindow) digest {
	d := digest{counts: make([]overlap, len(reads))}
	var lastNs int64
	var kept []posSpan
	overflow := false
	pr := newPairer(func(pos int, inv *history.Event, comp *history.Event) {
		if comp != nil {
			d.latencies.add(inv.F, comp.Type, seconds(comp.Time)-seconds(inv.Time))
		}
		for i, rw := range reads {
			d.counts[i].add(rw, history.Operation{Invoke: *inv, Completion: comp})
		}
		if !overflow {
			kept = append(kept, posSpan{pos, spanOf(inv, comp, 0, anomalous)})
			if len(kept) > maxPoints {
				overflow, kept = true, nil
			}
		}
	})
	_, torn, err := src(func(batch []history.Event, _ int) error {
		lastNs = batch[len(batch)-1].Time
		for i := range batch {
			if !batch[i].IsClient() {
				d.nemesis = append(d.nemesis, batch[i])
			}
		}
		pr.observe(batch)
		return nil
	})
	if err != nil {
		// As a history that cannot be read: nothing of it is drawn.
		return digest{problem: err.Error(), failed: true, counts: make([]overlap, len(reads)), thinned: 1}
	}
	if torn != 0 {
		d.problem = fmt.Sprintf("line %d of the history is torn and was left out", torn)
	}
	d.end = seconds(lastNs)
	// Operations never completed run to the end of the history.
	for _, o := range pr.finish() {
		for i, rw := range reads {
			d.counts[i].add(rw, history.Operation{Invoke: o.inv})
		}
		if !overflow {
			kept = append(kept, posSpan{o.pos, spanOf(&o.inv, nil, d.end, anomalous)})
			if len(kept) > maxPoints {
				overflow, kept = true, nil
			}
		}
	}
	d.ops = pr.n
	d.thinned = 1
	for i := range d.counts {
		// In invoke order, as history.Pair has them.
		slices.SortStableFunc(d.counts[i].picked, func(a, b history.Operation) int { return cmp.Compare(a.Invoke.Index, b.Invoke.Index) })
	}
	if !overflow {
		d.drawn = sortSpans(kept)
		return d
	}
	// Longer than maxPoints: read again for every k-th operation (by
	// invoke order) and every anomalous one, as thin would keep them.
	k := (d.ops + maxPoints - 1) / maxPoints
	d.thinned = k
	kept = nil
	pr = newPairer(func(pos int, inv *history.Event, comp *history.Event) {
		s := spanOf(inv, comp, d.end, anomalous)
		if pos%k == 0 || s.Anomalous {
			kept = append(kept, posSpan{pos, s})
		}
	})
	if _, _, err := src(func(batch []history.Event, _ int) error { pr.observe(batch); return nil }); err != nil {
		return digest{problem: err.Error(), failed: true, counts: make([]overlap, len(reads)), thinned: 1}
	}
	for _, o := range pr.finish() {
		s := spanOf(&o.inv, nil, d.end, anomalous)
		if o.pos%k == 0 || s.Anomalous {
			kept = append(kept, posSpan{o.pos, s})
		}
	}
	d.drawn = sortSpans(kept)
	return d
}

type posSpan struct {
	pos int
	s   span
}

func sortSpans(ps []posSpan) []span {
	slices.SortFunc(ps, func(a, b posSpan) int { return a.pos - b.pos })
	out := make([]span, len(ps))
	for i, p := range ps {
		out[i] = p.s
	}
	return out
}

// spanOf is spans' span of one operation; end is the history's end, where
// an operation never completed ends.
func spanOf(inv, comp *history.Event, end float64, anomalous map[int64]bool) span {
	s := span{Process: int(inv.Process), F: inv.F, Start: seconds(inv.Time), End: end, Outcome: history.Info, Open: comp == nil}
	s.Anomalous = anomalous[inv.Index]
	if comp != nil {
		s.Outcome = comp.Type
		s.End = seconds(comp.Time)
		s.Anomalous = s.Anomalous || anomalous[comp.Index]
	}
	return s
}

// pairer pairs a history's client operations as history.Pair does (a
// completion closes its process's open invoke; one with none is skipped),
// keeping only the open ones. done gets each completed operation with its
// position in invoke order; finish returns those never completed.
type pairer struct {
	n     int
	open  map[history.Process]pendingOp
	never []pendingOp // invokes followed by another of their process
	done  func(pos int, inv, comp *history.Event)
}

type pendingOp struct {
	pos int
	inv history.Event
}

func newPairer(done func(pos int, inv, comp *history.Event)) *pairer {
	return &pairer{open: map[history.Process]pendingOp{}, done: done}
}

func (p *pairer) observe(batch []history.Event) {
	for i := range batch {
		e := &batch[i]
		if !e.IsClient() {
			continue
		}
		if e.Type == history.Invoke {
			if prev, ok := p.open[e.Process]; ok {
				p.never = append(p.never, prev)
			}
			p.open[e.Process] = pendingOp{pos: p.n, inv: *e}
			p.n++
			continue
		}
		o, ok := p.open[e.Process]
		if !ok {
			continue
		}
		delete(p.open, e.Process)
		p.done(o.pos, &o.inv, e)
	}
}

// finish returns the operations never completed, in invoke order.
func (p *pairer) finish() []pendingOp {
	out := p.never
	for _, o := range p.open {
		out = append(out, o)
	}
	slices.SortFunc(out, func(a, b pendingOp) int { return a.pos - b.pos })
	p.open, p.never = nil, nil
	return out
}
