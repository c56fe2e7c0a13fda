package checker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/dqtest/dqtest/history"
)

// RegisterOptions configures the register checker.
type RegisterOptions struct {
	// TimeBudget bounds the search for a verdict over all keys. When it runs
	// out before every key is decided, the verdict is Unknown with a reason
	// (or Invalid, if a key was already proved non-linearizable): never a
	// guess. Zero means no budget beyond the context's deadline.
	TimeBudget time.Duration
}

// NewRegister returns the linearizability checker for the register workload
// (docs/history.md, "register"): every key is an independent read/write/cas
// register, checked with porcupine, keys in parallel.
//
// How outcomes become porcupine operations, and why:
//   - ok: happened between its invoke and its completion.
//   - fail: certainly did not happen, so it is dropped. (A cas that found
//     another value is a fail: it changed nothing, and a register read that
//     it implies is not recorded, so it constrains nothing.)
//   - info, or no completion at all: may have happened at any time after its
//     invoke, or never; its return time is infinity, and a cas whose
//     expected value does not match simply had no effect. An unknown read
//     is dropped: it changed nothing and returned nothing.
//   - an ok read of null means the key was never written.
//
// For each key porcupine proves non-linearizable, the result carries an
// anomaly naming the key, the first operation that cannot be ordered (with
// the node that served it), the write that set the value it contradicts,
// the faults in force, and porcupine's HTML visualization as the artifact
// "linearizability.html".
func NewRegister(opts RegisterOptions) Checker { return &registerChecker{opts: opts} }

type registerChecker struct{ opts RegisterOptions }

func (*registerChecker) Name() string { return "register" }

// registerMaxExplained bounds how many non-linearizable keys are analysed
// and drawn: each costs a second, verbose porcupine search, and ten keys are
// plenty to see what went wrong.
const registerMaxExplained = 10

// registerExplainBudget is the time the explanation of invalid keys gets,
// even when the verdict used up the time budget: the verdict is known by
// then, the budget bounds the search for it.
const registerExplainBudget = 30 * time.Second

type registerKind uint8

const (
	registerRead registerKind = iota
	registerWrite
	registerCAS
)

// registerInput is a porcupine input: what the operation asked for.
type registerInput struct {
	kind    registerKind
	arg, to int64 // write arg; cas arg -> to
	argNil  bool  // cas expecting "never written"
	unknown bool  // info or open: may not have happened
}

// registerOutput is a porcupine output: what a read returned.
type registerOutput struct {
	v     int64
	isNil bool
}

// registerState is one key's value; set is false until the first write.
type registerState struct {
	v   int64
	set bool
}

func (s registerState) String() string {
	if !s.set {
		return "null (never written)"
	}
	return fmt.Sprint(s.v)
}

func registerStep(s registerState, in registerInput, out registerOutput) (bool, registerState) {
	switch in.kind {
	case registerRead:
		if out.isNil {
			return !s.set, s
		}
		return s.set && s.v == out.v, s
	case registerWrite:
		return true, registerState{v: in.arg, set: true}
	default:
		matches := (in.argNil && !s.set) || (!in.argNil && s.set && s.v == in.arg)
		if matches {
			return true, registerState{v: in.to, set: true}
		}
		return in.unknown, s
	}
}

// registerOp is one operation of one key, as porcupine sees it, with the
// history it came from: op is read back from the history for the keys
// that are explained, nil otherwise.
type registerOp struct {
	op     *history.Operation
	line   int // the invoke's line
	key    string
	pos    int // position in its key's operations
	in     registerInput
	out    registerOutput
	call   int64
	ret    int64 // math.MaxInt64 when the outcome is unknown
	client int   // the process number: the visualization's lane
}

func (o *registerOp) describe() string {
	switch o.in.kind {
	case registerRead:
		if o.out.isNil {
			return "read → null"
		}
		return fmt.Sprintf("read → %d", o.out.v)
	case registerWrite:
		s := fmt.Sprintf("write %d", o.in.arg)
		if o.in.unknown {
			s += " (outcome unknown)"
		}
		return s
	default:
		from := "null"
		if !o.in.argNil {
			from = fmt.Sprint(o.in.arg)
		}
		s := fmt.Sprintf("cas %s → %d", from, o.in.to)
		if o.in.unknown {
			s += " (outcome unknown)"
		}
		return s
	}
}

// registerOpFrom turns an operation (its invoke, and its completion or nil
// when it never completed) into a porcupine operation. keep is false for
// operations that constrain nothing (fail, unknown reads, other f), err is
// set for a malformed value.
func registerOpFrom(inv, comp *history.Event) (o registerOp, keep bool, err error) {
	outcome := history.Info
	if comp != nil {
		outcome = comp.Type
	}
	if outcome == history.Fail {
		return o, false, nil
	}
	o = registerOp{key: inv.Key, call: inv.Time, ret: math.MaxInt64}
	if outcome == history.OK {
		o.ret = comp.Time
	}
	o.in.unknown = outcome != history.OK
	switch inv.F {
	case "read":
		if outcome != history.OK {
			return o, false, nil
		}
		o.in.kind = registerRead
		v := history.Normalize(comp.Value)
		if v == nil {
			o.out.isNil = true
		} else if i, ok := v.(int64); ok {
			o.out.v = i
		} else {
			return o, false, fmt.Errorf("read returned %v: want an integer or null", v)
		}
	case "write":
		o.in.kind = registerWrite
		i, ok := asInt(inv.Value)
		if !ok {
			return o, false, fmt.Errorf("write of %v: want an integer", inv.Value)
		}
		o.in.arg = i
	case "cas":
		o.in.kind = registerCAS
		pair, ok := history.Normalize(inv.Value).([]any)
		if !ok || len(pair) != 2 {
			return o, false, fmt.Errorf("cas of %v: want [old, new]", inv.Value)
		}
		if pair[0] == nil {
			o.in.argNil = true
		} else if o.in.arg, ok = pair[0].(int64); !ok {
			return o, false, fmt.Errorf("cas of %v: want integers", inv.Value)
		}
		if o.in.to, ok = pair[1].(int64); !ok {
			return o, false, fmt.Errorf("cas of %v: want integers", inv.Value)
		}
	default:
		return o, false, nil
	}
	return o, true, nil
}

// registerCompact is a kept operation as the check stores it until the
// keys are checked: 48 bytes, where the events behind it are about 300.
type registerCompact struct {
	call, ret int64
	a, b      int64 // write: a; cas: a -> b; read: a is the value read
	client    int32
	line      int32 // the invoke's line, to read the events back
	kind      registerKind
	flags     uint8
}

const (
	compactKept uint8 = 1 << iota
	compactArgNil
	compactUnknown
	compactNil
)

func compactOf(o *registerOp, line int) registerCompact {
	c := registerCompact{call: o.call, ret: o.ret, a: o.in.arg, b: o.in.to, client: int32(o.client), line: int32(line), kind: o.in.kind, flags: compactKept}
	if o.in.kind == registerRead {
		c.a = o.out.v
	}
	if o.in.argNil {
		c.flags |= compactArgNil
	}
	if o.in.unknown {
		c.flags |= compactUnknown
	}
	if o.out.isNil {
		c.flags |= compactNil
	}
	return c
}

// expand is the key's operations as porcupine's metadata needs them.
func expand(key string, k *registerKey) []registerOp {
	out := make([]registerOp, k.n)
	for i := range out {
		c := k.at(i)
		o := &out[i]
		*o = registerOp{key: key, pos: i, call: c.call, ret: c.ret, client: int(c.client), line: int(c.line)}
		o.in = registerInput{kind: c.kind, argNil: c.flags&compactArgNil != 0, unknown: c.flags&compactUnknown != 0}
		if c.kind == registerRead {
			o.out = registerOutput{v: c.a, isNil: c.flags&compactNil != 0}
		} else {
			o.in.arg, o.in.to = c.a, c.b
		}
	}
	return out
}

// registerModel is porcupine's sequential specification of one key. Step is
// pure (the visualization replays it); StepContext also gives up once stop
// is set, which turns the search's verdict into one the caller discards.
func registerModel(stop *atomic.Bool) porcupine.Model {
	step := func(s, in, out any) (bool, any) {
		return registerStep(s.(registerState), in.(registerInput), out.(registerOutput))
	}
	return porcupine.Model{
		Init: func() any { return registerState{} },
		Step: step,
		StepContext: func(_ context.Context, s, in, out any) (bool, any) {
			if stop.Load() {
				return false, s
			}
			return step(s, in, out)
		},
		Hash: func(s any) uint64 {
			st := s.(registerState)
			if !st.set {
				return 0x9e3779b97f4a7c15
			}
			return uint64(st.v) * 0xbf58476d1ce4e5b9
		},
		Partition: func(ops []porcupine.Operation) [][]porcupine.Operation {
			var out [][]porcupine.Operation
			for i := 0; i < len(ops); {
				j := i + 1
				for j < len(ops) && ops[j].Metadata.(*registerOp).key == ops[i].Metadata.(*registerOp).key {
					j++
				}
				out = append(out, ops[i:j])
				i = j
			}
			return out
		},
		DescribeOperation: func(in, out any) string {
			o := registerOp{in: in.(registerInput), out: out.(registerOutput)}
			return o.describe()
		},
		DescribeState: func(s any) string { return s.(registerState).String() },
		DescribeOperationMetadata: func(m any) string {
			o, ok := m.(*registerOp)
			if !ok {
				return ""
			}
			return fmt.Sprintf("key %s, %s", o.key, opWhere(*o.op))
		},
	}
}

func registerPorcupineOps(ops []registerOp) []porcupine.Operation {
	out := make([]porcupine.Operation, len(ops))
	for i := range ops {
		o := &ops[i]
		out[i] = porcupine.Operation{ClientId: o.client, Input: o.in, Call: o.call, Output: o.out, Return: o.ret, Metadata: o}
	}
	return out
}

func (c *registerChecker) Check(ctx context.Context, events []history.Event) Result {
	return checkStream(ctx, c.Stream(), events)
}

// Stream checks a history read a batch at a time. It keeps each key's
// operations in compact form (registerCompact), the operations still open
// and the nemesis events; it reads the events of the keys it explains
// back from the history when they are found invalid.
func (c *registerChecker) Stream() Stream {
	return &registerStream{c: c, started: time.Now(), open: map[history.Process]registerPending{},
		keys: map[string]*registerKey{}, badKeys: map[string]bool{}, cov: coverage{workload: "register"}}
}

type registerStream struct {
	c       *registerChecker
	started time.Time
	open    map[history.Process]registerPending
	keys    map[string]*registerKey
	// malformed are the operations with malformed values; their keys are
	// not checked.
	malformed               []string
	badKeys                 map[string]bool
	dropped, unknown, total int
	cov                     coverage
	nemesis                 []history.Event
	last                    int64 // the latest time in the history
}

// registerKey is one key's operations in invoke order; a slot is taken at
// the invoke and filled (kept) or not at the completion. The slots are in
// blocks that never move (16, 64, 256, then 1024 slots each), so that a
// growing key leaves no garbage behind.
type registerKey struct {
	blocks [][]registerCompact
	n      int // slots taken
}

const registerBigBlock = 256

// blockOf is the block and offset of slot i.
func blockOf(i int) (int, int) {
	switch {
	case i < 16:
		return 0, i
	case i < 80:
		return 1, i - 16
	case i < 336:
		return 2, i - 80
	}
	return 3 + (i-336)/registerBigBlock, (i - 336) % registerBigBlock
}

// take appends an empty slot and returns its number.
func (k *registerKey) take() int {
	b, off := blockOf(k.n)
	if b == len(k.blocks) {
		size := registerBigBlock
		if b < 3 {
			size = 16 << (2 * b)
		}
		k.blocks = append(k.blocks, make([]registerCompact, size))
	}
	k.blocks[b][off] = registerCompact{}
	k.n++
	return k.n - 1
}

func (k *registerKey) at(i int) *registerCompact {
	b, off := blockOf(i)
	return &k.blocks[b][off]
}

// compact drops the slots of operations that were not kept, in place.
func (k *registerKey) compact() {
	w := 0
	for r := 0; r < k.n; r++ {
		if o := k.at(r); o.flags&compactKept != 0 {
			*k.at(w) = *o
			w++
		}
	}
	k.n = w
	if w == 0 {
		k.blocks = nil
		return
	}
	last, _ := blockOf(w - 1)
	clear(k.blocks[last+1:])
	k.blocks = k.blocks[:last+1]
}

type registerPending struct {
	inv  history.Event
	line int
	key  *registerKey // nil for an f the register does not know
	slot int
}

func (s *registerStream) Observe(batch []history.Event, first int) {
	for i := range batch {
		e := &batch[i]
		s.last = max(s.last, e.Time)
		if !e.IsClient() {
			s.nemesis = append(s.nemesis, *e)
			continue
		}
		if e.Type == history.Invoke {
			if p, ok := s.open[e.Process]; ok {
				s.finish(p, nil) // a second invoke: the first never completed
			}
			p := registerPending{inv: *e, line: first + i}
			switch e.F {
			case "read", "write", "cas":
				k := s.keys[e.Key]
				if k == nil {
					k = &registerKey{}
					s.keys[e.Key] = k
				}
				p.key, p.slot = k, k.take()
			}
			s.open[e.Process] = p
			continue
		}
		p, ok := s.open[e.Process]
		if !ok {
			continue // a completion with no open invoke
		}
		delete(s.open, e.Process)
		s.finish(p, e)
	}
}

// finish settles one operation: comp is its completion, nil when it never
// completed.
func (s *registerStream) finish(p registerPending, comp *history.Event) {
	s.cov.add(p.inv.F, comp)
	o, keep, err := registerOpFrom(&p.inv, comp)
	if err != nil {
		s.badKeys[p.inv.Key] = true
		s.malformed = append(s.malformed, fmt.Sprintf("line with index %d: %v", p.inv.Index, err))
		return
	}
	if !keep {
		if p.key != nil {
			s.dropped++
		}
		return
	}
	s.total++
	if o.in.unknown {
		s.unknown++
	}
	// The visualization's lanes are dqtest's process numbers, as the
	// history, the report and the explanations name them.
	o.client = int(p.inv.Process)
	*p.key.at(p.slot) = compactOf(&o, p.line)
}

func (s *registerStream) Finish(ctx context.Context, src history.Source) (res Result) {
	res = Result{Checker: s.c.Name(), Verdict: Valid, Stats: map[string]any{}}
	open := make([]registerPending, 0, len(s.open))
	for _, p := range s.open {
		open = append(open, p)
	}
	sort.Slice(open, func(i, j int) bool { return open[i].line < open[j].line })
	for _, p := range open {
		s.finish(p, nil)
	}
	s.open = nil
	// No verdict from nothing: a history without an ok register operation,
	// or with operations of another workload, is never Valid.
	defer s.cov.apply(&res)

	keys := make(map[string]*registerKey, len(s.keys))
	for k, rk := range s.keys {
		if s.badKeys[k] {
			continue
		}
		rk.compact()
		if rk.n > 0 {
			keys[k] = rk
		}
	}
	s.keys = nil
	malformed, badKeys := s.malformed, s.badKeys
	total := s.total
	res.Stats["operations"] = total
	res.Stats["dropped"] = s.dropped
	res.Stats["open_ended"] = s.unknown
	res.Stats["keys"] = len(keys) + len(badKeys)

	var reasons []string
	if len(malformed) > 0 {
		sort.Strings(malformed)
		reasons = append(reasons, fmt.Sprintf("%d operation(s) have malformed values, so %d key(s) were not checked: %s",
			len(malformed), len(badKeys), strings.Join(first(malformed, 5), "; ")))
	}
	if total == 0 && len(malformed) == 0 {
		res.Verdict = Unknown
		res.Reason = "the history has no register operations (read, write, cas) that took effect or may have"
		return res
	}

	verdicts, stoppedBy := s.c.checkKeys(ctx, keys)
	var invalid, undecided []string
	for k, v := range verdicts {
		switch v {
		case porcupine.Illegal:
			invalid = append(invalid, k)
		case porcupine.Unknown:
			undecided = append(undecided, k)
		}
	}
	sort.Strings(invalid)
	sort.Strings(undecided)
	res.Stats["keys_invalid"] = len(invalid)
	res.Stats["keys_undecided"] = len(undecided)
	if len(undecided) > 0 {
		reasons = append(reasons, fmt.Sprintf("%s before %d of %d key(s) were decided: %s",
			stoppedBy, len(undecided), len(keys), strings.Join(first(undecided, 10), ", ")))
	}
	if len(reasons) > 0 {
		res.Verdict = Unknown
		res.Reason = strings.Join(reasons, "; ")
	}
	if len(invalid) > 0 {
		res.Verdict = Invalid
		anomalies, html, err := registerExplain(ctx, src, s.nemesis, s.last, keys, invalid)
		if err != nil {
			// The verdict stands; only its explanation could not be read.
			anomalies = append(anomalies, Anomaly{Kind: "nonlinearizable",
				Explanation: "The invalid keys could not be explained: reading the history back failed: " + err.Error()})
		}
		res.Anomalies = anomalies
		if html != nil {
			res.Artifacts = map[string][]byte{"linearizability.html": html}
		}
	}
	res.Stats["duration_ms"] = time.Since(s.started).Milliseconds()
	return res
}

// checkKeys decides every key in parallel, largest first so that the long
// searches start early. stoppedBy says what stopped the search, if anything
// did: the time budget, the context's deadline, or its cancellation.
func (c *registerChecker) checkKeys(ctx context.Context, keys map[string]*registerKey) (map[string]porcupine.CheckResult, string) {
	var cancel context.CancelFunc = func() {}
	budgetCtx := ctx
	if c.opts.TimeBudget > 0 {
		budgetCtx, cancel = context.WithTimeout(ctx, c.opts.TimeBudget)
	}
	defer cancel()
	var stop atomic.Bool
	defer context.AfterFunc(budgetCtx, func() { stop.Store(true) })()
	model := registerModel(&stop)

	order := make([]string, 0, len(keys))
	for k := range keys {
		order = append(order, k)
	}
	sort.Slice(order, func(i, j int) bool {
		if keys[order[i]].n != keys[order[j]].n {
			return keys[order[i]].n > keys[order[j]].n
		}
		return order[i] < order[j]
	})

	verdicts := make(map[string]porcupine.CheckResult, len(keys))
	var mu sync.Mutex
	next := make(chan string)
	var wg sync.WaitGroup
	for w := 0; w < min(runtime.GOMAXPROCS(0), len(order)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range next {
				v := porcupine.Unknown
				if budgetCtx.Err() == nil {
					// porcupine reads a zero timeout as "none".
					var timeout time.Duration
					d, bounded := budgetCtx.Deadline()
					if bounded {
						timeout = time.Until(d)
					}
					if !bounded || timeout > 0 {
						v = porcupine.CheckOperationsTimeout(model, registerPorcupineOps(expand(k, keys[k])), timeout)
					}
					if v == porcupine.Illegal && (stop.Load() || budgetCtx.Err() != nil) {
						// The search may have been cut short: not a proof.
						// (A rare proof completed just before the deadline
						// is lost too: unknown is the safe side.)
						v = porcupine.Unknown
					}
				}
				mu.Lock()
				verdicts[k] = v
				mu.Unlock()
			}
		}()
	}
	for _, k := range order {
		next <- k
	}
	close(next)
	wg.Wait()
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return verdicts, "the check's deadline passed"
	case ctx.Err() != nil:
		return verdicts, "the check was cancelled"
	case budgetCtx.Err() != nil:
		return verdicts, fmt.Sprintf("the time budget of %v ran out", c.opts.TimeBudget)
	}
	return verdicts, ""
}

// registerExplain runs porcupine's verbose search on the first invalid keys
// to find, for each, the longest valid order and the operation that cannot
// follow it, and draws them. The explained keys' operations are read back
// from src, paired as history.Pair pairs them.
func registerExplain(ctx context.Context, src history.Source, nemesis []history.Event, last int64, keys map[string]*registerKey, invalid []string) ([]Anomaly, []byte, error) {
	explained := first(invalid, registerMaxExplained)
	full, err := registerReadBack(src, keys, explained)
	if err != nil {
		return nil, nil, err
	}
	var ops []porcupine.Operation
	for _, k := range explained {
		ops = append(ops, registerPorcupineOps(full[k])...)
	}
	// The verdict is settled; the explanation gets its own time even when
	// the time budget (ctx's deadline) is spent, but stops on cancellation.
	ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), registerExplainBudget)
	defer cancel()
	var stop atomic.Bool
	defer context.AfterFunc(ectx, func() { stop.Store(true) })()
	defer context.AfterFunc(ctx, func() {
		if errors.Is(ctx.Err(), context.Canceled) {
			stop.Store(true)
		}
	})()
	model := registerModel(&stop)
	_, info := porcupine.CheckOperationsVerbose(model, ops, registerExplainBudget)
	partials := info.PartialLinearizationsOperations()

	var anomalies []Anomaly
	faults := newFaultTimeline(nemesis)
	for i, k := range explained {
		var longest []porcupine.Operation
		if i < len(partials) {
			longest = registerLongest(partials[i])
		}
		anomalies = append(anomalies, registerAnomaly(faults, k, full[k], longest))
	}
	for _, k := range invalid[len(explained):] {
		anomalies = append(anomalies, Anomaly{
			Kind: "nonlinearizable", Key: k,
			Explanation: fmt.Sprintf("Key %s: no order of its %d operations is consistent with real time and a register's rules (not analysed further: only the first %d invalid keys are).",
				k, keys[k].n, registerMaxExplained),
		})
	}

	// Drawn even when the explanation ran out of time: the partial orders
	// found so far are valid, and a picture of them still helps.
	info.AddAnnotations(registerFaultBands(nemesis, last))
	var buf bytes.Buffer
	if err := porcupine.Visualize(model, info, &buf); err != nil {
		return anomalies, nil, nil
	}
	return anomalies, buf.Bytes(), nil
}

// registerReadBack replays the history for the operations of the given
// keys: their invokes and completions, paired as history.Pair pairs them
// (a completion closes its process's open invoke), attached to the keys'
// operations by the invoke's line.
func registerReadBack(src history.Source, keys map[string]*registerKey, want []string) (map[string][]registerOp, error) {
	wanted := make(map[string]bool, len(want))
	for _, k := range want {
		wanted[k] = true
	}
	byLine := map[int]*history.Operation{}
	open := map[history.Process]*history.Operation{} // nil: an invoke of another key
	_, _, err := src(func(batch []history.Event, first int) error {
		for i := range batch {
			e := &batch[i]
			if !e.IsClient() {
				continue
			}
			if e.Type == history.Invoke {
				var op *history.Operation
				if wanted[e.Key] {
					op = &history.Operation{Invoke: *e}
					byLine[first+i] = op
				}
				open[e.Process] = op
				continue
			}
			op, ok := open[e.Process]
			if !ok {
				continue
			}
			delete(open, e.Process)
			if op != nil {
				c := *e
				op.Completion = &c
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	full := make(map[string][]registerOp, len(want))
	for _, k := range want {
		ops := expand(k, keys[k])
		for i := range ops {
			op, ok := byLine[ops[i].line]
			if !ok {
				return nil, fmt.Errorf("the operation of key %s invoked at line %d is not in the history read back", k, ops[i].line)
			}
			ops[i].op = op
		}
		full[k] = ops
	}
	return full, nil
}

// registerLongest picks the longest partial linearization; ties go to the
// one that is smallest position by position, so the explanation does not
// depend on map order inside porcupine.
func registerLongest(partials [][]porcupine.Operation) []porcupine.Operation {
	var best []porcupine.Operation
	for _, p := range partials {
		if len(p) > len(best) || (len(p) == len(best) && slices.CompareFunc(p, best, func(a, b porcupine.Operation) int {
			return a.Metadata.(*registerOp).pos - b.Metadata.(*registerOp).pos
		}) < 0) {
			best = p
		}
	}
	return best
}

// registerAnomaly explains one non-linearizable key from the longest valid
// order porcupine found: replay it, find the operation that must come next
// (the earliest-returning one left), and say why it cannot.
func registerAnomaly(faults *faultTimeline, key string, ops []registerOp, longest []porcupine.Operation) Anomaly {
	a := Anomaly{Kind: "nonlinearizable", Key: key}
	placed := make([]bool, len(ops))
	state := registerState{}
	var setter *registerOp
	for _, p := range longest {
		o := p.Metadata.(*registerOp)
		placed[o.pos] = true
		_, next := registerStep(state, o.in, o.out)
		if next != state || o.in.kind == registerWrite {
			setter = o
		}
		state = next
	}
	var stuck *registerOp
	for i := range ops {
		o := &ops[i]
		if placed[i] {
			continue
		}
		if stuck == nil || o.ret < stuck.ret || (o.ret == stuck.ret && o.call < stuck.call) {
			stuck = o
		}
	}
	if stuck == nil {
		a.Explanation = fmt.Sprintf("Key %s: porcupine found no valid order of its %d operations.", key, len(ops))
		return a
	}

	held := "null: it was never written"
	if setter != nil {
		held = fmt.Sprintf("%s, set by the %s of %s", state, setter.describe(), opWhere(*setter.op))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Key %s is not linearizable: no order of its %d operations respects both real time and a register's rules. "+
		"The longest valid order found covers %d of them, and after it the register holds %s. ", key, len(ops), len(longest), held)
	switch stuck.in.kind {
	case registerRead:
		fmt.Fprintf(&b, "The operation that cannot come next is a read by %s that returned %s.", opWhere(*stuck.op), registerValue(stuck.out))
	case registerCAS:
		fmt.Fprintf(&b, "The operation that cannot come next is the %s by %s, which succeeded although the register did not hold its expected value.", stuck.describe(), opWhere(*stuck.op))
	default:
		fmt.Fprintf(&b, "The operation that cannot be ordered is the %s by %s.", stuck.describe(), opWhere(*stuck.op))
	}
	a.Ops = append(a.Ops, opEvents(*stuck.op)...)
	if setter != nil {
		a.Ops = append(a.Ops, opEvents(*setter.op)...)
	}
	if stuck.in.kind == registerRead && !stuck.out.isNil {
		if w := registerWriterOf(ops, stuck); w != nil {
			fmt.Fprintf(&b, " The last write of %d invoked before the read ended is the %s of %s.", stuck.out.v, w.describe(), opWhere(*w.op))
			if w != setter {
				a.Ops = append(a.Ops, opEvents(*w.op)...)
			}
		} else {
			fmt.Fprintf(&b, " No operation ever wrote %d to %s.", stuck.out.v, key)
		}
	}
	if stuck.in.kind == registerRead {
		if w := registerStaleProof(ops, stuck); w != nil {
			if stuck.out.isNil {
				fmt.Fprintf(&b, " That read is stale: the %s of %s was acknowledged before it began, and nothing removes a value.", w.describe(), opWhere(*w.op))
			} else {
				fmt.Fprintf(&b, " That read is stale: every write of %d had been acknowledged before the %s of %s began, and that write was acknowledged before the read began.",
					stuck.out.v, w.describe(), opWhere(*w.op))
			}
			if w != setter {
				a.Ops = append(a.Ops, opEvents(*w.op)...)
			}
		}
	}
	b.WriteString(faults.sentence(stuck.call))
	a.Explanation = b.String()
	a.Ops = inTimeOrder(a.Ops)
	return a
}

// registerStaleProof looks for direct evidence that read is stale: an
// acknowledged write or cas w of another value that completed before the
// read began, and began after every operation that may have written the
// value read had completed (for a read of null: any acknowledged write
// before the read). No order can then put a write of the value read
// between w and the read. It returns the latest such w, or nil.
func registerStaleProof(ops []registerOp, read *registerOp) *registerOp {
	var lastWriterEnd int64 = math.MinInt64
	if !read.out.isNil {
		for i := range ops {
			o := &ops[i]
			if o.call > read.ret || o.in.kind == registerRead || registerWritten(o) != read.out.v {
				continue
			}
			if o.ret == math.MaxInt64 {
				return nil // an unknown write of the value may land any time
			}
			lastWriterEnd = max(lastWriterEnd, o.ret)
		}
	}
	var w *registerOp
	for i := range ops {
		o := &ops[i]
		if o.in.kind == registerRead || o.in.unknown || o.ret >= read.call || o.call <= lastWriterEnd {
			continue
		}
		if !read.out.isNil && registerWritten(o) == read.out.v {
			continue
		}
		if w == nil || o.ret > w.ret {
			w = o
		}
	}
	return w
}

// registerWritten is the value a write or cas puts in the register.
func registerWritten(o *registerOp) int64 {
	if o.in.kind == registerCAS {
		return o.in.to
	}
	return o.in.arg
}

// registerWriterOf finds the write or cas that most likely put read's value
// into the register: the latest one of that value invoked before the read
// completed. (Workloads may write a value more than once.)
func registerWriterOf(ops []registerOp, read *registerOp) *registerOp {
	var w *registerOp
	for i := range ops {
		o := &ops[i]
		if o.call > read.ret {
			continue
		}
		if o.in.kind == registerRead {
			continue
		}
		if registerWritten(o) == read.out.v && (w == nil || o.call > w.call) {
			w = o
		}
	}
	return w
}

func registerValue(out registerOutput) string {
	if out.isNil {
		return "null"
	}
	return fmt.Sprint(out.v)
}

// registerFaultBands marks nemesis faults on the visualization: a band from
// each start-X to its stop-X (or last, the end of the history).
func registerFaultBands(nemesis []history.Event, last int64) []porcupine.Annotation {
	var out []porcupine.Annotation
	open := map[string]history.Event{}
	for _, e := range nemesis {
		if e.IsClient() {
			continue
		}
		if name, ok := strings.CutPrefix(e.F, "start-"); ok {
			open[name] = e
			continue
		}
		name, ok := strings.CutPrefix(e.F, "stop-")
		if s, started := open[name]; ok && started {
			out = append(out, registerBand(name, s, e.Time))
			delete(open, name)
			continue
		}
		out = append(out, porcupine.Annotation{Tag: "nemesis", Start: e.Time, Description: e.F, Details: strings.Join(e.Nodes, ", ")})
	}
	names := make([]string, 0, len(open))
	for name := range open {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		out = append(out, registerBand(name, open[name], last))
	}
	return out
}

func registerBand(name string, start history.Event, end int64) porcupine.Annotation {
	return porcupine.Annotation{
		Tag: "nemesis", Start: start.Time, End: end, Description: name,
		Details: strings.Join(start.Nodes, ", "), BackgroundColor: "#f6d7d7",
	}
}

// first returns at most n leading elements of s.
func first[T any](s []T, n int) []T {
	if len(s) > n {
		return s[:n]
	}
	return s
}
