package checker

import (
	"fmt"
	"sort"
	"strings"
)

// The name -> checker table the checker tests use. The workloads' one
// registry is package workloads (workloads.BareChecker); this is its mirror
// for tests that cannot import it, and workloads' tests check the two agree.
var checkersByWorkload = map[string]func() Checker{
	"register": func() Checker { return NewRegister(RegisterOptions{}) },
	"bank":     func() Checker { return NewBank(BankOptions{}) },
	"set":      NewSet,
	"append":   func() Checker { return NewAppend(AppendOptions{}) },
}

func ForWorkload(name string) (Checker, error) {
	mk, ok := checkersByWorkload[name]
	if !ok {
		return nil, fmt.Errorf("no checker for workload %q (known: %s)", name, strings.Join(Workloads(), ", "))
	}
	return mk(), nil
}

func Workloads() []string {
	names := make([]string, 0, len(checkersByWorkload))
	for n := range checkersByWorkload {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
