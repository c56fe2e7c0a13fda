package checker

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// cycleSearch looks, inside one component, for a cycle that starts with
// an edge of a kind in start (and of none in startNot), then returns to the
// edge's source over edges of a kind in path. The searches run from the
// most specific anomaly to the most general, as Elle's do, so that a
// component holding a G0 cycle is shown as G0 rather than as some G2 that
// merely contains it.
type cycleSearch struct {
	start, startNot, path depKind
	// nonadjacent searches for a cycle with more than one anti-dependency,
	// no two of them adjacent (G-nonadjacent): start is rw, path the other
	// kinds it may take besides rw.
	nonadjacent bool
}

var (
	serialSearches = []cycleSearch{
		{start: depWW, path: depWW},                            // G0
		{start: depWR, path: depWW | depWR},                    // G1c
		{start: depRW, path: depWW | depWR},                    // G-single
		{start: depRW, path: depWW | depWR, nonadjacent: true}, // G-nonadjacent
		{start: depRW, path: depWW | depWR | depRW},            // G2
	}
	// The real-time G0 and G1c searches start from an edge that is real
	// time only: a cycle through an edge that is also a dependency is
	// found, and better named, without real time.
	realtimeSearches = []cycleSearch{
		{start: depRT, startNot: depWW | depWR | depRW, path: depWW | depRT},         // G0-realtime
		{start: depRT, startNot: depWW | depWR | depRW, path: depWW | depWR | depRT}, // G1c-realtime
		{start: depRW, path: depWW | depWR | depRT},                                  // G-single-realtime
		{start: depRW, path: depWW | depWR | depRT, nonadjacent: true},               // G-nonadjacent-realtime
		{start: depRW, path: depAll},                                                 // G2-realtime
	}
)

// cycleBudget bounds the nodes one search may visit in breadth-first
// searches that are not sure to succeed (the G-single kind, whose one
// anti-dependency is not among the path kinds). Past it the search gives up
// and the more general searches still report the component.
const cycleBudget = 2_000_000

// cycleStep is one edge of a cycle, labelled with the one kind that
// explains it.
type cycleStep struct {
	from, to int32
	kind     depKind
}

// findCycles finds the strongly connected components of the whole graph
// (Tarjan) and, inside each, short example cycles (breadth-first search)
// of each anomaly class, at most one per class and component.
func (a *appendAnalysis) findCycles(ctx context.Context) error {
	g := a.graph
	n := g.nodes()
	all := make([]int32, n)
	for i := range all {
		all[i] = int32(i)
	}
	sccs := newSCCFinder(g)
	paths := newPathFinder(g)
	a.nonadj = newNonadjFinder(g)
	mask := depWW | depWR | depRW
	searches := serialSearches
	if a.strict {
		mask = depAll
		searches = append(append([]cycleSearch{}, serialSearches...), realtimeSearches...)
	}
	comps := sccs.components(all, depScope{}, mask)
	// Report in history order: earliest components first.
	slices.SortFunc(comps, func(x, y []int32) int { return int(x[0]) - int(y[0]) })
	a.sccs = len(comps)
	for _, c := range comps {
		a.largestSCC = max(a.largestSCC, len(c))
	}
	label := make([]int32, n)
	for i := range label {
		label[i] = -1
	}
	for c, comp := range comps {
		for _, v := range comp {
			label[v] = int32(c)
		}
	}
	sub := make([]int32, n) // labels of the components inside one search
	for i := range sub {
		sub[i] = -1
	}
	explained := 0
	for c, comp := range comps {
		if err := appendStopped(ctx, "the cycle search"); err != nil {
			return err
		}
		scope := depScope{label, int32(c)}
		found := map[string]bool{}
		for _, s := range searches {
			cycle := a.searchCycle(sccs, paths, comp, scope, sub, s)
			if cycle == nil {
				continue
			}
			kind := classifyCycle(cycle)
			if found[kind] {
				continue
			}
			found[kind] = true
			a.counts[kind]++
			if explained < a.opts.MaxCycles {
				explained++
				a.anomalies = append(a.anomalies, a.cycleAnomaly(kind, cycle))
			}
		}
	}
	return nil
}

// searchCycle returns one cycle of search s inside comp, or nil.
func (a *appendAnalysis) searchCycle(sccs *sccFinder, paths *pathFinder, comp []int32, scope depScope, sub []int32, s cycleSearch) []cycleStep {
	g := a.graph
	if s.nonadjacent {
		return a.searchNonadjacent(comp, scope, s)
	}
	// Components of the path kinds inside comp: an edge whose ends share
	// one lies on a cycle, and the BFS back is sure to succeed.
	subs := sccs.components(comp, scope, s.path)
	for i, sc := range subs {
		for _, v := range sc {
			sub[v] = int32(i)
		}
	}
	defer func() {
		for _, sc := range subs {
			for _, v := range sc {
				sub[v] = -1
			}
		}
	}()
	isStart := func(k depKind) bool { return k&s.start != 0 && k&s.startNot == 0 }
	unlimited := int(^uint(0) >> 1)
	for i, sc := range subs {
		for _, v := range sc {
			for e := g.off[v]; e < g.off[v+1]; e++ {
				w := g.to[e]
				if sub[w] != int32(i) || !isStart(g.kind[e]) {
					continue
				}
				if p := paths.path(w, v, depScope{sub, int32(i)}, s.path, &unlimited); p != nil {
					return a.labelCycle(v, p, s)
				}
			}
		}
	}
	if s.start&s.path == s.start {
		// Every cycle over start and path kinds lies inside one of subs.
		return nil
	}
	// The start edge's kind is not among the path kinds (G-single: exactly
	// one anti-dependency): its ends may sit in different subs and still
	// be joined by a path. Only a search can tell, so it is budgeted.
	budget := cycleBudget
	for _, v := range comp {
		for e := g.off[v]; e < g.off[v+1]; e++ {
			w := g.to[e]
			if !scope.has(w) || !isStart(g.kind[e]) || (sub[v] >= 0 && sub[v] == sub[w]) {
				continue
			}
			if p := paths.path(w, v, scope, s.path, &budget); p != nil {
				return a.labelCycle(v, p, s)
			}
			if budget <= 0 {
				a.cycleSearchTruncated = true
				return nil
			}
		}
	}
	return nil
}

// labelCycle turns the start edge v→p[0] and the path p (which ends at v)
// into labelled steps. Each path edge takes the most benign kind it has
// among the path kinds (ww, then wr, rw, rt), so a cycle is never
// classified as worse than it is.
func (a *appendAnalysis) labelCycle(v int32, p []int32, s cycleSearch) []cycleStep {
	g := a.graph
	steps := []cycleStep{{v, p[0], pickKind(g.edge(v, p[0]) & s.start &^ s.startNot)}}
	for i := 1; i < len(p); i++ {
		steps = append(steps, cycleStep{p[i-1], p[i], pickKind(g.edge(p[i-1], p[i]) & s.path)})
	}
	// Start from the earliest transaction: it reads in history order.
	first := 0
	for i, st := range steps {
		if st.from < steps[first].from {
			first = i
		}
	}
	return slices.Concat(steps[first:], steps[:first])
}

func pickKind(k depKind) depKind {
	for _, c := range []depKind{depWW, depWR, depRW, depRT} {
		if k&c != 0 {
			return c
		}
	}
	return 0
}

// classifyCycle names a cycle as Adya and Elle do: G0 (write dependencies
// only), G1c (write and read dependencies), G-single (exactly one
// anti-dependency), G-nonadjacent (more than one, no two adjacent), G2
// (more than one, two of them adjacent); with "-realtime" when a real-time
// edge closes the cycle.
func classifyCycle(cycle []cycleStep) string {
	var rws int
	var wr, rt, adjacent bool
	for i, s := range cycle {
		switch s.kind {
		case depRW:
			rws++
			adjacent = adjacent || cycle[(i+1)%len(cycle)].kind == depRW
		case depWR:
			wr = true
		case depRT:
			rt = true
		}
	}
	kind := "G0"
	switch {
	case rws > 1 && adjacent:
		kind = "G2"
	case rws > 1:
		kind = "G-nonadjacent"
	case rws == 1:
		kind = "G-single"
	case wr:
		kind = "G1c"
	}
	if rt {
		kind += "-realtime"
	}
	return kind
}

var cycleMeaning = map[string]string{
	"G0":            "A cycle of write dependencies (dirty write)",
	"G1c":           "A cycle of write and read dependencies (circular information flow)",
	"G-single":      "A cycle with exactly one anti-dependency (read skew)",
	"G-nonadjacent": "A cycle with several anti-dependencies, no two adjacent (which snapshot isolation also forbids)",
	"G2":            "A cycle with several anti-dependencies (write skew)",
}

// cycleAnomaly explains a cycle: its shape, then why each edge exists.
func (a *appendAnalysis) cycleAnomaly(kind string, cycle []cycleStep) Anomaly {
	base, realtime := strings.CutSuffix(kind, "-realtime")
	var b strings.Builder
	b.WriteString(cycleMeaning[base])
	if realtime {
		b.WriteString(", closed by real-time order")
	}
	b.WriteString(", so no serial order explains these transactions: ")
	txns := make([]int32, 0, len(cycle))
	for _, s := range cycle {
		fmt.Fprintf(&b, "%s -%s-> ", a.txnName(s.from), depKindName(s.kind))
		txns = append(txns, s.from)
	}
	b.WriteString(a.txnName(cycle[0].from))
	b.WriteString(". ")
	var key string
	for i, s := range cycle {
		why, k := a.explainStep(s)
		if key == "" {
			key = k
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(why)
	}
	b.WriteString(".")
	return Anomaly{Kind: kind, Explanation: b.String(), Ops: a.opsOf(txns...), Key: key}
}

func depKindName(k depKind) string {
	switch k {
	case depWW:
		return "ww"
	case depWR:
		return "wr"
	case depRW:
		return "rw"
	case depRT:
		return "rt"
	}
	return "?"
}

// explainStep finds the evidence for one edge again (the graph keeps only
// its kind) and says it in a sentence; it also returns the key involved.
func (a *appendAnalysis) explainStep(s cycleStep) (string, string) {
	u, v := a.txnName(s.from), a.txnName(s.to)
	switch s.kind {
	case depWW:
		for _, m := range a.txns[s.from].mops {
			if m.read {
				continue
			}
			k := &a.keys[m.key]
			p, ok := k.pos[m.value]
			if !ok {
				continue
			}
			if int(p)+1 < len(k.order) {
				if a.writer(k, k.order[p+1]) == s.to {
					return fmt.Sprintf("%s appended %d to %s, and %s appended %d right after it (ww)",
						u, m.value, k.name, v, k.order[p+1]), k.name
				}
				continue
			}
			if w, ok := a.unobservedAppend(s.to, m.key); ok {
				return fmt.Sprintf("%s appended %d to %s, the last element any read of %s shows, and %s appended %d, which no read shows, so it came later (ww)",
					u, m.value, k.name, k.name, v, w), k.name
			}
		}
	case depWR:
		for _, m := range a.txns[s.to].mops {
			if !m.read || len(m.list) == 0 {
				continue
			}
			k := &a.keys[m.key]
			if last := m.list[len(m.list)-1]; a.writer(k, last) == s.from {
				return fmt.Sprintf("%s appended %d to %s, and %s read %s = %s, which includes it (wr)",
					u, last, k.name, v, k.name, appendList(m.list)), k.name
			}
		}
	case depRW:
		for _, m := range a.txns[s.from].mops {
			if !m.read || m.incompatible {
				continue
			}
			k := &a.keys[m.key]
			if len(m.list) < len(k.order) {
				if next := k.order[len(m.list)]; a.writer(k, next) == s.to {
					return fmt.Sprintf("%s read %s = %s, without %d, which %s appended next (rw)",
						u, k.name, appendList(m.list), next, v), k.name
				}
				continue
			}
			if w, ok := a.unobservedAppend(s.to, m.key); ok {
				return fmt.Sprintf("%s read %s = %s, without %d, which %s appended and no read shows (rw)",
					u, k.name, appendList(m.list), w, v), k.name
			}
		}
	case depRT:
		return fmt.Sprintf("%s completed (index %d) before %s was invoked (index %d) (rt)",
			u, a.events[a.txns[s.from].completeAt].Index, v, a.events[a.txns[s.to].invokeAt].Index), ""
	}
	return fmt.Sprintf("%s -%s-> %s", u, depKindName(s.kind), v), ""
}

// searchNonadjacent returns a cycle of search s (G-nonadjacent) inside
// comp, or nil: an anti-dependency v→w, then a path back from w to v with
// at least one more anti-dependency and no two of them in a row, the last
// edge into v not one either. Like the G-single search it is budgeted.
func (a *appendAnalysis) searchNonadjacent(comp []int32, scope depScope, s cycleSearch) []cycleStep {
	g := a.graph
	budget := cycleBudget
	for _, v := range comp {
		for e := g.off[v]; e < g.off[v+1]; e++ {
			w := g.to[e]
			if !scope.has(w) || g.kind[e]&depRW == 0 {
				continue
			}
			if steps := a.nonadj.path(w, v, scope, s.path, &budget); steps != nil {
				cycle := append([]cycleStep{{v, w, depRW}}, steps...)
				first := 0
				for i, st := range cycle {
					if st.from < cycle[first].from {
						first = i
					}
				}
				return slices.Concat(cycle[first:], cycle[:first])
			}
			if budget <= 0 {
				a.cycleSearchTruncated = true
				return nil
			}
		}
	}
	return nil
}

// nonadjFinder is a breadth-first search over (transaction, whether the
// last edge was an anti-dependency, whether the path has one) states,
// reusing its arrays across searches like pathFinder.
type nonadjFinder struct {
	g       *depGraph
	parent  []int32 // per state: the state it was reached from; -1: not reached
	via     []depKind
	touched []int32
	queue   []int32
}

func newNonadjFinder(g *depGraph) *nonadjFinder {
	n := 4 * g.nodes()
	f := &nonadjFinder{g: g, parent: make([]int32, n), via: make([]depKind, n)}
	for i := range f.parent {
		f.parent[i] = -1
	}
	return f
}

// path returns the steps of a shortest walk src→…→dst that starts with an
// edge of a kind in data (the edge before it was an anti-dependency), takes
// anti-dependencies never twice in a row and at least once, and ends with
// an edge of a kind in data; nil when there is none, the budget ran out, or
// the shortest such walk visits a transaction twice (not a cycle).
func (f *nonadjFinder) path(src, dst int32, scope depScope, data depKind, budget *int) []cycleStep {
	g := f.g
	state := func(v int32, lastRW, hadRW bool) int32 {
		s := 4 * v
		if lastRW {
			s += 2
		}
		if hadRW {
			s++
		}
		return s
	}
	defer func() {
		for _, s := range f.touched {
			f.parent[s] = -1
		}
		f.touched, f.queue = f.touched[:0], f.queue[:0]
	}()
	start, goal := state(src, true, false), state(dst, false, true)
	f.parent[start] = start
	f.touched = append(f.touched, start)
	f.queue = append(f.queue, start)
	visit := func(from, to int32, kind depKind) {
		if f.parent[to] >= 0 {
			return
		}
		f.parent[to], f.via[to] = from, kind
		f.touched = append(f.touched, to)
		f.queue = append(f.queue, to)
	}
	for head := 0; head < len(f.queue); head++ {
		st := f.queue[head]
		if st == goal {
			var steps []cycleStep
			seen := map[int32]bool{dst: true}
			for s := st; s != start; s = f.parent[s] {
				from := f.parent[s] / 4
				if from != src && seen[from] {
					return nil
				}
				seen[from] = true
				steps = append(steps, cycleStep{from, s / 4, f.via[s]})
			}
			slices.Reverse(steps)
			return steps
		}
		if *budget <= 0 {
			return nil
		}
		*budget--
		u, lastRW, hadRW := st/4, st&2 != 0, st&1 != 0
		for e := g.off[u]; e < g.off[u+1]; e++ {
			w := g.to[e]
			if !scope.has(w) {
				continue
			}
			k := g.kind[e]
			if k&data != 0 {
				visit(st, state(w, false, hadRW), pickKind(k&data))
			}
			if k&depRW != 0 && !lastRW && w != dst {
				visit(st, state(w, true, true), depRW)
			}
		}
	}
	return nil
}
