package history

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
)

// ScanFile reads the history at path as ReadFile does, in parallel by
// chunks of lines, but hands the events to fn in order, a batch at a time,
// instead of keeping them all: memory stays bounded by a few chunks
// whatever the size of the history, for a reader (a checker, a report)
// that keeps only what it needs. first is the line of batch[0]. The batch
// is reused once fn returns: fn must copy what it keeps (the strings and
// values inside events may be kept as they are).
//
// It returns the number of events read and the number of a torn last line
// that was dropped (see Reader). An error from fn stops the scan and is
// returned as is; a malformed line is a *LineError, as from ReadFile, after
// fn has seen every event before it.
func ScanFile(path string, fn func(batch []Event, first int) error) (events, tornLine int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	if info, serr := f.Stat(); serr == nil && info.Mode().IsRegular() {
		events, tornLine, err = scan(f, chunkSize, fn)
	} else {
		events, tornLine, err = scanStream(f, fn)
	}
	var fnErr *callbackError
	if errors.As(err, &fnErr) {
		return events, 0, fnErr.err
	}
	if err != nil {
		return events, 0, fmt.Errorf("%s: %w", path, err)
	}
	return events, tornLine, nil
}

// callbackError carries fn's error past the path prefix.
type callbackError struct{ err error }

func (e *callbackError) Error() string { return e.err.Error() }
func (e *callbackError) Unwrap() error { return e.err }

// scanBatch is how many events scanStream hands over at a time.
const scanBatch = 4096

func scanStream(r io.Reader, fn func([]Event, int) error) (int, int, error) {
	rd := NewReader(r)
	batch := make([]Event, 0, scanBatch)
	n := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		first := n - len(batch) + 1
		if err := fn(batch, first); err != nil {
			return &callbackError{err}
		}
		clear(batch)
		batch = batch[:0]
		return nil
	}
	for {
		batch = append(batch, Event{})
		err := rd.next(&batch[len(batch)-1])
		if err != nil {
			batch = batch[:len(batch)-1]
			if ferr := flush(); ferr != nil {
				return n, 0, ferr
			}
			if errors.Is(err, io.EOF) {
				return n, rd.Torn(), nil
			}
			return n, 0, err
		}
		n++
		if len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return n, 0, err
			}
		}
	}
}

// scanned is one decoded chunk, waiting for its turn.
type scanned struct {
	events []Event
	err    error // a *LineError (after events) or a read error
	torn   int
}

func scan(f io.ReaderAt, size int, fn func([]Event, int) error) (int, int, error) {
	chunks, _, err := splitChunks(f, size)
	if err != nil {
		return 0, 0, err
	}
	workers := min(runtime.GOMAXPROCS(0), len(chunks))
	window := workers + 1 // chunks decoded ahead of fn at most: one each, and one waiting
	slots := make([]chan scanned, len(chunks))
	for i := range slots {
		slots[i] = make(chan scanned, 1)
	}
	tokens := make(chan struct{}, window)
	for range window {
		tokens <- struct{}{}
	}
	spare := make(chan []Event, window)
	var (
		next atomic.Int64
		stop atomic.Bool
		wg   sync.WaitGroup
	)
	defer func() {
		stop.Store(true)
		// Unblock workers waiting for a token, then let them finish.
		for range workers {
			select {
			case tokens <- struct{}{}:
			default:
			}
		}
		wg.Wait()
	}()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dec := newDecoder()
			var buf []byte
			for {
				<-tokens
				i := int(next.Add(1) - 1)
				if stop.Load() || i >= len(chunks) {
					select { // pass it on: another worker may be waiting
					case tokens <- struct{}{}:
					default:
					}
					return
				}
				c := chunks[i]
				var events []Event
				select {
				case events = <-spare:
				default:
				}
				if cap(events) < c.lines {
					events = make([]Event, c.lines)
				}
				events = events[:c.lines]
				if int64(cap(buf)) < c.len {
					buf = make([]byte, c.len)
				}
				slots[i] <- decodeChunk(dec, f, c, buf[:c.len], events)
			}
		}()
	}
	n := 0
	for i, c := range chunks {
		s := <-slots[i]
		if len(s.events) > 0 {
			n += len(s.events)
			if err := fn(s.events, c.firstLine); err != nil {
				return n, 0, &callbackError{err}
			}
		}
		if s.err != nil {
			return n, 0, s.err
		}
		if s.torn > 0 {
			return n, s.torn, nil
		}
		clear(s.events)
		select {
		case spare <- s.events[:0]:
		default:
		}
		tokens <- struct{}{}
	}
	return n, 0, nil
}

// decodeChunk reads chunk c into buf and decodes its lines into events.
func decodeChunk(dec *decoder, f io.ReaderAt, c chunk, buf []byte, events []Event) scanned {
	if _, err := f.ReadAt(buf, c.off); err != nil && err != io.EOF {
		return scanned{err: fmt.Errorf("line %d: %w", c.firstLine, err)}
	}
	b := buf
	for j := 0; len(b) > 0; j++ {
		var raw []byte
		if k := bytes.IndexByte(b, '\n'); k >= 0 {
			raw, b = b[:k], b[k+1:]
		} else {
			raw, b = b, nil
		}
		raw = bytes.TrimRight(raw, "\r\n")
		if err := dec.parse(raw, &events[j]); err != nil {
			line := c.firstLine + j
			if c.unterminated && isTorn(raw, false) {
				return scanned{events: events[:j], torn: line}
			}
			return scanned{events: events[:j], err: &LineError{Line: line, Err: err}}
		}
	}
	return scanned{events: events}
}
