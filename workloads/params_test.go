package workloads

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNamesListsEveryWorkloadSorted(t *testing.T) {
	require.Equal(t, []string{"append", "bank", "register", "set"}, Names())
}

func TestNewFillsEveryDefault(t *testing.T) {
	tests := []struct {
		name string
		want Params
	}{
		{"register", Params{Keys: 2, OpsPerKey: 100, Values: 5, Mix: map[string]int{"read": 1, "write": 1, "cas": 1}}},
		{"bank", Params{Accounts: 5, Total: 100, MaxTransfer: 5, Mix: map[string]int{"transfer": 1, "read": 1}}},
		{"set", Params{Mix: map[string]int{"add": 19, "read": 1}}},
		{"append", Params{Keys: 8, OpsPerKey: 100, TxnLen: 4, KeysPerTxn: 2, Mix: map[string]int{"append": 1, "r": 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Resolve(tt.name, Params{})
			require.NoError(t, err)
			require.Equal(t, tt.want, p)
			w, err := New(tt.name, Params{})
			require.NoError(t, err)
			require.Equal(t, tt.name, w.Name())
			require.Equal(t, tt.name, w.Checker().Name(), "the checker of its own histories")
		})
	}
}

func TestNewKeepsGivenParams(t *testing.T) {
	p, err := Resolve("bank", Params{Accounts: 3, Total: 7, AllowNegative: true})
	require.NoError(t, err)
	require.Equal(t, Params{Accounts: 3, Total: 7, MaxTransfer: 5, AllowNegative: true, Mix: map[string]int{"transfer": 1, "read": 1}}, p)
}

func TestNewRefusesBadParamsWithAClearError(t *testing.T) {
	tests := []struct {
		name    string
		p       Params
		message string
	}{
		{"nope", Params{}, `unknown workload "nope" (known: append, bank, register, set)`},
		{"register", Params{Accounts: 3}, "workload register: parameter accounts does not apply (it takes keys, ops_per_key, values, mix)"},
		{"set", Params{Keys: 3}, "workload set: parameter keys does not apply (it takes mix)"},
		{"append", Params{AllowNegative: true}, "workload append: parameter allow_negative does not apply"},
		{"register", Params{Keys: -1}, "workload register: keys must be at least 1"},
		{"register", Params{OpsPerKey: -5}, "workload register: ops_per_key must be at least 1"},
		{"register", Params{Values: -1}, "workload register: values must be at least 1"},
		{"bank", Params{Accounts: 1}, "workload bank: accounts must be at least 2"},
		{"bank", Params{Total: -10}, "workload bank: total must be 0 or more"},
		{"bank", Params{MaxTransfer: -1}, "workload bank: max_transfer must be at least 1"},
		{"append", Params{TxnLen: 65}, "workload append: txn_len must be 1..64"},
		{"append", Params{KeysPerTxn: -1}, "workload append: keys_per_txn must be at least 1"},
		{"register", Params{Mix: map[string]int{"read": 1, "delete": 1}}, `workload register: mix: unknown operation "delete" (known: cas, read, write)`},
		{"bank", Params{Mix: map[string]int{"read": -1, "transfer": 2}}, "workload bank: mix: weight of read must be 0 or more, got -1"},
		{"set", Params{Mix: map[string]int{"add": 0}}, "workload set: mix: at least one weight must be positive"},
		{"set", Params{Mix: map[string]int{}}, "workload set: mix: at least one weight must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.message, func(t *testing.T) {
			w, err := New(tt.name, tt.p)
			require.Error(t, err)
			require.Nil(t, w)
			require.Contains(t, err.Error(), tt.message)
		})
	}
}

func TestResolvedMixIsTheCallersToChange(t *testing.T) {
	p, err := Resolve("set", Params{})
	require.NoError(t, err)
	p.Mix["read"] = 100
	again, err := Resolve("set", Params{})
	require.NoError(t, err)
	require.Equal(t, map[string]int{"add": 19, "read": 1}, again.Mix)
}
