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
	var opened procTable // process -> position of its open invoke
	var infoAt procTable // process -> line of its info
	for i := range events {
		e := &events[i]
		line := i + 1
		switch e.Type {
		case Invoke, OK, Fail, Info:
		default:
			return invalid(e, line, "type must be invoke, ok, fail or info, got %q", e.Type)
		}
		if e.F == "" {
			return invalid(e, line, "missing f")
		}
		if i > 0 && e.Index <= events[i-1].Index {
			return invalid(e, line, "index does not increase (previous event has index %d)", events[i-1].Index)
		}
		if e.Time < 0 {
			return invalid(e, line, "negative time %d", e.Time)
		}
		if i > 0 && e.Time < events[i-1].Time {
			return invalid(e, line, "time goes backwards: %d after %d", e.Time, events[i-1].Time)
		}
		if !e.IsClient() {
			continue
		}
		if at, ok := infoAt.get(e.Process); ok {
			return invalid(e, line, "process %v got info at line %d and must not issue another operation (a new client continues as a new process)", e.Process, at)
		}
		pos, isOpen := opened.get(e.Process)
		if e.Type == Invoke {
			if isOpen {
				return invalid(e, line, "process %v invokes %s while its %s invoked at line %d is still open", e.Process, e.F, events[pos].F, pos+1)
			}
			opened.set(e.Process, i)
			continue
		}
		if !isOpen {
			return invalid(e, line, "%s %s of process %v matches no open invoke", e.Type, e.F, e.Process)
		}
		if o := &events[pos]; e.F != o.F || e.Key != o.Key {
			return invalid(e, line, "%s %s (key %q) of process %v does not match its invoke %s (key %q) at line %d", e.Type, e.F, e.Key, e.Process, o.F, o.Key, pos+1)
		}
		opened.del(e.Process)
		if e.Type == Info {
			infoAt.set(e.Process, line)
		}
	}
	return nil
}

func invalid(e *Event, line int, format string, args ...any) error {
	return &LineError{Line: line, Err: fmt.Errorf("index %d: "+format, append([]any{e.Index}, args...)...)}
}
