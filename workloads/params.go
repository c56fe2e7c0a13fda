package workloads

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/dqtest/dqtest/checker"
)

// Params are a workload's parameters, as a scenario gives them under
// `workload:`. One struct serves every workload so a scenario file has one
// shape; a field that does not apply to the chosen workload must be left
// unset (New says so otherwise). A zero field means "the workload's
// default", which docs/workloads.md lists. The YAML names are a stable
// contract: scenario files depend on them.
type Params struct {
	// Keys is how many keys are live at once (register, append).
	Keys int `yaml:"keys,omitempty" json:"keys,omitempty"`
	// OpsPerKey is how many operations one client slot performs on a key
	// (register) or a key set (append) before moving on to fresh keys, so
	// each key's history stays small enough to check (Jepsen's independent
	// keys, Elle's key retirement).
	OpsPerKey int `yaml:"ops_per_key,omitempty" json:"ops_per_key,omitempty"`
	// Values is the register's value range: writes and cas use 0..Values-1.
	// A small range makes cas succeed often enough to matter.
	Values int `yaml:"values,omitempty" json:"values,omitempty"`
	// Mix weighs the operation kinds (register: read, write, cas; bank:
	// transfer, read; set: add, read; append: the micro-ops append, r).
	Mix map[string]int `yaml:"mix,omitempty" json:"mix,omitempty"`
	// Accounts is the bank's number of accounts, ids 0..Accounts-1.
	Accounts int `yaml:"accounts,omitempty" json:"accounts,omitempty"`
	// Total is the bank's total balance, spread evenly over the accounts.
	Total int64 `yaml:"total,omitempty" json:"total,omitempty"`
	// MaxTransfer bounds a transfer's amount: 1..MaxTransfer.
	MaxTransfer int64 `yaml:"max_transfer,omitempty" json:"max_transfer,omitempty"`
	// AllowNegative drops the bank's CHECK (balance >= 0), so transfers may
	// overdraw and the checker does not flag negative balances.
	AllowNegative bool `yaml:"allow_negative,omitempty" json:"allow_negative,omitempty"`
	// TxnLen is the longest append transaction, in micro-ops: each has
	// 1..TxnLen.
	TxnLen int `yaml:"txn_len,omitempty" json:"txn_len,omitempty"`
	// KeysPerTxn bounds the distinct keys one append transaction touches.
	// Few keys per transaction make a transaction read its own appends and
	// touch the same keys as its neighbours, which is what exposes anomalies.
	KeysPerTxn int `yaml:"keys_per_txn,omitempty" json:"keys_per_txn,omitempty"`
}

// field describes one Params field for defaults and validation.
type field struct {
	name string
	set  func(p *Params) bool // is the field given?
}

var fields = []field{
	{"keys", func(p *Params) bool { return p.Keys != 0 }},
	{"ops_per_key", func(p *Params) bool { return p.OpsPerKey != 0 }},
	{"values", func(p *Params) bool { return p.Values != 0 }},
	{"mix", func(p *Params) bool { return p.Mix != nil }},
	{"accounts", func(p *Params) bool { return p.Accounts != 0 }},
	{"total", func(p *Params) bool { return p.Total != 0 }},
	{"max_transfer", func(p *Params) bool { return p.MaxTransfer != 0 }},
	{"allow_negative", func(p *Params) bool { return p.AllowNegative }},
	{"txn_len", func(p *Params) bool { return p.TxnLen != 0 }},
	{"keys_per_txn", func(p *Params) bool { return p.KeysPerTxn != 0 }},
}

// kind is what New needs to know about one workload: its defaults, which
// fields apply, and how to build it from complete, valid Params.
type kind struct {
	defaults Params
	applies  []string // names of the Params fields this workload reads
	build    func(p Params, m mix) Workload
	// bare is the checker for a history without its scenario.
	bare func() checker.Checker
}

var kinds = map[string]kind{
	"register": {
		defaults: Params{Keys: 2, OpsPerKey: 100, Values: 5, Mix: map[string]int{"read": 1, "write": 1, "cas": 1}},
		applies:  []string{"keys", "ops_per_key", "values", "mix"},
		build:    func(p Params, m mix) Workload { return &register{p: p, mix: m} },
		bare:     func() checker.Checker { return checker.NewRegister(checker.RegisterOptions{}) },
	},
	"bank": {
		defaults: Params{Accounts: 5, Total: 100, MaxTransfer: 5, Mix: map[string]int{"transfer": 1, "read": 1}},
		applies:  []string{"accounts", "total", "max_transfer", "allow_negative", "mix"},
		build:    func(p Params, m mix) Workload { return &bank{p: p, mix: m} },
		// Without a scenario the bank checker takes the accounts and the
		// total from the first ok read, and says so.
		bare: func() checker.Checker { return checker.NewBank(checker.BankOptions{}) },
	},
	"set": {
		defaults: Params{Mix: map[string]int{"add": 19, "read": 1}},
		applies:  []string{"mix"},
		build:    func(p Params, m mix) Workload { return &set{mix: m} },
		bare:     checker.NewSet,
	},
	"append": {
		defaults: Params{Keys: 8, OpsPerKey: 100, TxnLen: 4, KeysPerTxn: 2, Mix: map[string]int{"append": 1, "r": 1}},
		applies:  []string{"keys", "ops_per_key", "txn_len", "keys_per_txn", "mix"},
		build:    func(p Params, m mix) Workload { return &appendList{p: p, mix: m} },
		bare:     func() checker.Checker { return checker.NewAppend(checker.AppendOptions{}) },
	},
}

// BareChecker is the checker of the named workload's histories when only
// the history is known (dqtest check of a bare history file): the options a
// history alone allows. A workload built with New knows its parameters and
// builds its own (Workload.Checker).
func BareChecker(name string) (checker.Checker, error) {
	k, ok := kinds[name]
	if !ok {
		return nil, paramErr(name, "name", fmt.Sprintf("no checker for workload %q (known: %s)", name, strings.Join(Names(), ", ")))
	}
	return k.bare(), nil
}

// Names returns the workloads New knows, sorted.
func Names() []string {
	names := make([]string, 0, len(kinds))
	for n := range kinds {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// New returns the named workload with p's zero fields set to the workload's
// defaults. It refuses a field that does not apply to the workload (it would
// be silently ignored otherwise) and values that make no sense.
func New(name string, p Params) (Workload, error) {
	p, err := Resolve(name, p)
	if err != nil {
		return nil, err
	}
	k := kinds[name]
	m, err := newMix(k.defaults.Mix, p.Mix)
	if err != nil {
		return nil, paramErr(name, "mix", fmt.Sprintf("workload %s: %v", name, err))
	}
	return k.build(p, m), nil
}

// ParamError is a workload name or parameter that cannot be used. Param
// names the scenario field under workload: ("name" for the workload's
// name), so a scenario error can point at its line.
type ParamError struct {
	Workload string
	Param    string
	text     string
}

func (e *ParamError) Error() string { return e.text }

func paramErr(workload, param, text string) error {
	return &ParamError{Workload: workload, Param: param, text: text}
}

// Resolve returns p with its zero fields set to the named workload's
// defaults, after the checks New makes; the harness writes the result into
// the run directory so a run records every parameter it used.
func Resolve(name string, p Params) (Params, error) {
	k, ok := kinds[name]
	if !ok {
		return Params{}, paramErr(name, "name", fmt.Sprintf("unknown workload %q (known: %s)", name, strings.Join(Names(), ", ")))
	}
	for _, f := range fields {
		if f.set(&p) && !slices.Contains(k.applies, f.name) {
			return Params{}, paramErr(name, f.name, fmt.Sprintf("workload %s: parameter %s does not apply (it takes %s)", name, f.name, strings.Join(k.applies, ", ")))
		}
	}
	d := k.defaults
	orDefault(&p.Keys, d.Keys)
	orDefault(&p.OpsPerKey, d.OpsPerKey)
	orDefault(&p.Values, d.Values)
	orDefault(&p.Accounts, d.Accounts)
	orDefault(&p.Total, d.Total)
	orDefault(&p.MaxTransfer, d.MaxTransfer)
	orDefault(&p.TxnLen, d.TxnLen)
	orDefault(&p.KeysPerTxn, d.KeysPerTxn)
	if p.Mix == nil {
		p.Mix = maps.Clone(d.Mix) // the caller may change it; the defaults stay
	}
	if err := validate(name, p, k.applies); err != nil {
		return Params{}, err
	}
	if _, err := newMix(d.Mix, p.Mix); err != nil {
		return Params{}, paramErr(name, "mix", fmt.Sprintf("workload %s: %v", name, err))
	}
	return p, nil
}

func validate(name string, p Params, applies []string) error {
	checks := []struct {
		field string
		bad   bool
		want  string
	}{
		{"keys", p.Keys < 1, "at least 1"},
		{"ops_per_key", p.OpsPerKey < 1, "at least 1"},
		{"values", p.Values < 1, "at least 1"},
		{"accounts", p.Accounts < 2, "at least 2 (a transfer needs two accounts)"},
		{"total", p.Total < 0, "0 or more"},
		{"max_transfer", p.MaxTransfer < 1, "at least 1"},
		{"txn_len", p.TxnLen < 1 || p.TxnLen > maxTxnLen, fmt.Sprintf("1..%d", maxTxnLen)},
		{"keys_per_txn", p.KeysPerTxn < 1, "at least 1"},
	}
	for _, c := range checks {
		if c.bad && slices.Contains(applies, c.field) {
			return paramErr(name, c.field, fmt.Sprintf("workload %s: %s must be %s", name, c.field, c.want))
		}
	}
	return nil
}

// maxTxnLen bounds an append transaction: long transactions add little
// checking power and make every conflict an abort.
const maxTxnLen = 64

func orDefault[T comparable](v *T, d T) {
	var zero T
	if *v == zero {
		*v = d
	}
}
