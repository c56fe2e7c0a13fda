package matrix

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Shard is one of N parts of a matrix: K in 1..N. The zero Shard is the
// whole matrix.
type Shard struct {
	K int `json:"k"`
	N int `json:"n"`
}

// Whole reports whether s is the whole matrix (no --shard, or 1/1).
func (s Shard) Whole() bool { return s.N <= 1 }

func (s Shard) String() string {
	if s.N == 0 {
		return "1/1"
	}
	return fmt.Sprintf("%d/%d", s.K, s.N)
}

// ParseShard reads --shard's "k/N": 1 <= k <= N.
func ParseShard(v string) (Shard, error) {
	ks, ns, ok := strings.Cut(strings.TrimSpace(v), "/")
	k, kerr := strconv.Atoi(ks)
	n, nerr := strconv.Atoi(ns)
	if !ok || kerr != nil || nerr != nil || n < 1 || k < 1 || k > n {
		return Shard{}, fmt.Errorf("shard %q: want k/N with 1 <= k <= N, e.g. 3/8", v)
	}
	return Shard{K: k, N: n}, nil
}

// Expected cell time, the weights that balance shards (and engines). A
// cell costs its time limit plus a fixed overhead (start-up ~3 s, teardown
// ~1 s, check and report), plus, for the nemeses below, what the first
// full matrix run measured on top (docs/matrix.md): a cell whose cluster
// does not recover after healing waits out the recovery timeout (60 s) and
// the final reads' (30 s), about 155 s instead of 65 for a 60 s cell. The
// table is fixed on purpose: the same flags give the same shards on any
// machine, whatever ran before.
const cellOverhead = 5 * time.Second

// extraByNemesis is the fixed weight table: expected seconds on top of
// time limit + overhead, by nemesis combination name. disk: the former
// leader usually did not recover after its disk was freed (bank, set in
// the first run; a crash in the second); pause+disk: set's did not once;
// the others with disk, kill, stop or member changes recover but take a
// few seconds longer (restarts, elections).
var extraByNemesis = map[string]time.Duration{
	"disk":             90 * time.Second,
	"pause+disk":       45 * time.Second,
	"partition+disk":   15 * time.Second,
	"kill":             3 * time.Second,
	"stop":             3 * time.Second,
	"member":           3 * time.Second,
	"partition+kill":   3 * time.Second,
	"partition+stop":   3 * time.Second,
	"partition+member": 3 * time.Second,
	"packet+stop":      3 * time.Second,
}

// Weight is a cell's expected wall time: its time limit, the fixed
// overhead and its nemesis's entry in the weight table. A combination not
// in the table weighs more for each disk fault it has (a full disk is the
// one fault whose cluster often does not recover).
func Weight(c Cell) time.Duration {
	w := c.sc.TimeLimit + cellOverhead
	if extra, ok := extraByNemesis[c.Nemesis]; ok {
		return w + extra
	}
	for _, f := range strings.Split(c.Nemesis, "+") {
		if f == "disk" {
			w += 45 * time.Second
		}
	}
	return w
}

// Assign splits cells into n parts balanced by weight: the heaviest cell
// first, each to the part with the least expected time so far (ties: the
// lower part), heavier cells before lighter ones and equal weights in
// matrix order. It depends on nothing but the cells and their weights, so
// the same matrix splits the same way on every machine. parts[i] holds
// indexes into cells, in matrix order. Parts may be empty when n exceeds
// the cells.
func Assign(cells []Cell, n int) [][]int {
	if n < 1 {
		n = 1
	}
	order := make([]int, len(cells))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(Weight(cells[b]), Weight(cells[a])) })
	parts := make([][]int, n)
	load := make([]time.Duration, n)
	for _, i := range order {
		best := 0
		for p := 1; p < n; p++ {
			if load[p] < load[best] {
				best = p
			}
		}
		parts[best] = append(parts[best], i)
		load[best] += Weight(cells[i])
	}
	for _, p := range parts {
		slices.Sort(p)
	}
	return parts
}

// ShardCells is the indexes of the cells in shard s (every cell for the
// whole matrix), in matrix order.
func ShardCells(cells []Cell, s Shard) []int {
	if s.Whole() {
		all := make([]int, len(cells))
		for i := range all {
			all[i] = i
		}
		return all
	}
	return Assign(cells, s.N)[s.K-1]
}

// Expected is the expected wall time of the cells at idx, one after
// another.
func Expected(cells []Cell, idx []int) time.Duration {
	var d time.Duration
	for _, i := range idx {
		d += Weight(cells[i])
	}
	return d
}
