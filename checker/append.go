package checker

import (
	"context"
	"fmt"

	"github.com/dqtest/dqtest/history"
)

// AppendOptions configures the list-append checker.
type AppendOptions struct {
	// Consistency is the model the history must satisfy:
	// "strict-serializable" (the default: dqlite runs every transaction on
	// one leader, so it should also respect real time) or "serializable".
	// Strict serializability adds real-time edges (T1 completed before T2
	// was invoked) to the dependency graph.
	Consistency string
	// MaxCycles caps how many dependency cycles are explained (default 10).
	// Any cycle makes the history invalid; more examples of the same fault
	// rarely help a person, and finding each one costs a graph search.
	MaxCycles int
	// MaxPerKind caps how many anomalies of each other kind are explained
	// (default 10). All of them are counted in Stats["anomaly_counts"].
	MaxPerKind int
}

// The consistency models the list-append checker knows.
const (
	// StrictSerializable: serializable, and a transaction that completed
	// before another was invoked comes first in the serial order. The
	// default: dqlite runs every transaction on one leader.
	StrictSerializable = "strict-serializable"
	// Serializable: some serial order of the ok transactions explains every
	// read, whatever the real-time order.
	Serializable = "serializable"
)

// ConsistencyModels lists the models AppendOptions.Consistency accepts, the
// default first.
func ConsistencyModels() []string { return []string{StrictSerializable, Serializable} }

// ValidateConsistency returns nil when model is one the list-append checker
// knows ("" means the default, strict-serializable), and otherwise an error
// that names it and the known models, for a command line or scenario file
// to show.
func ValidateConsistency(model string) error {
	switch model {
	case "", StrictSerializable, Serializable:
		return nil
	}
	return fmt.Errorf("unknown consistency model %q: want %s or %s", model, StrictSerializable, Serializable)
}

// NewAppend returns the checker of list-append histories (Elle's
// list-append analysis): transactions of [append k v] and [r k] micro-ops
// over lists, where every appended value is unique per key.
//
// Because values are unique and appends only add to the end, every read
// reveals the order of all appends before it. The longest read of a key
// (without repeated elements) is therefore that key's version order, and
// from it follow the dependencies between transactions: ww (T1's append
// came right before T2's), wr (T2 read T1's append) and rw (T1 read the key
// without T2's next append). An append no read shows came after every
// element the reads show (it would be in the longest read otherwise): it
// follows the writer of the last one (ww) and every read of the whole
// observed list (rw). So an acknowledged append that a later read lacks is
// a real-time cycle, and a lost one a cycle wherever one follows. A cycle in
// those dependencies means no serial order explains the history.
//
// Anomaly kinds: "internal" (a read disagrees with the transaction's own
// earlier micro-ops), "future-read" (a read shows a value its own
// transaction appends only later), "duplicate-elements",
// "incompatible-order" (two reads of a key, neither a prefix of the
// other), "G1a" (a read sees a failed transaction's append),
// "garbage-read" (a read sees a value nobody appended), "G1b" (a read ends
// in the middle of another transaction's appends), "dirty-update" (an ok
// append came right after a failed one in a key's order), "lost-update"
// (two ok transactions read the same list of a key, then both appended to
// it), and the cycles "G0", "G1c", "G-single", "G-nonadjacent", "G2", with a
// "-realtime" suffix when a real-time edge closes the cycle. Elle calls the
// last three "G-single-item", "G-nonadjacent-item" and "G2-item": a
// list-append history has no predicates, so every cycle is item-level.
//
// A failed transaction never happened; an indeterminate one (info) counts
// only through the appends that reads show, and its unseen appends get
// edges in but none out, so they never close a cycle. A key whose reads
// disagree (duplicates, incompatible orders) keeps the longest read as its
// order, and the reads that disagree with it add only their wr edge: the
// edges a key can prove still take part in cycles.
//
// A history with no ok txn, or with client operations other than txn, is
// never Valid: see KnownFs.
func NewAppend(opts AppendOptions) Checker {
	if opts.Consistency == "" {
		opts.Consistency = StrictSerializable
	}
	if opts.MaxCycles <= 0 {
		opts.MaxCycles = 10
	}
	if opts.MaxPerKind <= 0 {
		opts.MaxPerKind = 10
	}
	return appendChecker{opts: opts}
}

type appendChecker struct{ opts AppendOptions }

func (appendChecker) Name() string { return "append" }

// Check analyses the txn operations of events. Nemesis events are
// ignored; client operations of another f are counted, and a verdict that
// would be Valid is then Unknown (see coverage.apply), as it is when no txn
// completed ok or the ok ones' dependency graph has no edge: no verdict
// from nothing. A malformed history (a transaction that is not a list of micro-ops, an
// appended value used twice, a completion without an invocation) gives
// Unknown with the offending event in Reason: the checker cannot judge
// what it cannot read.
func (c appendChecker) Check(ctx context.Context, events []history.Event) Result {
	res := Result{Checker: c.Name()}
	if err := ValidateConsistency(c.opts.Consistency); err != nil {
		res.Verdict = Unknown
		res.Reason = err.Error()
		res.Stats = map[string]any{"consistency": c.opts.Consistency}
		return res
	}
	strict := c.opts.Consistency == StrictSerializable
	a := &appendAnalysis{opts: c.opts, strict: strict, events: events, counts: map[string]int{}}
	if err := a.run(ctx); err != nil {
		res.Verdict = Unknown
		res.Reason = err.Error()
		res.Anomalies = a.anomalies
		res.Stats = a.stats()
		return res
	}
	res.Anomalies = a.anomalies
	res.Stats = a.stats()
	res.Verdict = Valid
	if len(a.counts) > 0 {
		res.Verdict = Invalid
	}
	cov := a.coverage()
	cov.apply(&res)
	if res.Verdict == Valid && cov.ok > 0 && len(a.graph.to) == 0 {
		// As Elle's empty-transaction-graph: no transaction read another's
		// append or followed another in real time, so nothing about their
		// isolation was tested.
		res.Verdict = Unknown
		res.Reason = fmt.Sprintf("nothing to check: the dependency graph of the %d ok transaction(s) has no edge (no read shows another transaction's append or lacks a later one%s)",
			cov.ok, map[bool]string{true: ", and none followed another in real time", false: ""}[a.strict])
	}
	return res
}

// coverage says how many txns completed ok, and which other client
// operations the history holds.
func (a *appendAnalysis) coverage() coverage {
	c := coverage{workload: "append", unknown: a.unknownF}
	for i := range a.txns {
		switch a.txns[i].status {
		case history.OK:
			c.ok++
		case history.Fail:
			c.fail++
		default:
			c.info++
		}
	}
	return c
}

// appendAnalysis is the state of one Check.
type appendAnalysis struct {
	opts   AppendOptions
	strict bool
	events []history.Event

	txns []appendTxn
	keys []appendKey
	// keyIDs maps a key's name to its index in keys.
	keyIDs map[string]int32
	// ignored counts client events that are not txn operations.
	ignored int
	// unknownF counts the invocations of each f other than txn.
	unknownF map[string]int
	// unobserved counts the ok appends that no read shows.
	unobserved int

	graph  *depGraph
	nonadj *nonadjFinder
	sccs   int
	// largestSCC is the size of the largest strongly connected component.
	largestSCC int
	// cycleSearchTruncated is set when a cycle search gave up on its budget.
	cycleSearchTruncated bool

	anomalies []Anomaly
	// counts is the number of anomalies found per kind, explained or not.
	counts map[string]int
}

// run performs the analysis, phase by phase; it returns an error only when
// the verdict must be unknown (malformed history, ctx done).
func (a *appendAnalysis) run(ctx context.Context) error {
	if err := a.parse(ctx); err != nil {
		return err
	}
	if err := a.checkInternal(ctx); err != nil {
		return err
	}
	if err := a.checkKeys(ctx); err != nil {
		return err
	}
	if err := a.checkLostUpdates(ctx); err != nil {
		return err
	}
	if err := a.buildGraph(ctx); err != nil {
		return err
	}
	return a.findCycles(ctx)
}

// report records an anomaly of kind, explaining at most MaxPerKind of each
// kind (cycles are capped separately by findCycles). The explanation is
// written only for those: a broken database can produce millions.
func (a *appendAnalysis) report(kind, key string, explain func() string, txns ...int32) {
	a.counts[kind]++
	if a.counts[kind] > a.opts.MaxPerKind {
		return
	}
	a.anomalies = append(a.anomalies, Anomaly{Kind: kind, Key: key, Explanation: explain(), Ops: a.opsOf(txns...)})
}

// opsOf returns the history events (invocation, completion) of txns.
func (a *appendAnalysis) opsOf(txns ...int32) []history.Event {
	var ops []history.Event
	seen := map[int32]bool{}
	for _, t := range txns {
		if seen[t] {
			continue
		}
		seen[t] = true
		tx := &a.txns[t]
		ops = append(ops, a.events[tx.invokeAt])
		if tx.completeAt >= 0 {
			ops = append(ops, a.events[tx.completeAt])
		}
	}
	return ops
}

func (a *appendAnalysis) stats() map[string]any {
	var ok, info, fail int
	for i := range a.txns {
		switch a.txns[i].status {
		case history.OK:
			ok++
		case history.Info:
			info++
		case history.Fail:
			fail++
		}
	}
	s := map[string]any{
		"txns": len(a.txns), "ok": ok, "info": info, "fail": fail,
		"keys": len(a.keys), "consistency": a.opts.Consistency,
	}
	if a.ignored > 0 {
		s["ignored_events"] = a.ignored
	}
	if a.unobserved > 0 {
		s["unobserved_appends"] = a.unobserved
	}
	if a.graph != nil {
		s["edges"] = len(a.graph.to)
		s["sccs"] = a.sccs
		s["largest_scc"] = a.largestSCC
	}
	if a.cycleSearchTruncated {
		s["cycle_search_truncated"] = true
	}
	if len(a.counts) > 0 {
		counts := map[string]int{}
		for k, v := range a.counts {
			counts[k] = v
		}
		s["anomaly_counts"] = counts
	}
	return s
}

// appendStopped turns a done context into the reason for an unknown verdict.
func appendStopped(ctx context.Context, phase string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list-append check stopped during %s: %w", phase, err)
	}
	return nil
}
