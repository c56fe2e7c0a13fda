package checker

import (
	"context"
	"slices"

	"github.com/dqtest/dqtest/history"
)

// Stream is one check in progress, fed the history a batch at a time, so
// that a checker keeps what it needs (per-key state, open operations)
// rather than every event.
type Stream interface {
	// Observe sees the next events, in order; first is the line of
	// batch[0]. The batch is reused once Observe returns: a stream copies
	// what it keeps, and never modifies it.
	Observe(batch []history.Event, first int)
	// Finish returns the result. src replays the same history, for what
	// the stream did not keep (the register checker reads back the events
	// of the keys it explains); ctx bounds the check as Check's does.
	Finish(ctx context.Context, src history.Source) Result
}

// Streamer is a Checker that can check a history as a stream.
type Streamer interface {
	Checker
	Stream() Stream
}

// Start begins ck's check of a history fed to it as a stream: its own
// stream when it has one; else a stream that collects the events and
// hands them to Check (the checker needs the whole history at once).
func Start(ck Checker) Stream {
	if s, ok := ck.(Streamer); ok {
		return s.Stream()
	}
	return &collecting{ck: ck}
}

// collecting keeps every event for a checker without a stream of its own.
type collecting struct {
	ck     Checker
	events []history.Event
}

func (c *collecting) Observe(batch []history.Event, _ int) { c.events = append(c.events, batch...) }

func (c *collecting) Finish(ctx context.Context, _ history.Source) Result {
	return c.ck.Check(ctx, slices.Clip(c.events))
}

// checkStream is Check through a checker's own stream: the one code path
// for a slice and a file.
func checkStream(ctx context.Context, s Stream, events []history.Event) Result {
	src := history.SliceSource(events)
	_, _, _ = src(func(batch []history.Event, first int) error {
		s.Observe(batch, first)
		return nil
	})
	return s.Finish(ctx, src)
}
