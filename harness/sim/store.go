package sim

import "slices"

// store is one node's copy of the database, at the level of the workloads'
// operations rather than SQL: the register table, the append lists, the set
// table and the bank's accounts. Every node applies the same committed log
// entries in the same order, so the stores of nodes that applied the same
// prefix are equal.
type store struct {
	regs     map[string]int64
	lists    map[string][]int64
	set      []int64 // sorted; duplicates kept (the set table has no UNIQUE)
	balances []int64
	// appends are the append table's rows in id order (row i has id i+1,
	// as SQLite's INTEGER PRIMARY KEY gives a table never deleted from),
	// for the replica's state (state.go); reads use lists.
	appends []appendRow
}

type appendRow struct {
	key string
	v   int64
}

// effectKind is what one write did to the database. Effects carry final
// values, not commands (as dqlite replicates pages, not statements), so
// applying an entry needs no decisions.
type effectKind uint8

const (
	putReg     effectKind = iota // registers[key] = v
	appendList                   // lists[key] += v
	addSet                       // set += v
	putBalance                   // balances[acct] = v
)

type effect struct {
	kind effectKind
	key  string
	acct int
	v    int64
}

func newStore(balances []int64) *store {
	return &store{
		regs:     map[string]int64{},
		lists:    map[string][]int64{},
		balances: slices.Clone(balances),
	}
}

func (s *store) apply(effects []effect) {
	for _, e := range effects {
		switch e.kind {
		case putReg:
			s.regs[e.key] = e.v
		case appendList:
			// Appending to a slice a reader may hold is safe: readers get
			// copies (see view), never the store's own slice.
			s.lists[e.key] = append(s.lists[e.key], e.v)
			s.appends = append(s.appends, appendRow{e.key, e.v})
		case addSet:
			i, _ := slices.BinarySearch(s.set, e.v)
			for i < len(s.set) && s.set[i] == e.v {
				i++ // after equal values: a duplicate lands next to its twin
			}
			s.set = slices.Insert(s.set, i, e.v)
		case putBalance:
			if e.acct >= 0 && e.acct < len(s.balances) {
				s.balances[e.acct] = e.v
			}
		}
	}
}

// changesAfter reports whether applying effects would change s once the
// effects before were applied (a register or balance written with the value
// it holds changes nothing; an added row always changes the table).
func (s *store) changesAfter(before, effects []effect) bool {
	v := view{s: s, overlays: [][]effect{before}}
	for _, e := range effects {
		switch e.kind {
		case putReg:
			if x, ok := v.reg(e.key); !ok || x != e.v {
				return true
			}
		case appendList, addSet:
			return true
		case putBalance:
			if e.acct >= 0 && e.acct < len(s.balances) && v.balance(e.acct) != e.v {
				return true
			}
		}
	}
	return false
}

// view reads a store through overlays: effects not yet in the store (a
// transaction's own writes, or, with the dirty-read bug, other transactions'
// uncommitted writes), oldest first. With no overlays it reads the store.
type view struct {
	s        *store
	overlays [][]effect
}

func (v view) reg(key string) (int64, bool) {
	for i := len(v.overlays) - 1; i >= 0; i-- {
		ov := v.overlays[i]
		for j := len(ov) - 1; j >= 0; j-- {
			if ov[j].kind == putReg && ov[j].key == key {
				return ov[j].v, true
			}
		}
	}
	x, ok := v.s.regs[key]
	return x, ok
}

func (v view) list(key string) []any {
	base := v.s.lists[key]
	out := make([]any, 0, len(base)+1)
	for _, x := range base {
		out = append(out, x)
	}
	for _, ov := range v.overlays {
		for _, e := range ov {
			if e.kind == appendList && e.key == key {
				out = append(out, e.v)
			}
		}
	}
	return out
}

func (v view) setMembers() []any {
	members := v.s.set
	if len(v.overlays) > 0 {
		members = slices.Clone(members)
		for _, ov := range v.overlays {
			for _, e := range ov {
				if e.kind == addSet {
					members = append(members, e.v)
				}
			}
		}
		slices.Sort(members)
	}
	out := make([]any, len(members))
	for i, x := range members {
		out[i] = x
	}
	return out
}

func (v view) balance(acct int) int64 {
	for i := len(v.overlays) - 1; i >= 0; i-- {
		ov := v.overlays[i]
		for j := len(ov) - 1; j >= 0; j-- {
			if ov[j].kind == putBalance && ov[j].acct == acct {
				return ov[j].v
			}
		}
	}
	if acct < 0 || acct >= len(v.s.balances) {
		return 0
	}
	return v.s.balances[acct]
}
