package checker

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/dqtest/dqtest/history"
)

// Anomaly kinds of the list-append checker that need no dependency graph.
// The cycle kinds (G0, G1c, G-single, G2 and their -realtime forms) are
// named by classifyCycle.
const (
	appendInternal      = "internal"
	appendDuplicates    = "duplicate-elements"
	appendIncompatible  = "incompatible-order"
	appendAbortedRead   = "G1a"
	appendIntermediate  = "G1b"
	appendUnwrittenRead = "garbage-read"
	appendFutureRead    = "future-read"
	appendLostUpdate    = "lost-update"
	appendDirtyUpdate   = "dirty-update"
)

// checkInternal finds reads that disagree with what the same transaction
// did before them: a read after a read of the same key must return that
// list plus the transaction's own appends since; a read after appends must
// end with them.
func (a *appendAnalysis) checkInternal(ctx context.Context) error {
	type state struct {
		key   int32
		known bool    // list is the whole list (a read happened)
		list  []int64 // the whole list, or only our own appends so far
	}
	var states []state
	for t := range a.txns {
		if t%4096 == 0 {
			if err := appendStopped(ctx, "the internal consistency check"); err != nil {
				return err
			}
		}
		tx := &a.txns[t]
		if tx.status != history.OK {
			continue
		}
		states = states[:0]
		for _, m := range tx.mops {
			i := slices.IndexFunc(states, func(s state) bool { return s.key == m.key })
			if i < 0 {
				states = append(states, state{key: m.key})
				i = len(states) - 1
			}
			s := &states[i]
			if !m.read {
				s.list = append(s.list, m.value)
				continue
			}
			name := a.keys[m.key].name
			switch {
			case s.known && !slices.Equal(m.list, s.list):
				a.report(appendInternal, name, func() string {
					return fmt.Sprintf(
						"%s read %s = %s, but given its own earlier reads and appends of %s in the same transaction it should have read %s.",
						a.txnName(int32(t)), name, appendList(m.list), name, appendList(s.list))
				}, int32(t))
			case !s.known && len(s.list) > 0 && !appendSuffix(m.list, s.list):
				a.report(appendInternal, name, func() string {
					return fmt.Sprintf(
						"%s read %s = %s, which does not end with its own earlier appends %s in the same transaction.",
						a.txnName(int32(t)), name, appendList(m.list), appendList(s.list))
				}, int32(t))
			}
			// Clip so that a later append copies instead of writing into
			// the read's list.
			s.known, s.list = true, slices.Clip(m.list)
		}
		a.checkFutureRead(int32(t))
	}
	return nil
}

// checkFutureRead reports a read that shows a value its own transaction
// appends only later (Elle's future-read): values are unique, so that
// read saw the future. One per transaction, as Elle reports it.
func (a *appendAnalysis) checkFutureRead(t int32) {
	mops := a.txns[t].mops
	for j, r := range mops {
		if !r.read || len(r.list) == 0 {
			continue
		}
		for _, w := range mops[j+1:] {
			if w.read || w.key != r.key || !slices.Contains(r.list, w.value) {
				continue
			}
			name := a.keys[r.key].name
			a.report(appendFutureRead, name, func() string {
				return fmt.Sprintf(
					"%s read %s = %s, which contains %d, a value %s itself appends to %s only later in the same transaction (future read).",
					a.txnName(t), name, appendList(r.list), w.value, a.txnName(t), name)
			}, t)
			return
		}
	}
}

// checkLostUpdates reports ok transactions that read the same list of a key
// and then both appended to it (Elle's lost-update): whatever order they
// ran in, the later one appended without seeing the earlier one's append.
// As in Elle, a transaction counts with its first read of the key, when an
// append to the key follows it.
func (a *appendAnalysis) checkLostUpdates(ctx context.Context) error {
	type group struct {
		key  int32
		n    int
		last int64
	}
	groups := map[group][]mopRef{}
	var reads, wrote []int32 // keys read (first read's mop in readAt) and written, per txn
	var readAt []int32
	for t := range a.txns {
		if t%4096 == 0 {
			if err := appendStopped(ctx, "the lost-update check"); err != nil {
				return err
			}
		}
		tx := &a.txns[t]
		if tx.status != history.OK {
			continue
		}
		reads, readAt, wrote = reads[:0], readAt[:0], wrote[:0]
		for j, m := range tx.mops {
			i := slices.Index(reads, m.key)
			if m.read {
				if i < 0 {
					reads, readAt = append(reads, m.key), append(readAt, int32(j))
				}
				continue
			}
			if i < 0 || slices.Contains(wrote, m.key) {
				continue
			}
			wrote = append(wrote, m.key)
			r := mopRef{int32(t), readAt[i]}
			list := a.mop(r).list
			g := group{key: m.key, n: len(list)}
			if len(list) > 0 {
				g.last = list[len(list)-1]
			}
			groups[g] = append(groups[g], r)
		}
	}
	var found [][]mopRef
	for _, refs := range groups {
		// Lists of one length and last element are almost always equal;
		// split the rest by their contents.
		for len(refs) > 1 {
			same := []mopRef{refs[0]}
			var rest []mopRef
			for _, r := range refs[1:] {
				if slices.Equal(a.mop(r).list, a.mop(refs[0]).list) {
					same = append(same, r)
				} else {
					rest = append(rest, r)
				}
			}
			if len(same) > 1 {
				found = append(found, same)
			}
			refs = rest
		}
	}
	// Report in history order.
	slices.SortFunc(found, func(x, y []mopRef) int { return int(x[0].txn) - int(y[0].txn) })
	for _, refs := range found {
		m := a.mop(refs[0])
		k := &a.keys[m.key]
		txns := make([]int32, len(refs))
		names := make([]string, len(refs))
		var appended []string
		for i, r := range refs {
			txns[i], names[i] = r.txn, a.txnName(r.txn)
			for _, w := range a.txns[r.txn].mops[r.mop:] {
				if !w.read && w.key == m.key {
					appended = append(appended, fmt.Sprintf("%s appended %d", names[i], w.value))
					break
				}
			}
		}
		a.report(appendLostUpdate, k.name, func() string {
			who := strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
			all := "all"
			if len(names) == 2 {
				all = "both"
			}
			return fmt.Sprintf(
				"%s %s read %s = %s and then appended to %s (%s): each appended without seeing the others' appends, so all but one of these updates were made to a state that no longer existed (lost update).",
				who, all, k.name, appendList(m.list), k.name, strings.Join(appended, ", "))
		}, txns...)
	}
	return nil
}

// checkKeys derives each key's version order from its reads and reports
// the anomalies visible key by key: duplicate elements, incompatible
// orders, aborted reads (G1a), reads of values nobody appended, and
// intermediate reads (G1b).
func (a *appendAnalysis) checkKeys(ctx context.Context) error {
	for id := range a.keys {
		if id%256 == 0 {
			if err := appendStopped(ctx, "the per-key checks"); err != nil {
				return err
			}
		}
		k := &a.keys[id]
		a.orderKey(k)
		a.checkReadValues(k)
		a.checkIntermediate(k)
		a.checkDirtyUpdate(k)
	}
	return nil
}

// orderKey sets k.order to the longest read, without repeated elements,
// and marks the reads that are not a prefix of it (incompatible: they add
// no rw edges). Reads that disagree are reported: two reads neither of
// which is a prefix of the other (incompatible-order), and reads that
// hold an element twice (duplicate-elements). The order still gives the
// key's ww edges, as in Elle: the longest read is what the database said.
func (a *appendAnalysis) orderKey(k *appendKey) {
	k.ordered = true
	if len(k.reads) == 0 {
		return
	}
	longest := k.reads[0]
	for _, r := range k.reads[1:] {
		if len(a.mop(r).list) > len(a.mop(longest).list) {
			longest = r
		}
	}
	raw := a.mop(longest).list
	rawHasDup := appendHasDup(raw)
	order := raw
	if rawHasDup {
		order = appendDistinct(raw)
	}
	for _, r := range k.reads {
		m := a.mop(r)
		list := m.list
		prefix := appendPrefix(list, raw)
		if !prefix {
			a.report(appendIncompatible, k.name, func() string {
				return fmt.Sprintf(
					"%s read %s = %s and %s read %s = %s: neither list is a prefix of the other, so no single order of appends to %s explains both reads.",
					a.txnName(r.txn), k.name, appendList(list), a.txnName(longest.txn), k.name, appendList(raw), k.name)
			},
				r.txn, longest.txn)
		}
		if (!prefix || rawHasDup) && appendHasDup(list) {
			a.report(appendDuplicates, k.name, func() string {
				return fmt.Sprintf(
					"%s read %s = %s, which holds the same appended value more than once: each value is appended once.",
					a.txnName(r.txn), k.name, appendList(list))
			}, r.txn)
		}
		if !prefix || (rawHasDup && !appendPrefix(list, order)) {
			m.incompatible = true
			k.ordered = false
		}
	}
	k.order = order
	k.pos = make(map[int64]int32, len(order))
	for i, v := range order {
		k.pos[v] = int32(i)
	}
	if !k.ordered {
		k.seen = map[int64]struct{}{}
		for _, r := range k.reads {
			for _, v := range a.mop(r).list {
				k.seen[v] = struct{}{}
			}
		}
	}
}

// observed says whether some read of k shows v.
func (k *appendKey) observed(v int64) bool {
	if _, ok := k.pos[v]; ok {
		return true
	}
	_, ok := k.seen[v]
	return ok
}

// checkDirtyUpdate reports, walking k's order, an ok append that follows
// a failed one with nothing but failed or indeterminate appends in between
// (Elle's dirty-update): a committed transaction built on a state that
// an aborted one wrote.
func (a *appendAnalysis) checkDirtyUpdate(k *appendKey) {
	var failed int32 = -1 // the failed writer the current run started with
	var run []int64       // the values from its append on
	for _, v := range k.order {
		w, ok := k.writers[v]
		if !ok {
			continue // garbage-read, reported already
		}
		switch a.txns[w].status {
		case history.OK:
			if failed >= 0 {
				values := append(slices.Clip(run), v)
				f := failed
				a.report(appendDirtyUpdate, k.name, func() string {
					return fmt.Sprintf(
						"The order of %s, %s, shows %s's append of %d, though %s failed, and then %s's append of %d: a committed transaction appended on top of an aborted one's write (dirty update).",
						k.name, appendList(values), a.txnName(f), values[0], a.txnName(f), a.txnName(w), v)
				}, f, w)
			}
			failed, run = -1, nil
		case history.Fail:
			if failed < 0 {
				failed, run = w, []int64{v}
				continue
			}
			run = append(run, v)
		default:
			if failed >= 0 {
				run = append(run, v)
			}
		}
	}
}

// checkReadValues reports reads that contain a value appended by a failed
// transaction (G1a) or by no transaction at all.
func (a *appendAnalysis) checkReadValues(k *appendKey) {
	// With a version order, only its values need looking up: every read is
	// a prefix of it. Without one, each read is scanned.
	var bad []int // positions of bad values in the version order
	if k.ordered {
		for p, v := range k.order {
			if w, ok := k.writers[v]; !ok || a.txns[w].status == history.Fail {
				bad = append(bad, p)
			}
		}
		if len(bad) == 0 {
			return
		}
	}
	for _, r := range k.reads {
		list := a.mop(r).list
		if k.ordered {
			for _, p := range bad {
				if p >= len(list) {
					break
				}
				a.reportBadValue(k, r, list[p])
			}
			continue
		}
		for _, v := range list {
			if w, ok := k.writers[v]; !ok || a.txns[w].status == history.Fail {
				a.reportBadValue(k, r, v)
			}
		}
	}
}

func (a *appendAnalysis) reportBadValue(k *appendKey, r mopRef, v int64) {
	list := a.mop(r).list
	w, ok := k.writers[v]
	if !ok {
		a.report(appendUnwrittenRead, k.name, func() string {
			return fmt.Sprintf(
				"%s read %s = %s, which contains %d, a value no transaction appended to %s.",
				a.txnName(r.txn), k.name, appendList(list), v, k.name)
		}, r.txn)
		return
	}
	a.report(appendAbortedRead, k.name, func() string {
		return fmt.Sprintf(
			"%s read %s = %s, which contains %d, appended by %s; but %s failed, so its append never happened (aborted read).",
			a.txnName(r.txn), k.name, appendList(list), v, a.txnName(w), a.txnName(w))
	}, r.txn, w)
}

// checkIntermediate reports reads that end in the middle of another
// transaction's appends to the key: the reader saw that transaction
// half-done (G1b). A transaction reading its own half-done appends is
// fine, and one whose writer failed is G1a already.
func (a *appendAnalysis) checkIntermediate(k *appendKey) {
	for _, r := range k.reads {
		list := a.mop(r).list
		if len(list) == 0 {
			continue
		}
		last := list[len(list)-1]
		w, ok := k.writers[last]
		if !ok || w == r.txn || a.txns[w].status == history.Fail {
			continue
		}
		key := a.mop(r).key
		var later []int64
		seen := false
		for _, m := range a.txns[w].mops {
			if m.read || m.key != key {
				continue
			}
			if seen {
				later = append(later, m.value)
			}
			seen = seen || m.value == last
		}
		if len(later) > 0 {
			a.report(appendIntermediate, k.name, func() string {
				return fmt.Sprintf(
					"%s read %s = %s, ending in %d, which %s appended before also appending %s to %s: %s saw %s half-done (intermediate read).",
					a.txnName(r.txn), k.name, appendList(list), last, a.txnName(w), appendList(later), k.name,
					a.txnName(r.txn), a.txnName(w))
			}, r.txn, w)
		}
	}
}

// txnName names a transaction by the history index of its invocation.
func (a *appendAnalysis) txnName(t int32) string {
	return fmt.Sprintf("T%d", a.events[a.txns[t].invokeAt].Index)
}

// appendList renders a read list; a long one keeps its ends, where
// anomalies show.
func appendList(l []int64) string {
	const ends = 4
	var parts []string
	for i, v := range l {
		if len(l) > 2*ends+1 && i >= ends && i < len(l)-ends {
			if i == ends {
				parts = append(parts, fmt.Sprintf("…(%d more)…", len(l)-2*ends))
			}
			continue
		}
		parts = append(parts, strconv.FormatInt(v, 10))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func appendPrefix(p, l []int64) bool { return len(p) <= len(l) && slices.Equal(p, l[:len(p)]) }

func appendSuffix(l, s []int64) bool { return len(s) <= len(l) && slices.Equal(s, l[len(l)-len(s):]) }

// appendDistinct returns l without repeated elements, each where it first
// appears.
func appendDistinct(l []int64) []int64 {
	seen := make(map[int64]struct{}, len(l))
	out := make([]int64, 0, len(l))
	for _, v := range l {
		if _, dup := seen[v]; !dup {
			seen[v] = struct{}{}
			out = append(out, v)
		}
	}
	return out
}

func appendHasDup(l []int64) bool {
	seen := make(map[int64]struct{}, len(l))
	for _, v := range l {
		if _, dup := seen[v]; dup {
			return true
		}
		seen[v] = struct{}{}
	}
	return false
}
