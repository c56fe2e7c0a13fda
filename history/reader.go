package history

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
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
	dec  *decoder
	line int
	torn int
}

// NewReader returns a Reader over r.
func NewReader(r io.Reader) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, 64<<10), dec: newDecoder()}
}

// Next returns the next event, or io.EOF after the last one. Any other error
// is a *LineError naming the line.
func (r *Reader) Next() (Event, error) {
	var e Event
	err := r.next(&e)
	return e, err
}

func (r *Reader) next(e *Event) error {
	b, err := r.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		// A line longer than the buffer: gather it whole.
		long := append([]byte(nil), b...)
		for errors.Is(err, bufio.ErrBufferFull) {
			b, err = r.br.ReadSlice('\n')
			long = append(long, b...)
		}
		b = long
	}
	if len(b) == 0 && err == io.EOF {
		return io.EOF
	}
	if err != nil && err != io.EOF {
		return fmt.Errorf("line %d: %w", r.line+1, err)
	}
	r.line++
	terminated := err == nil
	line := bytes.TrimRight(b, "\r\n")
	if perr := r.dec.parse(line, e); perr != nil {
		if isTorn(line, terminated) {
			r.torn = r.line
			return io.EOF
		}
		return &LineError{Line: r.line, Err: perr}
	}
	return nil
}

// isTorn says whether a line that failed to parse is a torn write: the
// writer died in the middle of it. Only an unterminated last line can be.
func isTorn(line []byte, terminated bool) bool {
	return !terminated && !json.Valid(line)
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
		var e Event
		err := rd.next(&e)
		if errors.Is(err, io.EOF) {
			return events, rd.Torn(), nil
		}
		if err != nil {
			return events, 0, err
		}
		events = append(events, e)
	}
}

// ReadFile reads the history stored at path; see ReadAll. It decodes a
// regular file in parallel, by chunks of whole lines, into a slice
// allocated once at its final size; the result is the same as ReadAll's.
func ReadFile(path string) (events []Event, tornLine int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	if info, serr := f.Stat(); serr == nil && info.Mode().IsRegular() {
		events, tornLine, err = readFile(f, chunkSize)
	} else {
		// A pipe or a device has no random access: stream it.
		events, tornLine, err = ReadAll(f)
		if err != nil {
			events = nil
		}
	}
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	return events, tornLine, nil
}

// chunkSize is how much of a file one worker decodes at a time.
const chunkSize = 4 << 20

// chunk is a run of whole lines of a file.
type chunk struct {
	off, len  int64
	firstLine int // number of its first line, from 1
	lines     int
	// unterminated: the chunk ends with the file's last line, which has
	// no newline after it.
	unterminated bool
}

// splitChunks reads f once and cuts it into chunks of about size bytes
// that end at line ends, counting their lines.
func splitChunks(f io.ReaderAt, size int) (chunks []chunk, lines int, err error) {
	buf := make([]byte, size)
	var off int64 // start of the chunk being cut
	carry := 0    // bytes of buf[:carry] already read, from off
	for {
		n, rerr := f.ReadAt(buf[carry:], off+int64(carry))
		if rerr != nil && rerr != io.EOF {
			return nil, 0, fmt.Errorf("line %d: %w", lines+1, rerr)
		}
		have := carry + n
		eof := rerr == io.EOF || n == 0
		end := bytes.LastIndexByte(buf[:have], '\n') + 1
		switch {
		case end > 0:
			c := chunk{off: off, len: int64(end), firstLine: lines + 1, lines: bytes.Count(buf[:end], []byte{'\n'})}
			chunks = append(chunks, c)
			lines += c.lines
			off += int64(end)
			carry = copy(buf, buf[end:have])
		case !eof:
			// A line longer than the buffer: grow it.
			buf = append(buf, make([]byte, len(buf))...)
			carry = have
			continue
		default:
			carry = have
		}
		if eof {
			if carry > 0 {
				chunks = append(chunks, chunk{off: off, len: int64(carry), firstLine: lines + 1, lines: 1, unterminated: true})
				lines++
			}
			return chunks, lines, nil
		}
	}
}

// readFile decodes f by chunks, in parallel.
func readFile(f io.ReaderAt, size int) ([]Event, int, error) {
	chunks, lines, err := splitChunks(f, size)
	if err != nil {
		return nil, 0, err
	}
	events := make([]Event, lines)
	adviseHugePages(events)
	var (
		next     atomic.Int64
		mu       sync.Mutex
		firstErr error
		errLine  = lines + 1
		torn     int
		wg       sync.WaitGroup
	)
	fail := func(line int, err error) {
		mu.Lock()
		defer mu.Unlock()
		if line < errLine {
			errLine, firstErr = line, err
		}
	}
	failedBefore := func(line int) bool {
		mu.Lock()
		defer mu.Unlock()
		return errLine < line
	}
	workers := min(runtime.GOMAXPROCS(0), len(chunks))
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dec := newDecoder()
			var buf []byte
			for {
				i := int(next.Add(1) - 1)
				if i >= len(chunks) {
					return
				}
				c := chunks[i]
				if failedBefore(c.firstLine) {
					return
				}
				if int64(cap(buf)) < c.len {
					buf = make([]byte, c.len)
				}
				b := buf[:c.len]
				if _, err := f.ReadAt(b, c.off); err != nil && !(err == io.EOF) {
					fail(c.firstLine, fmt.Errorf("line %d: %w", c.firstLine, err))
					return
				}
				line := c.firstLine
				for len(b) > 0 {
					var raw []byte
					if j := bytes.IndexByte(b, '\n'); j >= 0 {
						raw, b = b[:j], b[j+1:]
					} else {
						raw, b = b, nil
					}
					raw = bytes.TrimRight(raw, "\r\n")
					if err := dec.parse(raw, &events[line-1]); err != nil {
						if c.unterminated && isTorn(raw, false) {
							mu.Lock()
							torn = line
							mu.Unlock()
						} else {
							fail(line, &LineError{Line: line, Err: err})
						}
						break
					}
					line++
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, 0, firstErr
	}
	if torn > 0 {
		events[torn-1] = Event{}
		events = events[:torn-1]
	}
	if len(events) == 0 {
		events = nil // as ReadAll's
	}
	return events, torn, nil
}
