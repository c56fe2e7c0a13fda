package workloads

import "github.com/dqtest/dqtest/checker"

// Each workload builds its checker with what it knows of its own
// parameters; time is bounded by the caller's context.

func (w *register) Checker() checker.Checker { return checker.NewRegister(checker.RegisterOptions{}) }

// Checker: the bank knows its accounts, total and whether overdrafts are
// allowed, so the checker does not have to infer them from a read.
func (w *bank) Checker() checker.Checker {
	return checker.NewBank(checker.BankOptions{Accounts: w.p.Accounts, Total: w.p.Total, AllowNegative: w.p.AllowNegative})
}

func (w *set) Checker() checker.Checker { return checker.NewSet() }

// Checker: strict serializability, the default, because dqlite runs every
// transaction on one leader.
func (w *appendList) Checker() checker.Checker { return checker.NewAppend(checker.AppendOptions{}) }
