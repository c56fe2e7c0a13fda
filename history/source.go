package history

// Source replays a history from its start: it hands fn every event in
// order, a batch at a time (first is the line of batch[0], counting from
// 1), and returns how many events there were and the line of a torn last
// line that was dropped. A Source can be replayed: a reader that keeps
// only part of what it sees goes back for the rest (the events of one
// invalid key, to explain it). fn must not keep the batch once it returns
// (copy the events it keeps; the strings and values inside may be kept as
// they are) and must not modify it. An error from fn stops the replay and
// is returned as is; a malformed line is a *LineError, returned after fn
// has seen every event before it.
type Source func(fn func(batch []Event, first int) error) (events, tornLine int, err error)

// FileSource replays the history file at path with ScanFile: decoded in
// parallel, never held whole.
func FileSource(path string) Source {
	return func(fn func([]Event, int) error) (int, int, error) { return ScanFile(path, fn) }
}

// SliceSource replays events held in memory, in batches of up to
// scanBatch events.
func SliceSource(events []Event) Source {
	return func(fn func([]Event, int) error) (int, int, error) {
		for i := 0; i < len(events); i += scanBatch {
			if err := fn(events[i:min(len(events), i+scanBatch):min(len(events), i+scanBatch)], i+1); err != nil {
				return i, 0, err
			}
		}
		return len(events), 0, nil
	}
}

// Collect replays src into one slice: for readers that need the whole
// history at once.
func Collect(src Source) (events []Event, tornLine int, err error) {
	_, torn, err := src(func(batch []Event, _ int) error {
		events = append(events, batch...)
		return nil
	})
	return events, torn, err
}
