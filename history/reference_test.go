package history

// The reference decoder: the Reader as it was before the decoder of
// decode.go, built on encoding/json (a line into a struct with the value as
// json.RawMessage, the value through a second decoder with UseNumber, then
// normalised). Kept here, verbatim but renamed, so the tests can hold the
// fast decoder to it: same events, same torn lines, same errors.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

type refReader struct {
	br   *bufio.Reader
	line int
	torn int
}

func newRefReader(r io.Reader) *refReader {
	return &refReader{br: bufio.NewReaderSize(r, 64<<10)}
}

func (r *refReader) Next() (Event, error) {
	b, err := r.br.ReadBytes('\n')
	if len(b) == 0 && err == io.EOF {
		return Event{}, io.EOF
	}
	if err != nil && err != io.EOF {
		return Event{}, fmt.Errorf("line %d: %w", r.line+1, err)
	}
	r.line++
	terminated := err == nil
	line := bytes.TrimRight(b, "\r\n")
	e, perr := refParseEvent(line)
	if perr != nil {
		if !terminated && !json.Valid(line) {
			r.torn = r.line
			return Event{}, io.EOF
		}
		return Event{}, &LineError{Line: r.line, Err: perr}
	}
	return e, nil
}

func refReadAll(r io.Reader) (events []Event, tornLine int, err error) {
	rd := newRefReader(r)
	for {
		e, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return events, rd.torn, nil
		}
		if err != nil {
			return events, 0, err
		}
		events = append(events, e)
	}
}

func refParseEvent(line []byte) (Event, error) {
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
		v, err := refDecodeValue(w.Value)
		if err != nil {
			return Event{}, fmt.Errorf("value: %w", err)
		}
		e.Value = v
	}
	return e, nil
}

func refDecodeValue(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return refNormalizeDecoded(v), nil
}

func refNormalizeDecoded(v any) any {
	switch x := v.(type) {
	case json.Number:
		return normalizeNumber(x)
	case []any:
		for i := range x {
			x[i] = refNormalizeDecoded(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = refNormalizeDecoded(x[k])
		}
	}
	return v
}
