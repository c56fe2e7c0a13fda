package checker

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/dqtest/dqtest/history"
)

// BankOptions says what every read of the bank must show.
type BankOptions struct {
	// Accounts is the number of accounts, with ids 0..Accounts-1. Zero means
	// "take Accounts and Total from the first ok read": useful when
	// re-checking a history without its scenario, and said so in the
	// result's stats (a wrong first read then shows up as every other read
	// disagreeing with it).
	Accounts int
	// Total is the sum of all balances, conserved by every transfer.
	Total int64
	// AllowNegative accepts negative balances (the scenario dropped the
	// schema's CHECK constraint on purpose).
	AllowNegative bool
}

// NewBank returns the checker of the bank workload (docs/history.md,
// "bank"). Transfers run in serializable transactions, so every ok read of
// all balances, itself one transaction, must see the whole bank: the same
// accounts ("wrong-accounts"), the same total ("wrong-total") and, unless
// allowed, no negative balance ("negative-balance"). Transfers themselves are
// not checked: their effects are what the reads show.
func NewBank(opts BankOptions) Checker { return &bankChecker{opts: opts} }

type bankChecker struct{ opts BankOptions }

func (*bankChecker) Name() string { return "bank" }

// bankMaxAnomalies bounds the anomalies listed per kind; the stats count
// them all. A broken bank breaks most reads, and the first few say it.
const bankMaxAnomalies = 20

func (c *bankChecker) Check(ctx context.Context, events []history.Event) (res Result) {
	res = Result{Checker: c.Name(), Verdict: Valid, Stats: map[string]any{}}
	opts := c.opts
	paired := history.Pair(events)
	// No verdict from nothing: a history without an ok bank operation, or
	// with operations of another workload, is never Valid.
	defer coverageOf("bank", paired).apply(&res)
	counts := map[string]int{}
	var malformed []string
	reads := 0
	var faults *faultTimeline // built at the first anomaly: most runs have none
	for _, op := range paired {
		if ctx.Err() != nil {
			res.Verdict, res.Reason = Unknown, "the check was cancelled"
			return res
		}
		if op.Invoke.F != "read" || op.Outcome() != history.OK {
			continue
		}
		balances, err := bankBalances(op.Completion.Value)
		if err != nil {
			malformed = append(malformed, fmt.Sprintf("index %d: %v", op.Completion.Index, err))
			continue
		}
		if opts.Accounts == 0 {
			opts.Accounts = len(balances)
			for _, b := range balances {
				opts.Total += b
			}
			res.Stats["inferred"] = fmt.Sprintf("no scenario given: %d accounts and a total of %d, taken from the first ok read (index %d)",
				opts.Accounts, opts.Total, op.Completion.Index)
		}
		reads++
		for _, a := range c.judge(op, balances, opts) {
			if faults == nil {
				faults = newFaultTimeline(events)
			}
			a.Explanation += faults.sentence(op.Invoke.Time)
			counts[a.Kind]++
			if counts[a.Kind] <= bankMaxAnomalies {
				res.Anomalies = append(res.Anomalies, a)
			}
		}
	}
	res.Stats["reads"] = reads
	res.Stats["accounts"] = opts.Accounts
	res.Stats["total"] = opts.Total
	for kind, n := range counts {
		res.Stats[kind] = n
	}
	if len(malformed) > 0 {
		res.Verdict = Unknown
		res.Reason = fmt.Sprintf("%d read(s) have malformed values and were not checked: %s", len(malformed), strings.Join(first(malformed, 5), "; "))
	} else if reads == 0 {
		res.Verdict = Unknown
		res.Reason = "the history has no ok read of the balances"
	}
	if len(res.Anomalies) > 0 {
		res.Verdict = Invalid
	}
	return res
}

// judge returns what is wrong with one read.
// The caller adds the faults in force.
func (c *bankChecker) judge(op history.Operation, balances map[int64]int64, opts BankOptions) []Anomaly {
	var out []Anomaly
	where := fmt.Sprintf("The read of all balances by %s", opWhere(op))
	ids := make([]int64, 0, len(balances))
	var sum int64
	for id, b := range balances {
		ids = append(ids, id)
		sum += b
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })

	var missing, extra []string
	for id := int64(0); id < int64(opts.Accounts); id++ {
		if _, ok := balances[id]; !ok {
			missing = append(missing, strconv.FormatInt(id, 10))
		}
	}
	for _, id := range ids {
		if id < 0 || id >= int64(opts.Accounts) {
			extra = append(extra, strconv.FormatInt(id, 10))
		}
	}
	if len(missing) > 0 || len(extra) > 0 {
		var what []string
		if len(missing) > 0 {
			what = append(what, "lacks account(s) "+strings.Join(first(missing, 10), ", "))
		}
		if len(extra) > 0 {
			what = append(what, "has unknown account(s) "+strings.Join(first(extra, 10), ", "))
		}
		out = append(out, Anomaly{Kind: "wrong-accounts", Ops: opEvents(op), Explanation: fmt.Sprintf(
			"%s saw %d accounts where the bank has %d (ids 0..%d): it %s.",
			where, len(balances), opts.Accounts, opts.Accounts-1, strings.Join(what, " and "))})
	}
	if sum != opts.Total {
		out = append(out, Anomaly{Kind: "wrong-total", Ops: opEvents(op), Explanation: fmt.Sprintf(
			"%s adds up to %d, but transfers conserve the total of %d (%+d): the read saw part of a transfer, or a transfer was applied twice or only half.",
			where, sum, opts.Total, sum-opts.Total)})
	}
	if !opts.AllowNegative {
		var neg []string
		for _, id := range ids {
			if balances[id] < 0 {
				neg = append(neg, fmt.Sprintf("account %d has %d", id, balances[id]))
			}
		}
		if len(neg) > 0 {
			out = append(out, Anomaly{Kind: "negative-balance", Ops: opEvents(op), Explanation: fmt.Sprintf(
				"%s shows a negative balance, which the scenario forbids: %s.", where, strings.Join(first(neg, 10), ", "))})
		}
	}
	return out
}

// bankBalances reads {"0": 10, "1": 7, ...}.
func bankBalances(v any) (map[int64]int64, error) {
	m, ok := history.Normalize(v).(map[string]any)
	if !ok {
		return nil, fmt.Errorf("read value %v: want an object of account id → balance", v)
	}
	out := make(map[int64]int64, len(m))
	for k, b := range m {
		id, err := strconv.ParseInt(k, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("account id %q: want an integer", k)
		}
		bal, ok := b.(int64)
		if !ok {
			return nil, fmt.Errorf("balance of account %s is %v: want an integer", k, b)
		}
		out[id] = bal
	}
	return out, nil
}
