package main

import (
	"bufio"
	"fmt"
	"math/rand"
	"os"
	"sort"

	"github.com/dqtest/dqtest/history"
)

// registerGen describes a register history made by running random clients
// against a correct sequential register per key: every operation takes
// effect at one instant between its invoke and its completion, so the
// history is linearizable by construction, whatever the interleaving. (A
// copy of the checker tests' generator: the benchmark must not import test
// code.)
type registerGen struct {
	Seed        int64
	Ops         int
	Keys        int
	Concurrency int
	// InfoRate is the share of operations whose outcome is reported as info
	// (half of the writes and cas among them took effect, half never did);
	// FailRate the share of writes that certainly failed.
	InfoRate, FailRate float64
}

type genOp struct {
	slot          int
	key           string
	f             string
	inv, lin, ret int64
	arg           any // write value, or [old, new]
	outcome       history.Type
	read          any // the read's result
	proc          history.Process
}

// write generates the history and writes it to path as dqtest's history
// writer does, returning the number of events.
func (g registerGen) write(path string) (int, error) {
	rng := rand.New(rand.NewSource(g.Seed))
	cursor := make([]int64, g.Concurrency)
	ops := make([]*genOp, g.Ops)
	keys := make([]string, g.Keys)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%d", i)
	}
	for i := range ops {
		s := i % g.Concurrency
		inv := cursor[s] + 1 + rng.Int63n(20)
		lin := inv + 1 + rng.Int63n(30)
		ret := lin + 1 + rng.Int63n(30)
		cursor[s] = ret
		o := &genOp{slot: s, key: keys[rng.Intn(g.Keys)], inv: inv, lin: lin, ret: ret}
		switch r := rng.Float64(); {
		case r < 0.5:
			o.f = "read"
		case r < 0.8:
			o.f = "write"
		default:
			o.f = "cas"
		}
		ops[i] = o
	}

	// Take effect in linearization order against the sequential model.
	byLin := append([]*genOp(nil), ops...)
	sort.SliceStable(byLin, func(i, j int) bool {
		if byLin[i].lin != byLin[j].lin {
			return byLin[i].lin < byLin[j].lin
		}
		return byLin[i].slot < byLin[j].slot
	})
	state := map[string]int64{}
	written := map[string][]int64{}
	next := int64(1)
	for _, o := range byLin {
		cur, set := state[o.key]
		unsure := rng.Float64() < g.InfoRate
		switch o.f {
		case "read":
			o.outcome = history.OK
			if unsure {
				o.outcome = history.Info
			} else if set {
				o.read = cur
			}
		case "write":
			v := next
			next++
			o.arg = v
			switch {
			case unsure:
				o.outcome = history.Info
				if rng.Intn(2) == 0 {
					state[o.key] = v
				}
			case rng.Float64() < g.FailRate:
				o.outcome = history.Fail
			default:
				o.outcome = history.OK
				state[o.key] = v
			}
			written[o.key] = append(written[o.key], v)
		case "cas":
			to := next
			next++
			var from any
			if set && rng.Intn(2) == 0 {
				from = cur
			} else if w := written[o.key]; len(w) > 0 {
				from = w[rng.Intn(len(w))]
			}
			o.arg = []any{from, to}
			matches := (from == nil && !set) || (set && from == cur)
			switch {
			case unsure:
				o.outcome = history.Info
				if matches && rng.Intn(2) == 0 {
					state[o.key] = to
				}
			case matches:
				o.outcome = history.OK
				state[o.key] = to
			default:
				o.outcome = history.Fail
			}
			written[o.key] = append(written[o.key], to)
		}
	}

	// A client slot continues as a new process after an info.
	proc := make([]history.Process, g.Concurrency)
	for s := range proc {
		proc[s] = history.Process(s)
	}
	nextProc := history.Process(g.Concurrency)
	for _, o := range ops { // in slot-time order within each slot
		o.proc = proc[o.slot]
		if o.outcome == history.Info {
			proc[o.slot] = nextProc
			nextProc++
		}
	}

	type stamped struct {
		t        int64
		slot     int
		op       *genOp
		complete bool
	}
	evs := make([]stamped, 0, 2*len(ops))
	for _, o := range ops {
		evs = append(evs, stamped{o.inv, o.slot, o, false}, stamped{o.ret, o.slot, o, true})
	}
	sort.SliceStable(evs, func(i, j int) bool {
		if evs[i].t != evs[j].t {
			return evs[i].t < evs[j].t
		}
		return evs[i].slot < evs[j].slot
	})

	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	w := history.NewWriter(bw)
	nodes := []string{"n1", "n2", "n3"}
	for _, s := range evs {
		o := s.op
		// Times in the generator are abstract ticks; a microsecond each
		// makes them look like a real run's nanoseconds.
		e := history.Event{Time: s.t * 1000, Process: o.proc, Type: history.Invoke, F: o.f, Key: o.key, Value: o.arg, Node: nodes[o.slot%3]}
		if s.complete {
			e.Type = o.outcome
			if o.f == "read" {
				e.Value = o.read
			}
			if o.outcome == history.Info {
				e.Error = "timeout"
			}
		}
		if _, err := w.Write(e); err != nil {
			return 0, err
		}
	}
	if err := w.Close(); err != nil {
		return 0, err
	}
	if err := bw.Flush(); err != nil {
		return 0, err
	}
	return len(evs), f.Close()
}
