package checker

import (
	"context"
	"fmt"
	"math/rand"
	"strconv"
	"testing"

	"github.com/dqtest/dqtest/history"
)

// bankHistory is a correct bank history: ops operations by 10 clients, half
// transfers between 10 accounts, half reads of every balance, applied one at
// a time to a model of the bank.
func bankHistory(seed int64, ops int) []history.Event {
	rng := rand.New(rand.NewSource(seed))
	const accounts = 10
	bal := make([]int64, accounts)
	for i := range bal {
		bal[i] = 100
	}
	events := make([]history.Event, 0, 2*ops)
	for i := 0; i < ops; i++ {
		p := history.Process(i % 10)
		t := int64(len(events)) * 10
		inv := history.Event{Index: int64(len(events)), Time: t, Process: p, Type: history.Invoke}
		var done history.Event
		if rng.Intn(2) == 0 {
			from, to := rng.Intn(accounts), rng.Intn(accounts)
			amount := rng.Int63n(bal[from] + 1)
			bal[from] -= amount
			bal[to] += amount
			inv.F, inv.Value = "transfer", map[string]any{"from": int64(from), "to": int64(to), "amount": amount}
			done = inv
		} else {
			inv.F = "read"
			done = inv
			read := make(map[string]any, accounts)
			for a, b := range bal {
				read[strconv.Itoa(a)] = b
			}
			done.Value = read
		}
		done.Index, done.Time, done.Type = inv.Index+1, t+5, history.OK
		events = append(events, inv, done)
	}
	return events
}

// setHistory is a correct set history: adds acknowledged ones (1% info, 1%
// failed, none of those applied), then a final read through each of 3 nodes.
func setHistory(seed int64, adds int) []history.Event {
	rng := rand.New(rand.NewSource(seed))
	var events []history.Event
	var present []any
	emit := func(p history.Process, typ history.Type, f string, v any, node string) {
		n := int64(len(events))
		events = append(events, history.Event{Index: n, Time: 10 * n, Process: p, Type: typ, F: f, Value: v, Node: node})
	}
	proc := history.Process(0)
	for i := 0; i < adds; i++ {
		v := int64(i)
		emit(proc, history.Invoke, "add", v, "")
		switch r := rng.Float64(); {
		case r < 0.01:
			emit(proc, history.Info, "add", v, "n1")
			proc++
		case r < 0.02:
			emit(proc, history.Fail, "add", v, "n1")
		default:
			emit(proc, history.OK, "add", v, "n1")
			present = append(present, v)
		}
	}
	for _, node := range []string{"n1", "n2", "n3"} {
		emit(proc, history.Invoke, "final-read", nil, node)
		emit(proc, history.OK, "final-read", present, node)
	}
	return events
}

func BenchmarkBank(b *testing.B) {
	for _, ops := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("ops=%d", ops), func(b *testing.B) {
			events := benchHistory(fmt.Sprintf("bank-%d", ops), func() []history.Event { return bankHistory(1, ops) })
			benchCheck(b, NewBank(BankOptions{Accounts: 10, Total: 1000}), events, ops)
		})
	}
}

func BenchmarkSet(b *testing.B) {
	for _, adds := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("adds=%d", adds), func(b *testing.B) {
			events := benchHistory(fmt.Sprintf("set-%d", adds), func() []history.Event { return setHistory(1, adds) })
			benchCheck(b, NewSet(), events, adds)
		})
	}
}

// The benchmark generators must produce histories the checkers accept, and
// histories they reject once broken: otherwise the figures time nothing.
func TestBenchmarkHistoriesAreValidAndBreakable(t *testing.T) {
	bank := bankHistory(2, 2000)
	if r := NewBank(BankOptions{Accounts: 10, Total: 1000}).Check(context.Background(), bank); r.Verdict != Valid {
		t.Fatalf("bank: %s %v", r.Verdict, r.Anomalies)
	}
	for i := len(bank) - 1; i >= 0; i-- {
		if bank[i].F == "read" && bank[i].Type == history.OK {
			bank[i].Value.(map[string]any)["3"] = int64(-1)
			break
		}
	}
	if r := NewBank(BankOptions{Accounts: 10, Total: 1000}).Check(context.Background(), bank); r.Verdict != Invalid {
		t.Fatalf("broken bank: %s", r.Verdict)
	}
	set := setHistory(2, 2000)
	if r := NewSet().Check(context.Background(), set); r.Verdict != Valid {
		t.Fatalf("set: %s %v", r.Verdict, r.Anomalies)
	}
	last := &set[len(set)-1]
	last.Value = last.Value.([]any)[1:]
	if r := NewSet().Check(context.Background(), set); r.Verdict != Invalid {
		t.Fatalf("broken set: %s", r.Verdict)
	}
}
