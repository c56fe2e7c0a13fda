package checker

import (
	"context"
	"slices"

	"github.com/dqtest/dqtest/history"
)

// depKind is a set of dependency kinds; an edge may carry several (T1 both
// wrote right before T2 and completed before T2 began: ww and rt).
type depKind uint8

const (
	depWW depKind = 1 << iota // write-write: T2 appended right after T1's append
	depWR                     // write-read: T2 read T1's append
	depRW                     // read-write (anti-dependency): T1 read the key without T2's next append
	depRT                     // real time: T1 completed before T2 was invoked

	depAll = depWW | depWR | depRW | depRT
)

// depGraph is the dependency graph in compressed sparse row form: the edges
// leaving node v are to[off[v]:off[v+1]], sorted by target, with their
// kinds in kind. Nodes are transaction ids. Compact arrays rather than maps
// keep a graph of a million edges in a few megabytes and fast to walk.
type depGraph struct {
	off  []int32
	to   []int32
	kind []depKind
}

type depEdge struct {
	from, to int32
	kind     depKind
}

func (g *depGraph) nodes() int { return len(g.off) - 1 }

// edge returns the kinds of the edge u→v (0 when there is none).
func (g *depGraph) edge(u, v int32) depKind {
	out := g.to[g.off[u]:g.off[u+1]]
	if i, ok := slices.BinarySearch(out, v); ok {
		return g.kind[int(g.off[u])+i]
	}
	return 0
}

// newDepGraph builds the graph of n nodes from edges (in any order, with
// repeats), merging the kinds of parallel edges.
func newDepGraph(n int, edges []depEdge) *depGraph {
	// Counting sort by source, then a small sort per node.
	off := make([]int32, n+1)
	for _, e := range edges {
		off[e.from+1]++
	}
	for v := 0; v < n; v++ {
		off[v+1] += off[v]
	}
	sorted := make([]depEdge, len(edges))
	next := slices.Clone(off[:n])
	for _, e := range edges {
		sorted[next[e.from]] = e
		next[e.from]++
	}
	g := &depGraph{off: make([]int32, n+1)}
	g.to = make([]int32, 0, len(edges))
	g.kind = make([]depKind, 0, len(edges))
	for v := 0; v < n; v++ {
		out := sorted[off[v]:off[v+1]]
		slices.SortFunc(out, func(x, y depEdge) int { return int(x.to) - int(y.to) })
		for i, e := range out {
			if i > 0 && out[i-1].to == e.to {
				g.kind[len(g.kind)-1] |= e.kind
				continue
			}
			g.to = append(g.to, e.to)
			g.kind = append(g.kind, e.kind)
		}
		g.off[v+1] = int32(len(g.to))
	}
	return g
}

// buildGraph derives the dependency edges from each key's version order,
// plus real-time edges under strict serializability.
func (a *appendAnalysis) buildGraph(ctx context.Context) error {
	var edges []depEdge
	add := func(from, to int32, kind depKind) {
		if from >= 0 && to >= 0 && from != to {
			edges = append(edges, depEdge{from, to, kind})
		}
	}
	var unobserved []int32
	for id := range a.keys {
		if id%256 == 0 {
			if err := appendStopped(ctx, "building the dependency graph"); err != nil {
				return err
			}
		}
		k := &a.keys[id]
		n := len(k.order)
		for p := 1; p < n; p++ {
			add(a.writer(k, k.order[p-1]), a.writer(k, k.order[p]), depWW)
		}
		// Appends no read shows came after the last element the reads
		// show: were one before it, the longest read would hold it.
		unobserved = a.unobservedWriters(k, unobserved[:0])
		if n > 0 {
			last := a.writer(k, k.order[n-1])
			for _, u := range unobserved {
				add(last, u, depWW)
			}
		}
		for _, r := range k.reads {
			m := a.mop(r)
			if len(m.list) > 0 {
				add(a.writer(k, m.list[len(m.list)-1]), r.txn, depWR)
			}
			if m.incompatible {
				continue
			}
			if len(m.list) < n {
				add(r.txn, a.writer(k, k.order[len(m.list)]), depRW)
				continue
			}
			// A read of the whole observed list lacks every unseen append.
			for _, u := range unobserved {
				add(r.txn, u, depRW)
			}
		}
	}
	if a.strict {
		edges = a.realtimeEdges(edges)
	}
	if err := appendStopped(ctx, "building the dependency graph"); err != nil {
		return err
	}
	a.graph = newDepGraph(len(a.txns), edges)
	return nil
}

// unobservedWriters appends to out the transactions (ok or info, not
// failed) that appended to k a value no read of k shows, each once, and
// counts the ok ones' appends in a.unobserved.
func (a *appendAnalysis) unobservedWriters(k *appendKey, out []int32) []int32 {
	for v, w := range k.writers {
		st := a.txns[w].status
		if st == history.Fail || k.observed(v) {
			continue
		}
		if st == history.OK {
			a.unobserved++
		}
		if !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	slices.Sort(out)
	return out
}

// unobservedAppend returns a value txn t appended to key that no read
// shows.
func (a *appendAnalysis) unobservedAppend(t int32, key int32) (int64, bool) {
	k := &a.keys[key]
	for _, m := range a.txns[t].mops {
		if !m.read && m.key == key && !k.observed(m.value) {
			return m.value, true
		}
	}
	return 0, false
}

// writer returns the transaction that appended v to k, or -1 when none did
// or it failed: a failed transaction never happened, so it has no place in
// the graph (reading its append is G1a, reported by checkReadValues).
func (a *appendAnalysis) writer(k *appendKey, v int64) int32 {
	w, ok := k.writers[v]
	if !ok || a.txns[w].status == history.Fail {
		return -1
	}
	return w
}

// realtimeEdges adds T1→T2 for transactions where T1 completed (ok) before
// T2 was invoked, transitively reduced as Elle does: only from the
// frontier, the completed transactions not yet followed by another
// completed one. That keeps the edges near n × concurrency instead of n².
// Every dropped edge T1→T3 is implied by a path T1→T2→…→T3.
//
// Failed transactions never happened and get no edges. Indeterminate ones
// (info) may have taken effect any time after their invocation, so they get
// edges in but none out.
func (a *appendAnalysis) realtimeEdges(edges []depEdge) []depEdge {
	byPos := make([]int32, len(a.events)) // txn id + 1 at its events, else 0
	for t := range a.txns {
		tx := &a.txns[t]
		if tx.status == history.Fail {
			continue
		}
		byPos[tx.invokeAt] = int32(t) + 1
		if tx.status == history.OK {
			byPos[tx.completeAt] = int32(t) + 1
		}
	}
	// The frontier members when t was invoked are the rt edges into t,
	// edges[firstPred[t]:][:nPreds[t]]; they leave the frontier when t
	// completes, as t now follows them.
	firstPred := make([]int, len(a.txns))
	nPreds := make([]int32, len(a.txns))
	var frontier []int32
	inFrontier := make([]bool, len(a.txns))
	for pos, id := range byPos {
		if id == 0 {
			continue
		}
		t := id - 1
		if pos == a.txns[t].invokeAt {
			firstPred[t], nPreds[t] = len(edges), int32(len(frontier))
			for _, f := range frontier {
				edges = append(edges, depEdge{f, t, depRT})
			}
			continue
		}
		for _, e := range edges[firstPred[t]:][:nPreds[t]] {
			inFrontier[e.from] = false
		}
		frontier = slices.DeleteFunc(frontier, func(f int32) bool { return !inFrontier[f] })
		frontier = append(frontier, t)
		inFrontier[t] = true
	}
	return edges
}

// sccFinder runs Tarjan's algorithm, iteratively (a recursive walk of a
// 100,000-transaction chain would be deep), over a part of a depGraph. Its
// arrays are sized to the graph once and reset only where a run touched
// them, so the many small searches inside components stay cheap.
type sccFinder struct {
	g          *depGraph
	index, low []int32 // 0: not visited yet
	onStack    []bool
	stack      []int32
	frames     []sccFrame
	touched    []int32
	counter    int32
}

type sccFrame struct {
	v    int32
	next int32 // position of the next edge of v to look at
}

func newSCCFinder(g *depGraph) *sccFinder {
	n := g.nodes()
	return &sccFinder{g: g, index: make([]int32, n), low: make([]int32, n), onStack: make([]bool, n)}
}

// depScope is a set of nodes: those whose label is want (all nodes when
// label is nil).
type depScope struct {
	label []int32
	want  int32
}

func (s depScope) has(v int32) bool { return s.label == nil || s.label[v] == s.want }

// components returns the strongly connected components of more than one
// node among nodes (all of them in scope), following edges of a kind in
// mask. A component of one node cannot hold a cycle: the graph has no
// self-loops.
func (f *sccFinder) components(nodes []int32, scope depScope, mask depKind) [][]int32 {
	var comps [][]int32
	g := f.g
	visit := func(v int32) {
		f.counter++
		f.index[v], f.low[v] = f.counter, f.counter
		f.stack = append(f.stack, v)
		f.onStack[v] = true
		f.touched = append(f.touched, v)
		f.frames = append(f.frames, sccFrame{v, g.off[v]})
	}
	for _, root := range nodes {
		if f.index[root] != 0 {
			continue
		}
		visit(root)
		for len(f.frames) > 0 {
			fr := &f.frames[len(f.frames)-1]
			v := fr.v
			if fr.next < g.off[v+1] {
				e := fr.next
				fr.next++
				w := g.to[e]
				if g.kind[e]&mask == 0 || !scope.has(w) {
					continue
				}
				if f.index[w] == 0 {
					visit(w)
				} else if f.onStack[w] {
					f.low[v] = min(f.low[v], f.index[w])
				}
				continue
			}
			f.frames = f.frames[:len(f.frames)-1]
			if len(f.frames) > 0 {
				p := f.frames[len(f.frames)-1].v
				f.low[p] = min(f.low[p], f.low[v])
			}
			if f.low[v] != f.index[v] {
				continue
			}
			i := len(f.stack) - 1
			for f.stack[i] != v {
				i--
			}
			comp := f.stack[i:]
			for _, w := range comp {
				f.onStack[w] = false
			}
			if len(comp) > 1 {
				c := slices.Clone(comp)
				slices.Sort(c)
				comps = append(comps, c)
			}
			f.stack = f.stack[:i]
		}
	}
	for _, v := range f.touched {
		f.index[v], f.low[v] = 0, 0
	}
	f.touched, f.counter = f.touched[:0], 0
	return comps
}

// pathFinder finds shortest paths by breadth-first search, reusing its
// arrays across searches like sccFinder.
type pathFinder struct {
	g       *depGraph
	parent  []int32 // -1: not reached
	touched []int32
	queue   []int32
}

func newPathFinder(g *depGraph) *pathFinder {
	p := &pathFinder{g: g, parent: make([]int32, g.nodes())}
	for i := range p.parent {
		p.parent[i] = -1
	}
	return p
}

// path returns the nodes of a shortest path src→…→dst over edges of a kind
// in mask, within scope, or nil. Each node reached costs one unit of
// *budget; the search gives up (nil) when the budget runs out.
func (p *pathFinder) path(src, dst int32, scope depScope, mask depKind, budget *int) []int32 {
	g := p.g
	defer func() {
		for _, v := range p.touched {
			p.parent[v] = -1
		}
		p.touched, p.queue = p.touched[:0], p.queue[:0]
	}()
	p.parent[src] = src
	p.touched = append(p.touched, src)
	p.queue = append(p.queue, src)
	for head := 0; head < len(p.queue); head++ {
		v := p.queue[head]
		if v == dst {
			var path []int32
			for ; v != src; v = p.parent[v] {
				path = append(path, v)
			}
			path = append(path, src)
			slices.Reverse(path)
			return path
		}
		if *budget <= 0 {
			return nil
		}
		*budget--
		for e := g.off[v]; e < g.off[v+1]; e++ {
			w := g.to[e]
			if g.kind[e]&mask == 0 || p.parent[w] >= 0 || !scope.has(w) {
				continue
			}
			p.parent[w] = v
			p.touched = append(p.touched, w)
			p.queue = append(p.queue, w)
		}
	}
	return nil
}
