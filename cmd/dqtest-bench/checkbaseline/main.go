// Command checkbaseline is the baseline of dqtest-bench's check benchmark:
// what a plain Go program does to check a register history for
// linearizability, without dqtest. It decodes each line with encoding/json
// into a struct, pairs invokes with completions per process, and runs
// porcupine.CheckOperations on each key's operations, one key after the
// other. It prints the verdict and exits 0 when every key is linearizable,
// 1 when one is not, 2 on bad input.
//
// It knows only what the benchmark's generated history needs (read, write
// and cas on integer registers; ok, fail and info outcomes), which is the
// point: it is the floor a specialised tool can be compared with.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"

	"github.com/anishathalye/porcupine"
)

type event struct {
	Process int             `json:"process"`
	Type    string          `json:"type"`
	F       string          `json:"f"`
	Key     string          `json:"key"`
	Time    int64           `json:"time"`
	Value   json.RawMessage `json:"value"`
}

type input struct {
	op      string
	arg, to *int64
	unknown bool
}

type output struct{ v *int64 }

type state struct {
	v   int64
	set bool
}

func intOrNil(raw json.RawMessage) (*int64, error) {
	var v *int64
	if len(raw) == 0 {
		return nil, nil
	}
	err := json.Unmarshal(raw, &v)
	return v, err
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: checkbaseline HISTORY.jsonl")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	defer f.Close()

	open := map[int]event{}
	keys := map[string][]porcupine.Operation{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	line := 0
	for sc.Scan() {
		line++
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			fmt.Fprintf(os.Stderr, "line %d: %v\n", line, err)
			os.Exit(2)
		}
		if e.Type == "invoke" {
			open[e.Process] = e
			continue
		}
		inv, ok := open[e.Process]
		if !ok {
			continue
		}
		delete(open, e.Process)
		if e.Type == "fail" {
			continue
		}
		in := input{op: inv.F, unknown: e.Type == "info"}
		var out output
		ret := e.Time
		if in.unknown {
			if inv.F == "read" {
				continue
			}
			ret = math.MaxInt64
		}
		switch inv.F {
		case "read":
			out.v, err = intOrNil(e.Value)
		case "write":
			in.arg, err = intOrNil(inv.Value)
		case "cas":
			var pair []*int64
			if err = json.Unmarshal(inv.Value, &pair); err == nil && len(pair) == 2 {
				in.arg, in.to = pair[0], pair[1]
			}
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "line %d: value: %v\n", line, err)
			os.Exit(2)
		}
		keys[inv.Key] = append(keys[inv.Key], porcupine.Operation{ClientId: inv.Process, Input: in, Call: inv.Time, Output: out, Return: ret})
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}

	model := porcupine.Model{
		Init: func() any { return state{} },
		Step: func(st, in, out any) (bool, any) {
			s, i, o := st.(state), in.(input), out.(output)
			switch i.op {
			case "read":
				if o.v == nil {
					return !s.set, s
				}
				return s.set && s.v == *o.v, s
			case "write":
				return true, state{v: *i.arg, set: true}
			default:
				if (i.arg == nil && !s.set) || (i.arg != nil && s.set && s.v == *i.arg) {
					return true, state{v: *i.to, set: true}
				}
				return i.unknown, s
			}
		},
		Equal: func(a, b any) bool { return a.(state) == b.(state) },
	}
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	bad := 0
	for _, k := range names {
		if !porcupine.CheckOperations(model, keys[k]) {
			fmt.Println("not linearizable:", k)
			bad++
		}
	}
	if bad > 0 {
		os.Exit(1)
	}
	fmt.Printf("linearizable: %d keys\n", len(names))
}
