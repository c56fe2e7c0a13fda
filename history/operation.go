package history

// Operation is a client operation: its invoke and its completion. A nil
// Completion means the operation is still open: the history ended before it
// completed, so its outcome is as unknown as an info's.
type Operation struct {
	Invoke     Event
	Completion *Event
}

// Outcome is the completion's type, or Info for an open operation.
func (o Operation) Outcome() Type {
	if o.Completion == nil {
		return Info
	}
	return o.Completion.Type
}

// Return is the completion's time. An operation whose outcome is unknown
// (info, or open) may take effect at any time after its invoke, so its
// return is unbounded: ok is false then.
func (o Operation) Return() (t int64, ok bool) {
	if o.Completion == nil || o.Completion.Type == Info {
		return 0, false
	}
	return o.Completion.Time, true
}

// Pair matches each client invoke with its completion, in invoke order.
// Nemesis events are left out. Each Completion points into events (a history
// of a million operations is not copied). Pair assumes a history that Validate accepts;
// on one it would reject, it pairs what it can (a completion with no open
// invoke is skipped) and never panics.
func Pair(events []Event) []Operation {
	invokes := 0
	for i := range events {
		if events[i].Type == Invoke && events[i].IsClient() {
			invokes++
		}
	}
	ops := make([]Operation, invokes)
	adviseHugePages(ops)
	n := 0
	var open procTable // process -> position in ops
	for i := range events {
		e := &events[i]
		if !e.IsClient() {
			continue
		}
		if e.Type == Invoke {
			open.set(e.Process, n)
			ops[n].Invoke = *e
			n++
			continue
		}
		at, ok := open.get(e.Process)
		if !ok {
			continue
		}
		ops[at].Completion = e
		open.del(e.Process)
	}
	return ops
}
