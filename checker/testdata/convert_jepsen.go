//go:build ignore

// convert_jepsen converts a Jepsen etcd register log (the format of
// porcupine's test_data/jepsen/etcd_NNN.log, from
// github.com/ahorn/linearizability-checker) into a dqtest history.
//
//	go run convert_jepsen.go etcd_002.log > jepsen_etcd_002.jsonl
//
// Mapping: one register, key "r"; process numbers kept; time is the line
// number in microseconds (the log has order, not clocks); :invoke/:ok/:fail/
// :info kept; a timed-out :info write or cas carries its invoke's value. The
// logs mark timed-out reads :fail; they are kept as fail, which for a read is
// the same as info to a checker (a read changes nothing) and keeps the
// process allowed to continue, as it did in the original test.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
)

type event struct {
	Index   int64  `json:"index"`
	Time    int64  `json:"time"`
	Process int    `json:"process"`
	Type    string `json:"type"`
	F       string `json:"f"`
	Key     string `json:"key"`
	Value   any    `json:"value"`
	Error   string `json:"error,omitempty"`
}

var line = regexp.MustCompile(`^INFO\s+jepsen\.util\s+-\s+(\d+)\s+:(invoke|ok|fail|info)\s+:(read|write|cas)\s+(.*?)\s*$`)
var casValue = regexp.MustCompile(`^\[(\d+)\s+(\d+)\]$`)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run convert_jepsen.go etcd_NNN.log > out.jsonl")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	defer f.Close()
	enc := json.NewEncoder(os.Stdout)
	invoked := map[int]any{} // process -> value of its open invoke
	sc := bufio.NewScanner(f)
	n, index := 0, int64(0)
	for sc.Scan() {
		n++
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		proc, _ := strconv.Atoi(m[1])
		e := event{Index: index, Time: int64(n) * 1000, Process: proc, Type: m[2], F: m[3], Key: "r"}
		raw := m[4]
		switch {
		case raw == ":timed-out":
			e.Value, e.Error = invoked[proc], "timed-out"
			if e.F == "read" {
				e.Value = nil
			}
		case raw == "nil":
			e.Value = nil
		case casValue.MatchString(raw):
			c := casValue.FindStringSubmatch(raw)
			a, _ := strconv.Atoi(c[1])
			b, _ := strconv.Atoi(c[2])
			e.Value = []int{a, b}
		default:
			v, err := strconv.Atoi(raw)
			if err != nil {
				fmt.Fprintf(os.Stderr, "line %d: cannot read value %q\n", n, raw)
				os.Exit(1)
			}
			e.Value = v
		}
		if e.Type == "invoke" {
			invoked[proc] = e.Value
		} else {
			delete(invoked, proc)
		}
		if err := enc.Encode(e); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		index++
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
