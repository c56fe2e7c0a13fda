package history

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// LineError is a problem with one line of a history: malformed JSON, a
// missing field, or a well-formedness rule broken (Validate). Line counts
// from 1, as editors do.
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// Reader reads a history one event at a time, so a checker never needs more
// than the events themselves in memory. Values come back normalised (see
// Normalize).
//
// A crash of the writer can leave the last line torn: a prefix of an event
// with no newline after it. The Reader drops such a line and reports it
// through Torn, because losing the last event is exactly what a crash is
// allowed to cost; a malformed line anywhere else is an error.
type Reader struct {
	br   *bufio.Reader
	line int
	torn int
}

// NewReader returns a Reader over r.
func NewReader(r io.Reader) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, 64<<10)}
}

// Next returns the next event, or io.EOF after the last one. Any other error
// is a *LineError naming the line.
func (r *Reader) Next() (Event, error) {
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
	e, perr := parseEvent(line)
	if perr != nil {
		if !terminated && !json.Valid(line) {
			// A torn write: the writer died in the middle of this line.
			r.torn = r.line
			return Event{}, io.EOF
		}
		return Event{}, &LineError{Line: r.line, Err: perr}
	}
	return e, nil
}

// Line is the line number of the event Next returned last.
func (r *Reader) Line() int { return r.line }

// Torn is the number of the torn last line that was dropped, or 0.
func (r *Reader) Torn() int { return r.torn }

// ReadAll reads every event of r. tornLine is the number of a torn last line
// that was dropped (0 when the history ended cleanly).
func ReadAll(r io.Reader) (events []Event, tornLine int, err error) {
	rd := NewReader(r)
	for {
		e, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return events, rd.Torn(), nil
		}
		if err != nil {
			return events, 0, err
		}
		events = append(events, e)
	}
}

// ReadFile reads the history stored at path; see ReadAll.
func ReadFile(path string) (events []Event, tornLine int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	events, tornLine, err = ReadAll(f)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	return events, tornLine, nil
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

func parseEvent(line []byte) (Event, error) {
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
