package history

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// The decoder is made for dqtest's event schema. It scans a line once and
// builds the Event and its value in normal form (Normalize) directly: no
// map[string]any per line, no json.RawMessage, no second pass over the
// value. Strings that repeat from line to line (f, key, node, error, the
// strings inside values) are interned, so a history of millions of events
// holds one copy of each.
//
// It handles the lines dqtest writes and every plain JSON line like them.
// Anything it is not certain to decode exactly as encoding/json does (an
// escape in a string, a field name that only matches case-insensitively, a
// repeated field, null where a string belongs, malformed JSON, a missing
// field) goes to parseEventJSON, the encoding/json path, so results and
// error messages are those of encoding/json by construction.

// internLimit bounds an intern table: past it new strings are allocated as
// usual (a history whose every error message differs must not grow the
// table without bound).
const internLimit = 1 << 16

// maxDepth bounds the nesting of a value the scanner decodes itself;
// deeper values take the encoding/json path (which has its own limit).
const maxDepth = 1000

type decoder struct {
	strs map[string]string
	// anys is a slab the small []any of values are cut from, so that a
	// cas's [old, new] costs no allocation of its own.
	anys []any
}

func newDecoder() *decoder { return &decoder{strs: make(map[string]string, 1024)} }

func (d *decoder) intern(b []byte) string {
	if s, ok := d.strs[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(d.strs) < internLimit {
		d.strs[s] = s
	}
	return s
}

// parse decodes one line (without its line terminator) into e.
func (d *decoder) parse(line []byte, e *Event) error {
	if d.fast(line, e) {
		return nil
	}
	*e = Event{}
	ev, err := parseEventJSON(line)
	if err != nil {
		return err
	}
	*e = ev
	d.internEvent(e)
	return nil
}

// internEvent interns the strings of an event decoded by encoding/json.
func (d *decoder) internEvent(e *Event) {
	e.F = d.intern([]byte(e.F))
	e.Key = d.intern([]byte(e.Key))
	e.Node = d.intern([]byte(e.Node))
	e.Error = d.intern([]byte(e.Error))
	for i, n := range e.Nodes {
		e.Nodes[i] = d.intern([]byte(n))
	}
}

type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next byte, or 0 at the end.
func (s *scanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// str scans a string without escapes or control characters, in valid
// UTF-8, and returns its contents; ok is false for anything else.
func (s *scanner) str() ([]byte, bool) {
	if s.peek() != '"' {
		return nil, false
	}
	start := s.i + 1
	ascii := true
	for j := start; j < len(s.b); j++ {
		c := s.b[j]
		switch {
		case c == '"':
			s.i = j + 1
			out := s.b[start:j]
			if !ascii && !utf8.Valid(out) {
				return nil, false
			}
			return out, true
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= 0x80:
			ascii = false
		}
	}
	return nil, false
}

func (s *scanner) lit(word string) bool {
	if len(s.b)-s.i >= len(word) && string(s.b[s.i:s.i+len(word)]) == word {
		s.i += len(word)
		return true
	}
	return false
}

// number scans a JSON number. If it is an integer of at most 18 digits,
// small is true and n its value; else raw is its text.
func (s *scanner) number() (n int64, small bool, raw []byte, ok bool) {
	start := s.i
	j := s.i
	neg := false
	if j < len(s.b) && s.b[j] == '-' {
		neg = true
		j++
	}
	digits := j
	if j < len(s.b) && s.b[j] == '0' {
		j++
	} else {
		for j < len(s.b) && s.b[j] >= '0' && s.b[j] <= '9' {
			n = n*10 + int64(s.b[j]-'0')
			j++
		}
	}
	nd := j - digits
	if nd == 0 {
		return 0, false, nil, false
	}
	integer := true
	if j < len(s.b) && s.b[j] == '.' {
		integer = false
		j++
		k := j
		for j < len(s.b) && s.b[j] >= '0' && s.b[j] <= '9' {
			j++
		}
		if j == k {
			return 0, false, nil, false
		}
	}
	if j < len(s.b) && (s.b[j] == 'e' || s.b[j] == 'E') {
		integer = false
		j++
		if j < len(s.b) && (s.b[j] == '+' || s.b[j] == '-') {
			j++
		}
		k := j
		for j < len(s.b) && s.b[j] >= '0' && s.b[j] <= '9' {
			j++
		}
		if j == k {
			return 0, false, nil, false
		}
	}
	s.i = j
	if integer && nd <= 18 {
		if neg {
			n = -n
		}
		return n, true, nil, true
	}
	return 0, false, s.b[start:j], true
}

// int64Field scans a number an int64 field accepts.
func (s *scanner) int64Field() (int64, bool) {
	n, small, _, ok := s.number()
	return n, ok && small
}

// fieldNames are the fields of an event on the wire.
var fieldNames = []string{"index", "time", "process", "type", "f", "key", "value", "node", "nodes", "error"}

const (
	seenIndex = 1 << iota
	seenTime
	seenProcess
	seenType
	seenF
	seenKey
	seenValue
	seenNode
	seenNodes
	seenError
)

// fast decodes line into e when it can be sure to decode it as
// encoding/json would; false means e is partly written and the caller
// must take the encoding/json path.
func (d *decoder) fast(line []byte, e *Event) bool {
	*e = Event{}
	s := scanner{b: line}
	s.ws()
	if s.peek() != '{' {
		return false
	}
	s.i++
	s.ws()
	var seen uint
	for {
		name, ok := s.str()
		if !ok {
			return false
		}
		s.ws()
		if s.peek() != ':' {
			return false
		}
		s.i++
		s.ws()
		var bit uint
		switch string(name) {
		case "index":
			bit = seenIndex
			if e.Index, ok = s.int64Field(); !ok {
				return false
			}
		case "time":
			bit = seenTime
			if e.Time, ok = s.int64Field(); !ok {
				return false
			}
		case "process":
			bit = seenProcess
			if s.lit(`"nemesis"`) {
				e.Process = Nemesis
			} else if c := s.peek(); c >= '0' && c <= '9' {
				n, small, _, ok := s.number()
				if !ok || !small {
					return false
				}
				e.Process = Process(n)
			} else {
				return false
			}
		case "type":
			bit = seenType
			v, ok := s.str()
			if !ok {
				return false
			}
			switch string(v) {
			case "invoke":
				e.Type = Invoke
			case "ok":
				e.Type = OK
			case "fail":
				e.Type = Fail
			case "info":
				e.Type = Info
			default:
				return false
			}
		case "f", "key", "node", "error":
			v, ok := s.str()
			if !ok {
				return false
			}
			switch name[0] {
			case 'f':
				bit = seenF
				if len(v) == 0 {
					return false
				}
				e.F = d.intern(v)
			case 'k':
				bit = seenKey
				e.Key = d.intern(v)
			case 'n':
				bit = seenNode
				e.Node = d.intern(v)
			default:
				bit = seenError
				e.Error = d.intern(v)
			}
		case "nodes":
			bit = seenNodes
			if e.Nodes, ok = d.strings(&s); !ok {
				return false
			}
		case "value":
			bit = seenValue
			if e.Value, ok = d.value(&s, 0); !ok {
				return false
			}
		default:
			for _, f := range fieldNames {
				if bytes.EqualFold(name, []byte(f)) {
					return false // encoding/json would match it: let it
				}
			}
			for _, c := range name {
				if c >= 0x80 {
					return false // Unicode case folding: let encoding/json decide
				}
			}
			if _, ok := d.value(&s, 0); !ok {
				return false
			}
		}
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		s.ws()
		switch s.peek() {
		case ',':
			s.i++
			s.ws()
			continue
		case '}':
			s.i++
		default:
			return false
		}
		break
	}
	s.ws()
	const required = seenIndex | seenTime | seenProcess | seenType | seenF
	return s.i == len(s.b) && seen&required == required
}

// strings scans an array of strings.
func (d *decoder) strings(s *scanner) ([]string, bool) {
	if s.peek() != '[' {
		return nil, false
	}
	s.i++
	s.ws()
	out := []string{}
	if s.peek() == ']' {
		s.i++
		return out, true
	}
	for {
		v, ok := s.str()
		if !ok {
			return nil, false
		}
		out = append(out, d.intern(v))
		s.ws()
		switch s.peek() {
		case ',':
			s.i++
			s.ws()
		case ']':
			s.i++
			return out, true
		default:
			return nil, false
		}
	}
}

// value scans any JSON value into its normal form.
func (d *decoder) value(s *scanner, depth int) (any, bool) {
	if depth > maxDepth {
		return nil, false
	}
	switch c := s.peek(); {
	case c == 'n':
		return nil, s.lit("null")
	case c == 't':
		return true, s.lit("true")
	case c == 'f':
		return false, s.lit("false")
	case c == '"':
		v, ok := s.str()
		if !ok {
			return nil, false
		}
		return d.intern(v), true
	case c == '-' || (c >= '0' && c <= '9'):
		n, small, raw, ok := s.number()
		if !ok {
			return nil, false
		}
		if small {
			return n, true
		}
		return normalizeNumber(json.Number(raw)), true
	case c == '[':
		s.i++
		s.ws()
		if s.peek() == ']' {
			s.i++
			return []any{}, true
		}
		var buf [8]any
		elems := buf[:0]
		for {
			v, ok := d.value(s, depth+1)
			if !ok {
				return nil, false
			}
			elems = append(elems, v)
			s.ws()
			switch s.peek() {
			case ',':
				s.i++
				s.ws()
				continue
			case ']':
				s.i++
			default:
				return nil, false
			}
			break
		}
		return d.slice(elems), true
	case c == '{':
		s.i++
		s.ws()
		m := map[string]any{}
		if s.peek() == '}' {
			s.i++
			return m, true
		}
		for {
			k, ok := s.str()
			if !ok {
				return nil, false
			}
			s.ws()
			if s.peek() != ':' {
				return nil, false
			}
			s.i++
			s.ws()
			v, ok := d.value(s, depth+1)
			if !ok {
				return nil, false
			}
			m[d.intern(k)] = v
			s.ws()
			switch s.peek() {
			case ',':
				s.i++
				s.ws()
				continue
			case '}':
				s.i++
			default:
				return nil, false
			}
			break
		}
		return m, true
	}
	return nil, false
}

// slice copies elems into a []any of exactly their length, cut from the
// slab when small.
func (d *decoder) slice(elems []any) []any {
	n := len(elems)
	if n > 16 {
		return append([]any(nil), elems...)
	}
	if len(d.anys) < n {
		d.anys = make([]any, 1024)
	}
	out := d.anys[:n:n]
	d.anys = d.anys[n:]
	copy(out, elems)
	return out
}

// parseEventJSON is the encoding/json path: slower, exact, and the source
// of every error message about a malformed line.
func parseEventJSON(line []byte) (Event, error) {
	if len(bytes.TrimSpace(line)) == 0 {
		return Event{}, errors.New("empty line: a history has exactly one event per line")
	}
	var w wireEvent
	dec := json.NewDecoder(bytes.NewReader(line))
	if err := dec.Decode(&w); err != nil {
		return Event{}, fmt.Errorf("not a JSON event: %w", err)
	}
	if dec.More() {
		return Event{}, errors.New("more than one JSON value on the line")
	}
	switch {
	case w.Index == nil:
		return Event{}, errors.New(`missing field "index"`)
	case w.Time == nil:
		return Event{}, errors.New(`missing field "time"`)
	case w.Process == nil:
		return Event{}, errors.New(`missing field "process"`)
	case w.Type == nil:
		return Event{}, errors.New(`missing field "type"`)
	case w.F == nil || *w.F == "":
		return Event{}, errors.New(`missing field "f"`)
	}
	switch *w.Type {
	case Invoke, OK, Fail, Info:
	default:
		return Event{}, fmt.Errorf("type must be invoke, ok, fail or info, got %q", *w.Type)
	}
	e := Event{
		Index: *w.Index, Time: *w.Time, Process: *w.Process, Type: *w.Type, F: *w.F,
		Key: w.Key, Node: w.Node, Nodes: w.Nodes, Error: w.Error,
	}
	if len(w.Value) > 0 {
		v, err := decodeValue(w.Value)
		if err != nil {
			return Event{}, fmt.Errorf("value: %w", err)
		}
		e.Value = v
	}
	return e, nil
}

// wireEvent is Event as it appears on the wire, with pointers for the fields
// every event must carry so that a missing one is an error rather than a
// silent zero (process 0 is a real process).
type wireEvent struct {
	Index   *int64          `json:"index"`
	Time    *int64          `json:"time"`
	Process *Process        `json:"process"`
	Type    *Type           `json:"type"`
	F       *string         `json:"f"`
	Key     string          `json:"key"`
	Value   json.RawMessage `json:"value"`
	Node    string          `json:"node"`
	Nodes   []string        `json:"nodes"`
	Error   string          `json:"error"`
}
