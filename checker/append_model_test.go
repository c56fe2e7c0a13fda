package checker

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/dqtest/dqtest/history"
)

// appendGen describes a history produced by running list-append
// transactions against a correct, sequential model: each transaction takes
// effect atomically at one instant between its invocation and completion,
// so the history is strict-serializable by construction. Client slots are
// interleaved at random.
type appendGen struct {
	txns      int     // transactions to start
	processes int     // concurrent client slots (default 8)
	keys      int     // keys live at once (default 10)
	perKey    int     // appends after which a key retires, as Elle does (default 100)
	maxMops   int     // micro-ops per transaction: 1 to maxMops (default 4)
	fail      float64 // chance a transaction fails without taking effect
	info      float64 // chance its outcome is unknown (half of them took effect)
	seed      uint64
	// finalReads ends the history with a read of every key, so every
	// append that took effect is observed.
	finalReads bool
	// splitAt, when positive, makes the splitAt-th transaction
	// non-atomic: it appends to two keys, and another transaction runs in
	// between its two appends and reads both keys.
	splitAt int
	// nonAtomic applies every transaction one micro-op at a time, other
	// transactions interleaved: a database without isolation, whose
	// histories are full of anomalies and large dependency cycles.
	nonAtomic bool
	// stale is the chance that a read misses up to the last 50 appends to
	// its key: a stale replica, whose real-time violations chain into a
	// dependency cycle through most of the history.
	stale float64
}

// Processes of the transactions outside the random interleaving.
const (
	observerProcess  = 1 << 20
	finalReadProcess = 1 << 21
)

func generateAppendHistory(g appendGen) []history.Event {
	if g.processes == 0 {
		g.processes = 8
	}
	if g.keys == 0 {
		g.keys = 10
	}
	if g.perKey == 0 {
		g.perKey = 100
	}
	if g.maxMops == 0 {
		g.maxMops = 4
	}
	rng := rand.New(rand.NewPCG(g.seed, 0x5eed))
	state := map[string][]int64{}
	appends := map[string]int{}
	var live, all []string
	newKey := func() string {
		k := fmt.Sprintf("k%d", len(all))
		all = append(all, k)
		return k
	}
	for range g.keys {
		live = append(live, newKey())
	}
	nextValue := int64(1)
	appendTo := func(k string) []any {
		v := nextValue
		nextValue++
		if appends[k]++; appends[k] == g.perKey {
			live[slices.Index(live, k)] = newKey()
		}
		return []any{"append", k, v}
	}
	newTxn := func() []any {
		// Two keys per transaction at most, so that transactions overlap
		// on keys and read their own appends.
		keys := []string{live[rng.IntN(len(live))], live[rng.IntN(len(live))]}
		mops := make([]any, 1+rng.IntN(g.maxMops))
		for i := range mops {
			k := keys[rng.IntN(2)]
			if rng.IntN(2) == 0 {
				mops[i] = []any{"r", k, nil}
			} else {
				mops[i] = appendTo(k)
			}
		}
		return mops
	}
	applyMop := func(m any) any {
		mop := m.([]any)
		k := mop[1].(string)
		if mop[0] == "append" {
			state[k] = append(state[k], mop[2].(int64))
			return mop
		}
		var list []any // an empty list reads as null, like a missing row
		current := state[k]
		if g.stale > 0 && rng.Float64() < g.stale {
			current = current[:max(0, len(current)-1-rng.IntN(50))]
		}
		for _, v := range current {
			list = append(list, v)
		}
		return []any{"r", k, list}
	}
	apply := func(mops []any) []any {
		out := make([]any, len(mops))
		for i, m := range mops {
			out[i] = applyMop(m)
		}
		return out
	}

	var events []history.Event
	emit := func(p int, typ history.Type, v any) {
		n := int64(len(events))
		events = append(events, history.Event{Index: n, Time: n * 1000, Process: history.Process(p), Type: typ, F: "txn", Value: v})
	}
	type slot struct {
		process int
		phase   int // 0 idle, 1 invoked, 2 took effect
		split   bool
		mops    []any
		result  []any // the micro-ops applied so far, reads filled in
	}
	slots := make([]slot, g.processes)
	for i := range slots {
		slots[i].process = i
	}
	nextProcess := g.processes
	started, busy := 0, 0
	for started < g.txns || busy > 0 {
		s := &slots[rng.IntN(len(slots))]
		switch s.phase {
		case 0:
			if started >= g.txns {
				continue
			}
			started++
			s.mops, s.split, s.result = newTxn(), started == g.splitAt, nil
			if s.split {
				a, b := live[rng.IntN(len(live))], live[rng.IntN(len(live))]
				s.mops = []any{appendTo(a), appendTo(b)}
			}
			emit(s.process, history.Invoke, s.mops)
			s.phase = 1
			busy++
		case 1:
			r := rng.Float64()
			switch {
			case s.split:
				// The bug: the first append shows before the second.
				first := applyMop(s.mops[0])
				a, b := s.mops[0].([]any)[1], s.mops[1].([]any)[1]
				observe := []any{[]any{"r", a, nil}, []any{"r", b, nil}}
				emit(observerProcess, history.Invoke, observe)
				emit(observerProcess, history.OK, apply(observe))
				s.result = []any{first, applyMop(s.mops[1])}
				s.phase = 2
			case g.nonAtomic && (len(s.result) > 0 || r >= g.fail+g.info/2):
				s.result = append(s.result, applyMop(s.mops[len(s.result)]))
				if len(s.result) == len(s.mops) {
					s.phase = 2
				}
			case r < g.fail:
				emit(s.process, history.Fail, s.mops)
				s.phase = 0
				busy--
			case r < g.fail+g.info/2:
				emit(s.process, history.Info, s.mops)
				s.process, nextProcess = nextProcess, nextProcess+1
				s.phase = 0
				busy--
			default:
				s.result = apply(s.mops)
				s.phase = 2
			}
		case 2:
			if !s.split && rng.Float64() < g.info/2 {
				emit(s.process, history.Info, s.mops)
				s.process, nextProcess = nextProcess, nextProcess+1
			} else {
				emit(s.process, history.OK, s.result)
			}
			s.phase = 0
			busy--
		}
	}
	if g.finalReads {
		for _, k := range all {
			read := []any{[]any{"r", k, nil}}
			emit(finalReadProcess, history.Invoke, read)
			emit(finalReadProcess, history.OK, apply(read))
		}
	}
	return events
}
