package history

// procTable maps client processes to an int: a slice for the dense
// numbers histories use (0 .. a few thousand: one per client plus one per
// info), a map beyond, so a history naming process 4000000000 costs no
// slice of that size. The zero value is empty; get's ok is false for a
// process never set or deleted.
type procTable struct {
	dense  []int32 // value+1; 0 = absent
	sparse map[Process]int
}

const procDenseMax = 1 << 20

func (t *procTable) get(p Process) (int, bool) {
	if p >= 0 && int(p) < len(t.dense) {
		if v := t.dense[p]; v != 0 {
			return int(v) - 1, true
		}
	}
	if t.sparse == nil {
		return 0, false
	}
	v, ok := t.sparse[p]
	return v, ok
}

func (t *procTable) set(p Process, v int) {
	if p >= 0 && p < procDenseMax && v >= 0 && v < 1<<31-1 {
		if int(p) >= len(t.dense) {
			t.dense = append(t.dense, make([]int32, int(p)+1-len(t.dense)+len(t.dense)/2)...)
		}
		t.dense[p] = int32(v + 1)
		delete(t.sparse, p)
		return
	}
	if p >= 0 && int(p) < len(t.dense) {
		t.dense[p] = 0 // a value too large for the slice
	}
	if t.sparse == nil {
		t.sparse = map[Process]int{}
	}
	t.sparse[p] = v
}

func (t *procTable) del(p Process) {
	if p >= 0 && int(p) < len(t.dense) {
		t.dense[p] = 0
	}
	delete(t.sparse, p)
}
