package history

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// Writer appends events to a history, one JSON object per line. It is safe
// for concurrent use: clients and the nemesis share one Writer, which is the
// single point that orders the history.
//
// Every event is flushed to the operating system before Write returns, so a
// crash of the dqtest process loses nothing that Write acknowledged, and a
// crash in the middle of a write leaves at most one torn last line, which
// the Reader drops. Close also syncs the file, so the history survives a
// machine crash after a clean shutdown.
type Writer struct {
	mu     sync.Mutex
	bw     *bufio.Writer
	file   *os.File
	buf    bytes.Buffer
	enc    *json.Encoder
	next   int64
	last   int64
	err    error
	closed bool
}

// Create creates a new history file at path. It refuses to overwrite an
// existing file: a history is evidence, and appending a second run to it
// would make both unreadable.
func Create(path string) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	w := NewWriter(f)
	w.file = f
	return w, nil
}

// NewWriter returns a Writer that writes to out. Close does not close out.
func NewWriter(out io.Writer) *Writer {
	w := &Writer{bw: bufio.NewWriterSize(out, 64<<10)}
	w.enc = json.NewEncoder(&w.buf)
	w.enc.SetEscapeHTML(false)
	return w
}

// Write appends e and returns it as written: with Index set to its position
// (0, 1, ...) and Time raised, if needed, to the time of the event written
// before it.
//
// The caller takes e.Time from its clock (nanoseconds since the run
// started). Two goroutines may take their times in one order and reach the
// Writer in the other; raising the later-arriving time keeps the history
// monotonic without making it lie, provided clients follow the recording
// rule: write the invoke before sending the operation, and the completion
// after its answer arrived. Then a raised invoke time is still no later than
// the send, and a raised completion time is still no earlier than the
// answer, so every operation's recorded interval still contains its real
// one, which is all linearizability checking needs.
func (w *Writer) Write(e Event) (Event, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return e, errors.New("history: write after Close")
	}
	if w.err != nil {
		return e, w.err
	}
	e.Index = w.next
	if e.Time < w.last {
		e.Time = w.last
	}
	w.buf.Reset()
	if err := w.enc.Encode(e); err != nil {
		// Nothing was written: the history stays well formed.
		return e, fmt.Errorf("history: encoding event %d: %w", e.Index, err)
	}
	if _, err := w.bw.Write(w.buf.Bytes()); err != nil {
		w.err = err
		return e, err
	}
	if err := w.bw.Flush(); err != nil {
		w.err = err
		return e, err
	}
	w.next++
	w.last = e.Time
	return e, nil
}

// Close flushes the history and, for a file made by Create, syncs and
// closes it. It is idempotent.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	err := w.bw.Flush()
	if w.file != nil {
		err = errors.Join(err, w.file.Sync(), w.file.Close())
	}
	return err
}
