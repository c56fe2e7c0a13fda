package workloads

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func mustNew(t testing.TB, name string, p Params) Workload {
	t.Helper()
	w, err := New(name, p)
	require.NoError(t, err)
	return w
}

// take returns the next n operations of g (fewer when g runs out).
func take(g Generator, n int) []Op {
	var ops []Op
	for range n {
		op, ok := g.Next()
		if !ok {
			break
		}
		ops = append(ops, op)
	}
	return ops
}

func keyIndex(t testing.TB, key string) int {
	t.Helper()
	require.True(t, strings.HasPrefix(key, "k"), key)
	i, err := strconv.Atoi(key[1:])
	require.NoError(t, err, key)
	return i
}

func TestGeneratorsAreDeterministicPerSeedAndSlot(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			w := mustNew(t, name, Params{})
			a := take(w.Generator(42, 3), 500)
			require.Len(t, a, 500)
			require.Equal(t, a, take(w.Generator(42, 3), 500), "same seed and slot")
			require.NotEqual(t, a, take(w.Generator(43, 3), 500), "another seed")
			require.NotEqual(t, a, take(w.Generator(42, 4), 500), "another slot")
			// A second workload built from the same params generates the same.
			require.Equal(t, a, take(mustNew(t, name, Params{}).Generator(42, 3), 500))
		})
	}
}

func TestGeneratorsOfNegativeSlotsAreEmpty(t *testing.T) {
	for _, name := range Names() {
		_, ok := mustNew(t, name, Params{}).Generator(1, -1).Next()
		require.False(t, ok, name)
	}
}

func TestRegisterGeneratorFollowsTheKeyScheduleAndValueRange(t *testing.T) {
	p := Params{Keys: 3, OpsPerKey: 7, Values: 4}
	w := mustNew(t, "register", p)
	counts := map[string]int{}
	for slot := range 8 {
		for i, op := range take(w.Generator(9, slot), 100) {
			counts[op.F]++
			require.Equal(t, keyName((i/7)*3+slot%3), op.Key, "slot %d op %d", slot, i)
			switch op.F {
			case "read":
				require.Nil(t, op.Value)
			case "write":
				v := op.Value.(int64)
				require.True(t, v >= 0 && v < 4, v)
			case "cas":
				ov := op.Value.([]any)
				require.Len(t, ov, 2)
				for _, v := range ov {
					require.True(t, v.(int64) >= 0 && v.(int64) < 4, v)
				}
			default:
				t.Fatalf("unexpected f %q", op.F)
			}
		}
	}
	// Equal weights: each kind is roughly a third of 800 operations.
	for _, f := range []string{"read", "write", "cas"} {
		require.InDelta(t, 800/3, counts[f], 60, f)
	}
}

func TestRegisterKeysSeeBoundedOpsFromConcurrentSlots(t *testing.T) {
	w := mustNew(t, "register", Params{Keys: 2, OpsPerKey: 10})
	perKey := map[string]map[int]int{} // key → slot → ops
	for slot := range 6 {
		for _, op := range take(w.Generator(1, slot), 95) {
			if perKey[op.Key] == nil {
				perKey[op.Key] = map[int]int{}
			}
			perKey[op.Key][slot]++
		}
	}
	for key, slots := range perKey {
		// Slots 0, 2, 4 share even keys; 1, 3, 5 odd ones.
		require.Len(t, slots, 3, key)
		for slot, n := range slots {
			require.Equal(t, keyIndex(t, key)%2, slot%2, key)
			require.LessOrEqual(t, n, 10, "key %s slot %d", key, slot)
		}
	}
}

func TestRegisterMixWeightZeroNeverPicksThatKind(t *testing.T) {
	w := mustNew(t, "register", Params{Mix: map[string]int{"read": 0, "write": 3, "cas": 0}})
	for _, op := range take(w.Generator(5, 0), 300) {
		require.Equal(t, "write", op.F)
	}
}

func TestBankGeneratorTransfersBetweenDistinctAccountsWithinLimits(t *testing.T) {
	w := mustNew(t, "bank", Params{Accounts: 3, MaxTransfer: 4})
	reads, amounts := 0, map[int64]bool{}
	for _, op := range take(w.Generator(7, 1), 1000) {
		if op.F == "read" {
			require.Nil(t, op.Value)
			reads++
			continue
		}
		require.Equal(t, "transfer", op.F)
		v := op.Value.(map[string]any)
		from, to, amount := v["from"].(int64), v["to"].(int64), v["amount"].(int64)
		require.NotEqual(t, from, to)
		require.True(t, from >= 0 && from < 3 && to >= 0 && to < 3, v)
		require.True(t, amount >= 1 && amount <= 4, v)
		amounts[amount] = true
	}
	require.InDelta(t, 500, reads, 80)
	require.Len(t, amounts, 4, "every amount 1..4 occurs")
}

func TestSetGeneratorAddsValuesUniqueAcrossSlots(t *testing.T) {
	w := mustNew(t, "set", Params{})
	seen := map[int64]int{}
	for slot := range 5 {
		for _, op := range take(w.Generator(2, slot), 400) {
			if op.F == "read" {
				continue
			}
			require.Equal(t, "add", op.F)
			v := op.Value.(int64)
			require.Equal(t, int64(slot), v/slotStride, "slot %d's values carry its number", slot)
			_, dup := seen[v]
			require.False(t, dup, "value %d generated twice", v)
			seen[v] = slot
		}
	}
	require.Greater(t, len(seen), 5*300)
}

func TestAppendGeneratorRespectsTxnLengthKeysAndUniqueValues(t *testing.T) {
	p := Params{Keys: 5, OpsPerKey: 20, TxnLen: 3, KeysPerTxn: 2}
	w := mustNew(t, "append", p)
	lengths := map[int]int{}
	values := map[string]map[int64]bool{}
	for slot := range 4 {
		for i, op := range take(w.Generator(11, slot), 200) {
			require.Equal(t, "txn", op.F)
			txn := op.Value.([]any)
			require.True(t, len(txn) >= 1 && len(txn) <= 3, txn)
			lengths[len(txn)]++
			keys := map[string]bool{}
			for _, m := range txn {
				mop := m.([]any)
				require.Len(t, mop, 3)
				key := mop[1].(string)
				keys[key] = true
				epoch := i / 20
				require.True(t, keyIndex(t, key) >= epoch*5 && keyIndex(t, key) < epoch*5+5, "txn %d key %s outside its epoch", i, key)
				switch mop[0] {
				case "r":
					require.Nil(t, mop[2])
				case "append":
					v := mop[2].(int64)
					if values[key] == nil {
						values[key] = map[int64]bool{}
					}
					require.False(t, values[key][v], "value %d appended twice to %s", v, key)
					values[key][v] = true
				default:
					t.Fatalf("unexpected micro-op %v", mop)
				}
			}
			require.LessOrEqual(t, len(keys), 2, fmt.Sprint(txn))
		}
	}
	require.Len(t, lengths, 3, "lengths 1, 2 and 3 all occur")
}
