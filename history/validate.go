package history

import (
	"fmt"
)

// Validate checks that events form a well-formed history and returns a
// *LineError for the first event that breaks a rule. Line is the event's
// position counting from 1, which is its line in the file it was read from.
//
// The rules (docs/history.md, "Well-formedness"):
//   - every event has a type (invoke, ok, fail, info) and an f;
//   - indexes strictly increase; times are non-negative and never decrease;
//   - a client process has at most one operation open: it invokes only when
//     its previous operation completed;
//   - every completion (ok, fail, info) of a client process matches its open
//     invoke, with the same f and key;
//   - a client process that got info issues nothing more (Jepsen's rule: its
//     operation may still be in flight, so the client continues as a new
//     process).
//
// Nemesis events are exempt from the pairing rules: a fault is usually one
// info event, sometimes an invoke followed by its info.
//
// An invoke still open at the end is allowed: the history ended (or the
// writer crashed) before the operation completed, and checkers treat it as
// info.
func Validate(events []Event) error {
	var v Validator
	for i := range events {
		if err := v.Add(&events[i]); err != nil {
			return err
		}
	}
	return nil
}

// Validator checks the rules of Validate one event at a time, for a
// history read as a stream: it keeps the open invokes, not the events.
// The zero value is ready to use.
type Validator struct {
	line                int // events added so far
	prevIndex, prevTime int64
	opened              procTable // process -> slot in open
	open                []openInvoke
	free                []int     // slots of open to reuse
	infoAt              procTable // process -> line of its info
}

type openInvoke struct {
	line   int
	f, key string
}

// Add checks the next event. Its error, a *LineError, names the event's
// line (its position from 1); after an error the Validator is spent.
func (v *Validator) Add(e *Event) error {
	v.line++
	line := v.line
	switch e.Type {
	case Invoke, OK, Fail, Info:
	default:
		return invalid(e, line, "type must be invoke, ok, fail or info, got %q", e.Type)
	}
	if e.F == "" {
		return invalid(e, line, "missing f")
	}
	if line > 1 && e.Index <= v.prevIndex {
		return invalid(e, line, "index does not increase (previous event has index %d)", v.prevIndex)
	}
	if e.Time < 0 {
		return invalid(e, line, "negative time %d", e.Time)
	}
	if line > 1 && e.Time < v.prevTime {
		return invalid(e, line, "time goes backwards: %d after %d", e.Time, v.prevTime)
	}
	v.prevIndex, v.prevTime = e.Index, e.Time
	if !e.IsClient() {
		return nil
	}
	if at, ok := v.infoAt.get(e.Process); ok {
		return invalid(e, line, "process %v got info at line %d and must not issue another operation (a new client continues as a new process)", e.Process, at)
	}
	slot, isOpen := v.opened.get(e.Process)
	if e.Type == Invoke {
		if isOpen {
			o := v.open[slot]
			return invalid(e, line, "process %v invokes %s while its %s invoked at line %d is still open", e.Process, e.F, o.f, o.line)
		}
		o := openInvoke{line: line, f: e.F, key: e.Key}
		if n := len(v.free); n > 0 {
			slot = v.free[n-1]
			v.free = v.free[:n-1]
			v.open[slot] = o
		} else {
			slot = len(v.open)
			v.open = append(v.open, o)
		}
		v.opened.set(e.Process, slot)
		return nil
	}
	if !isOpen {
		return invalid(e, line, "%s %s of process %v matches no open invoke", e.Type, e.F, e.Process)
	}
	if o := v.open[slot]; e.F != o.f || e.Key != o.key {
		return invalid(e, line, "%s %s (key %q) of process %v does not match its invoke %s (key %q) at line %d", e.Type, e.F, e.Key, e.Process, o.f, o.key, o.line)
	}
	v.opened.del(e.Process)
	v.open[slot] = openInvoke{}
	v.free = append(v.free, slot)
	if e.Type == Info {
		v.infoAt.set(e.Process, line)
	}
	return nil
}

func invalid(e *Event, line int, format string, args ...any) error {
	return &LineError{Line: line, Err: fmt.Errorf("index %d: "+format, append([]any{e.Index}, args...)...)}
}
