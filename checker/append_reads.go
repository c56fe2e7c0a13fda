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
	}
	return nil
}

// orderKey sets k.order to the longest read when every read is a prefix of
// it and it has no duplicates. Otherwise the key has no single version
// order, which is reported, and the key adds no edges to the graph: any
// order chosen would be a guess.
func (a *appendAnalysis) orderKey(k *appendKey) {
	if len(k.reads) == 0 {
		k.ordered = true
		return
	}
	longest := k.reads[0]
	for _, r := range k.reads[1:] {
		if len(a.mop(r).list) > len(a.mop(longest).list) {
			longest = r
		}
	}
	order := a.mop(longest).list
	orderHasDup := appendHasDup(order)
	k.ordered = !orderHasDup
	for _, r := range k.reads {
		list := a.mop(r).list
		prefix := appendPrefix(list, order)
		if !prefix {
			k.ordered = false
			a.report(appendIncompatible, k.name, func() string {
				return fmt.Sprintf(
					"%s read %s = %s and %s read %s = %s: neither list is a prefix of the other, so no single order of appends to %s explains both reads.",
					a.txnName(r.txn), k.name, appendList(list), a.txnName(longest.txn), k.name, appendList(order), k.name)
			},
				r.txn, longest.txn)
		}
		if (!prefix || orderHasDup) && appendHasDup(list) {
			a.report(appendDuplicates, k.name, func() string {
				return fmt.Sprintf(
					"%s read %s = %s, which holds the same appended value more than once: each value is appended once.",
					a.txnName(r.txn), k.name, appendList(list))
			}, r.txn)
		}
	}
	if k.ordered {
		k.order = order
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
