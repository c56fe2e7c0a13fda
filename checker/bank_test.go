package checker

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/history"
)

func bankRead(balances ...int64) map[string]any {
	m := map[string]any{}
	for i, b := range balances {
		m[string(rune('0'+i))] = b
	}
	return m
}

func transfer(from, to, amount int64) map[string]any {
	return map[string]any{"from": from, "to": to, "amount": amount}
}

var threeAccounts = BankOptions{Accounts: 3, Total: 30}

func kindsOf(r Result) []string {
	var kinds []string
	for _, a := range r.Anomalies {
		kinds = append(kinds, a.Kind)
	}
	return kinds
}

func TestBankAcceptsReadsThatSeeTheWholeBank(t *testing.T) {
	h := newHist().
		op(0, history.OK, "read", "", nil, bankRead(10, 10, 10)).
		op(1, history.OK, "transfer", "", transfer(0, 1, 5), transfer(0, 1, 5)).
		op(0, history.OK, "read", "", nil, bankRead(5, 15, 10)).
		op(1, history.Info, "transfer", "", transfer(1, 2, 15), transfer(1, 2, 15)).
		op(2, history.Fail, "read", "", nil, nil).
		op(3, history.Info, "read", "", nil, nil).
		nemesis("start-kill", "n1").
		op(0, history.OK, "read", "", nil, bankRead(5, 0, 25)).
		build()
	r := NewBank(threeAccounts).Check(context.Background(), h)
	require.Equal(t, Valid, r.Verdict, "%+v", r)
	require.Equal(t, 3, r.Stats["reads"])
	require.NotContains(t, r.Stats, "inferred")
}

func TestBankFindsEachAnomalyAlone(t *testing.T) {
	cases := map[string]struct {
		read map[string]any
		opts BankOptions
		kind string
		want string
	}{
		"total not conserved":         {bankRead(10, 10, 5), threeAccounts, "wrong-total", "adds up to 25, but transfers conserve the total of 30 (-5)"},
		"account missing":             {bankRead(10, 20), threeAccounts, "wrong-accounts", "lacks account(s) 2"},
		"unknown account":             {bankRead(10, 10, 10, 0), threeAccounts, "wrong-accounts", "has unknown account(s) 3"},
		"negative balance":            {bankRead(-5, 25, 10), threeAccounts, "negative-balance", "account 0 has -5"},
		"negative allowed, total off": {bankRead(-5, 25, 11), BankOptions{Accounts: 3, Total: 30, AllowNegative: true}, "wrong-total", "adds up to 31"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			h := newHist().
				op(0, history.OK, "read", "", nil, bankRead(10, 10, 10)).
				op(1, history.OK, "read", "", nil, c.read).on("n2").
				build()
			r := NewBank(c.opts).Check(context.Background(), h)
			require.Equal(t, Invalid, r.Verdict)
			require.Equal(t, []string{c.kind}, kindsOf(r))
			a := r.Anomalies[0]
			require.Contains(t, a.Explanation, c.want)
			require.Contains(t, a.Explanation, "process 1 on n2")
			require.Len(t, a.Ops, 2)
			require.Equal(t, int64(3), a.Ops[1].Index)
		})
	}
}

func TestBankAllowsNegativeBalancesWhenTheScenarioDoes(t *testing.T) {
	h := newHist().op(0, history.OK, "read", "", nil, bankRead(-5, 25, 10)).build()
	r := NewBank(BankOptions{Accounts: 3, Total: 30, AllowNegative: true}).Check(context.Background(), h)
	require.Equal(t, Valid, r.Verdict)
}

func TestBankInfersAccountsAndTotalFromTheFirstReadAndSaysSo(t *testing.T) {
	h := newHist().
		op(0, history.OK, "transfer", "", transfer(0, 1, 5), transfer(0, 1, 5)).
		op(0, history.OK, "read", "", nil, bankRead(7, 8)).
		op(0, history.OK, "read", "", nil, bankRead(7, 9)).
		build()
	r := NewBank(BankOptions{}).Check(context.Background(), h)
	require.Equal(t, Invalid, r.Verdict)
	require.Equal(t, []string{"wrong-total"}, kindsOf(r))
	require.Contains(t, r.Stats["inferred"], "2 accounts and a total of 15, taken from the first ok read (index 3)")
}

func TestBankListsAFewAnomaliesAndCountsThemAll(t *testing.T) {
	b := newHist()
	for i := 0; i < 30; i++ {
		b.op(0, history.OK, "read", "", nil, bankRead(1, 1, 1))
	}
	r := NewBank(threeAccounts).Check(context.Background(), b.build())
	require.Equal(t, Invalid, r.Verdict)
	require.Len(t, r.Anomalies, bankMaxAnomalies)
	require.Equal(t, 30, r.Stats["wrong-total"])
}

func TestBankIsUnknownWithoutAReadableRead(t *testing.T) {
	cases := map[string]struct {
		h    []history.Event
		want string
	}{
		"no read":        {newHist().op(0, history.OK, "transfer", "", transfer(0, 1, 1), transfer(0, 1, 1)).build(), "no ok read"},
		"only info read": {newHist().op(0, history.Info, "read", "", nil, nil).build(), "no ok read"},
		"list, not map":  {newHist().op(0, history.OK, "read", "", nil, []int{1, 2}).build(), "index 1: read value"},
		"text balance":   {newHist().op(0, history.OK, "read", "", nil, map[string]any{"0": "ten"}).build(), "balance of account 0"},
		"bad account id": {newHist().op(0, history.OK, "read", "", nil, map[string]any{"x": 1}).build(), `account id "x"`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := NewBank(threeAccounts).Check(context.Background(), c.h)
			require.Equal(t, Unknown, r.Verdict)
			require.Contains(t, r.Reason, c.want)
		})
	}
}
