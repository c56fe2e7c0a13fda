package control

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// The framed protocol (docs/control-api.md, "Frames"): the harness's fast
// path for exec, query and txn. A client upgrades an HTTP/1.1 connection
// with GET /frames (Upgrade: dqtest-frames/1) and then sends requests and
// reads answers on it, one at a time, each as a frame: a 4-byte big-endian
// length and that many bytes. Inside a frame, integers are varints
// (encoding/binary's zig-zag Varint for signed values, Uvarint for counts
// and lengths), a string or blob is its length and its bytes, and a value is
// a tag byte and its data. The semantics are the JSON endpoints' exactly:
// the same validation, deadline, node calls and errors; only the encoding
// differs.

// FramesPath is the endpoint that upgrades a connection to frames, and
// FramesProtocol the Upgrade header's token.
const (
	FramesPath     = "/frames"
	FramesProtocol = "dqtest-frames/1"
)

// Request operations (the first byte of a request frame).
const (
	frameExec  byte = 'e'
	frameQuery byte = 'q'
	frameTxn   byte = 't'
)

// Value tags.
const (
	tagNull byte = 0
	tagInt  byte = 1 // zig-zag varint
	tagReal byte = 2 // 8 bytes, IEEE 754 bits, big-endian
	tagText byte = 3 // uvarint length, bytes
	tagBlob byte = 4 // uvarint length, bytes
)

// Answer status (the first byte of an answer frame).
const (
	answerOK    byte = 0
	answerError byte = 1
)

// frameRequest is a decoded request frame: for exec and query SQL and Args,
// for txn Statements.
type frameRequest struct {
	Op         byte
	TimeoutMS  int64
	DB         string
	SQL        string
	Args       []any
	Statements []Statement
}

// appendValue appends v's tagged form; the types are the JSON API's
// (int64, float64, string, []byte, nil; int and bool as integers).
func appendValue(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, tagNull), nil
	case int64:
		return binary.AppendVarint(append(b, tagInt), x), nil
	case int:
		return binary.AppendVarint(append(b, tagInt), int64(x)), nil
	case bool:
		i := int64(0)
		if x {
			i = 1
		}
		return binary.AppendVarint(append(b, tagInt), i), nil
	case float64:
		if math.IsNaN(x) {
			return b, fmt.Errorf("value NaN has no SQL form")
		}
		return binary.BigEndian.AppendUint64(append(b, tagReal), math.Float64bits(x)), nil
	case string:
		return append(binary.AppendUvarint(append(b, tagText), uint64(len(x))), x...), nil
	case []byte:
		return append(binary.AppendUvarint(append(b, tagBlob), uint64(len(x))), x...), nil
	}
	return b, fmt.Errorf("value of type %T: want int64, float64, string, []byte or nil", v)
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func appendArgs(b []byte, args []any) ([]byte, error) {
	b = binary.AppendUvarint(b, uint64(len(args)))
	for i, a := range args {
		var err error
		if b, err = appendValue(b, a); err != nil {
			return b, fmt.Errorf("argument %d: %v", i+1, err)
		}
	}
	return b, nil
}

// appendRequest appends a request frame's payload (without its length).
func appendRequest(b []byte, r *frameRequest) ([]byte, error) {
	b = append(b, r.Op)
	b = binary.AppendUvarint(b, uint64(max(r.TimeoutMS, 0)))
	b = appendString(b, r.DB)
	switch r.Op {
	case frameExec, frameQuery:
		b = appendString(b, r.SQL)
		return appendArgs(b, r.Args)
	case frameTxn:
		b = binary.AppendUvarint(b, uint64(len(r.Statements)))
		for i, s := range r.Statements {
			b = appendString(b, s.SQL)
			var err error
			if b, err = appendArgs(b, s.Args); err != nil {
				return b, fmt.Errorf("statement %d: %v", i, err)
			}
		}
		return b, nil
	}
	return b, fmt.Errorf("operation %q: want exec, query or txn", r.Op)
}

// errShort is a frame that ends inside a field.
var errShort = errors.New("frame ends early")

// reader reads a frame's payload.
type reader struct {
	b []byte
}

func (r *reader) byte() (byte, error) {
	if len(r.b) == 0 {
		return 0, errShort
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c, nil
}

func (r *reader) uvarint() (uint64, error) {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		if n == 0 {
			return 0, errShort
		}
		return 0, errors.New("varint overflows 64 bits")
	}
	r.b = r.b[n:]
	return v, nil
}

func (r *reader) varint() (int64, error) {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		if n == 0 {
			return 0, errShort
		}
		return 0, errors.New("varint overflows 64 bits")
	}
	r.b = r.b[n:]
	return v, nil
}

// count reads a count of items each at least min bytes long, refusing one
// the rest of the frame cannot hold (so a bad count allocates nothing).
func (r *reader) count(min int) (int, error) {
	n, err := r.uvarint()
	if err != nil {
		return 0, err
	}
	if n > uint64(len(r.b)/min) {
		return 0, fmt.Errorf("count %d: the frame has %d bytes left", n, len(r.b))
	}
	return int(n), nil
}

func (r *reader) bytes() ([]byte, error) {
	n, err := r.uvarint()
	if err != nil {
		return nil, err
	}
	if n > uint64(len(r.b)) {
		return nil, errShort
	}
	s := r.b[:n:n]
	r.b = r.b[n:]
	return s, nil
}

func (r *reader) string() (string, error) {
	b, err := r.bytes()
	return string(b), err
}

func (r *reader) value() (any, error) {
	tag, err := r.byte()
	if err != nil {
		return nil, err
	}
	switch tag {
	case tagNull:
		return nil, nil
	case tagInt:
		return r.varint()
	case tagReal:
		if len(r.b) < 8 {
			return nil, errShort
		}
		f := math.Float64frombits(binary.BigEndian.Uint64(r.b))
		r.b = r.b[8:]
		if math.IsNaN(f) {
			return nil, fmt.Errorf("value NaN has no SQL form")
		}
		return f, nil
	case tagText:
		return r.string()
	case tagBlob:
		b, err := r.bytes()
		if err != nil {
			return nil, err
		}
		return append([]byte{}, b...), nil
	}
	return nil, fmt.Errorf("value tag %d: want 0 (null), 1 (integer), 2 (real), 3 (text) or 4 (blob)", tag)
}

func (r *reader) args() ([]any, error) {
	n, err := r.count(1)
	if err != nil {
		return nil, err
	}
	args := make([]any, n)
	for i := range args {
		if args[i], err = r.value(); err != nil {
			return nil, fmt.Errorf("argument %d: %v", i+1, err)
		}
	}
	return args, nil
}

// parseRequest decodes a request frame's payload. Its errors are the
// request's fault: the server answers them as bad requests.
func parseRequest(b []byte) (*frameRequest, error) {
	r := &reader{b: b}
	req := &frameRequest{}
	var err error
	if req.Op, err = r.byte(); err != nil {
		return nil, err
	}
	ms, err := r.uvarint()
	if err != nil {
		return nil, fmt.Errorf("timeout: %v", err)
	}
	if ms > uint64(MaxTimeout.Milliseconds()) {
		ms = uint64(MaxTimeout.Milliseconds())
	}
	req.TimeoutMS = int64(ms)
	if req.DB, err = r.string(); err != nil {
		return nil, fmt.Errorf("db: %v", err)
	}
	switch req.Op {
	case frameExec, frameQuery:
		if req.SQL, err = r.string(); err != nil {
			return nil, fmt.Errorf("sql: %v", err)
		}
		if req.Args, err = r.args(); err != nil {
			return nil, err
		}
	case frameTxn:
		n, err := r.count(2)
		if err != nil {
			return nil, fmt.Errorf("statements: %v", err)
		}
		req.Statements = make([]Statement, n)
		for i := range req.Statements {
			s := &req.Statements[i]
			if s.SQL, err = r.string(); err != nil {
				return nil, fmt.Errorf("statement %d: sql: %v", i, err)
			}
			if s.Args, err = r.args(); err != nil {
				return nil, fmt.Errorf("statement %d: %v", i, err)
			}
		}
	default:
		return nil, fmt.Errorf("operation %q: want 'e' (exec), 'q' (query) or 't' (txn)", req.Op)
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%d bytes after the request", len(r.b))
	}
	return req, nil
}

// appendRows appends rows: a count, then each row as its column count and
// (name, value) pairs.
func appendRows(b []byte, rows []map[string]any) ([]byte, error) {
	b = binary.AppendUvarint(b, uint64(len(rows)))
	for i, row := range rows {
		b = binary.AppendUvarint(b, uint64(len(row)))
		for col, v := range row {
			b = appendString(b, col)
			var err error
			if b, err = appendValue(b, v); err != nil {
				return b, fmt.Errorf("row %d, column %q: %v", i, col, err)
			}
		}
	}
	return b, nil
}

// appendResults appends a successful answer: the status byte, then each
// result (last insert id, rows affected, whether rows follow, the rows).
func appendResults(b []byte, results []Result) ([]byte, error) {
	b = append(b, answerOK)
	b = binary.AppendUvarint(b, uint64(len(results)))
	for i, res := range results {
		b = binary.AppendVarint(b, res.LastInsertID)
		b = binary.AppendVarint(b, res.RowsAffected)
		if res.Rows == nil {
			b = append(b, 0)
			continue
		}
		b = append(b, 1)
		var err error
		if b, err = appendRows(b, res.Rows); err != nil {
			return b, fmt.Errorf("result %d: %v", i, err)
		}
	}
	return b, nil
}

// appendError appends an error answer: the status byte, the HTTP status
// the JSON API would answer, kind, message, code, extended code and the
// failing statement (a flag and an index).
func appendError(b []byte, e *Error) []byte {
	b = append(b, answerError)
	b = binary.AppendUvarint(b, uint64(e.HTTPStatus()))
	b = appendString(b, e.Kind)
	b = appendString(b, e.Message)
	b = binary.AppendVarint(b, int64(e.Code))
	b = binary.AppendVarint(b, int64(e.ExtendedCode))
	if e.Statement == nil {
		return append(b, 0)
	}
	return binary.AppendVarint(append(b, 1), int64(*e.Statement))
}

func (r *reader) rows() ([]map[string]any, error) {
	n, err := r.count(1)
	if err != nil {
		return nil, err
	}
	rows := make([]map[string]any, n)
	for i := range rows {
		cols, err := r.count(2)
		if err != nil {
			return nil, fmt.Errorf("row %d: %v", i, err)
		}
		row := make(map[string]any, cols)
		for range cols {
			col, err := r.string()
			if err != nil {
				return nil, fmt.Errorf("row %d: column name: %v", i, err)
			}
			if row[col], err = r.value(); err != nil {
				return nil, fmt.Errorf("row %d, column %q: %v", i, col, err)
			}
		}
		rows[i] = row
	}
	return rows, nil
}

// parseAnswer decodes an answer frame's payload: the results, or the
// error the server answered (an *Error with its HTTP status). A frame that
// does not decode is the second error.
func parseAnswer(b []byte) ([]Result, *Error, error) {
	r := &reader{b: b}
	status, err := r.byte()
	if err != nil {
		return nil, nil, err
	}
	switch status {
	case answerOK:
		n, err := r.count(3)
		if err != nil {
			return nil, nil, fmt.Errorf("results: %v", err)
		}
		results := make([]Result, n)
		for i := range results {
			res := &results[i]
			if res.LastInsertID, err = r.varint(); err != nil {
				return nil, nil, fmt.Errorf("result %d: %v", i, err)
			}
			if res.RowsAffected, err = r.varint(); err != nil {
				return nil, nil, fmt.Errorf("result %d: %v", i, err)
			}
			hasRows, err := r.byte()
			if err != nil {
				return nil, nil, fmt.Errorf("result %d: %v", i, err)
			}
			if hasRows != 0 {
				if res.Rows, err = r.rows(); err != nil {
					return nil, nil, fmt.Errorf("result %d: %v", i, err)
				}
			}
		}
		if len(r.b) != 0 {
			return nil, nil, fmt.Errorf("%d bytes after the answer", len(r.b))
		}
		return results, nil, nil
	case answerError:
		e := &Error{}
		st, err := r.uvarint()
		if err != nil {
			return nil, nil, fmt.Errorf("error status: %v", err)
		}
		e.Status = int(min(st, 999))
		if e.Kind, err = r.string(); err != nil {
			return nil, nil, fmt.Errorf("error kind: %v", err)
		}
		if e.Message, err = r.string(); err != nil {
			return nil, nil, fmt.Errorf("error message: %v", err)
		}
		code, err := r.varint()
		if err != nil {
			return nil, nil, fmt.Errorf("error code: %v", err)
		}
		ext, err := r.varint()
		if err != nil {
			return nil, nil, fmt.Errorf("error extended code: %v", err)
		}
		e.Code, e.ExtendedCode = int(code), int(ext)
		hasStmt, err := r.byte()
		if err != nil {
			return nil, nil, fmt.Errorf("error statement: %v", err)
		}
		if hasStmt != 0 {
			i, err := r.varint()
			if err != nil {
				return nil, nil, fmt.Errorf("error statement: %v", err)
			}
			stmt := int(i)
			e.Statement = &stmt
		}
		if len(r.b) != 0 {
			return nil, nil, fmt.Errorf("%d bytes after the error", len(r.b))
		}
		if e.Kind == "" {
			return nil, nil, errors.New("error without a kind")
		}
		return nil, e, nil
	}
	return nil, nil, fmt.Errorf("answer status %d: want 0 (ok) or 1 (error)", status)
}
