package workloads

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
)

// mix picks an operation kind with probability proportional to its weight.
// Kinds are kept sorted so the same seed picks the same kinds whatever order
// a map iterates in.
type mix struct {
	kinds   []string
	weights []int
	total   int
}

// newMix checks given against the kinds the workload knows (the keys of
// known) and returns it as a mix.
func newMix(known, given map[string]int) (mix, error) {
	var m mix
	for k := range given {
		m.kinds = append(m.kinds, k)
	}
	sort.Strings(m.kinds)
	for _, k := range m.kinds {
		if _, ok := known[k]; !ok {
			return mix{}, fmt.Errorf("mix: unknown operation %q (known: %s)", k, strings.Join(sortedKeys(known), ", "))
		}
		w := given[k]
		if w < 0 {
			return mix{}, fmt.Errorf("mix: weight of %s must be 0 or more, got %d", k, w)
		}
		m.weights = append(m.weights, w)
		m.total += w
	}
	if m.total == 0 {
		return mix{}, fmt.Errorf("mix: at least one weight must be positive")
	}
	return m, nil
}

func (m mix) pick(r *rand.Rand) string {
	n := r.IntN(m.total)
	for i, w := range m.weights {
		if n < w {
			return m.kinds[i]
		}
		n -= w
	}
	return m.kinds[len(m.kinds)-1] // unreachable: n < total
}

func sortedKeys(m map[string]int) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// genFunc adapts a closure to Generator.
type genFunc func() (Op, bool)

func (g genFunc) Next() (Op, bool) { return g() }

// exhausted is the generator of a slot that has no operations.
var exhausted = genFunc(func() (Op, bool) { return Op{}, false })

// newRand returns the random source of one client slot. Seed and slot are
// scrambled (splitmix64) before seeding PCG so that neighbouring slots get
// unrelated streams rather than shifted copies of one another.
func newRand(seed int64, slot int) *rand.Rand {
	return rand.New(rand.NewPCG(splitmix(uint64(seed)), splitmix(uint64(slot)^0x9e3779b97f4a7c15)))
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// slotStride separates the values different slots write where values must
// be unique (set elements, appended values): slot s writes s*slotStride + n
// for its n-th value, so values are unique without coordination and a person
// reading a history can tell which slot wrote one. A slot stops after
// slotStride values rather than collide with the next slot.
const slotStride = 1_000_000_000

// maxSlot is the largest slot whose values fit in an int64.
const maxSlot = (1<<63 - 1) / slotStride

// uniqueValues returns the counter of slot's unique values, or nil when the
// slot is out of range.
func uniqueValues(slot int) func() (int64, bool) {
	if slot < 0 || slot >= maxSlot {
		return nil
	}
	n := int64(0)
	return func() (int64, bool) {
		if n >= slotStride {
			return 0, false
		}
		v := int64(slot)*slotStride + n
		n++
		return v, true
	}
}

// keyName is the name of key index i: "k0", "k1", ...
func keyName(i int) string { return fmt.Sprintf("k%d", i) }
