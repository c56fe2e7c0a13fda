package control

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// SQL values on the wire (both directions): an integer is a JSON number
// without fraction or exponent (int64), a real always has one (2.0, not 2,
// so it stays a real), text is a string, NULL is null, and a blob is
// {"blob": "<base64>"}. A boolean is taken as the integer 1 or 0, as SQLite
// stores it.

func encodeValue(v any) (json.RawMessage, error) {
	switch x := v.(type) {
	case nil:
		return json.RawMessage("null"), nil
	case int64:
		return json.RawMessage(strconv.FormatInt(x, 10)), nil
	case int:
		return json.RawMessage(strconv.Itoa(x)), nil
	case bool:
		if x {
			return json.RawMessage("1"), nil
		}
		return json.RawMessage("0"), nil
	case float64:
		switch {
		case math.IsNaN(x):
			return nil, fmt.Errorf("value NaN has no SQL form")
		case math.IsInf(x, 1):
			return json.RawMessage("1e999"), nil
		case math.IsInf(x, -1):
			return json.RawMessage("-1e999"), nil
		}
		s := strconv.FormatFloat(x, 'g', -1, 64)
		if !strings.ContainsAny(s, ".e") {
			s += ".0"
		}
		return json.RawMessage(s), nil
	case string:
		return json.Marshal(x)
	case []byte:
		return json.Marshal(map[string]string{"blob": base64.StdEncoding.EncodeToString(x)})
	}
	return nil, fmt.Errorf("value of type %T: want int64, float64, string, []byte or nil", v)
}

func decodeValue(raw json.RawMessage) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("value %s: %v", raw, err)
	}
	switch x := v.(type) {
	case nil, string:
		return x, nil
	case bool:
		if x {
			return int64(1), nil
		}
		return int64(0), nil
	case json.Number:
		s := x.String()
		if strings.ContainsAny(s, ".eE") {
			f, err := strconv.ParseFloat(s, 64)
			if err != nil && !math.IsInf(f, 0) {
				return nil, fmt.Errorf("value %s: %v", s, err)
			}
			return f, nil
		}
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("value %s: not an int64 (write a real with a fraction)", s)
		}
		return i, nil
	case map[string]any:
		if b64, ok := x["blob"].(string); ok && len(x) == 1 {
			b, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				return nil, fmt.Errorf("blob %q: %v", b64, err)
			}
			if b == nil {
				b = []byte{}
			}
			return b, nil
		}
	}
	return nil, fmt.Errorf(`value %s: want a number, a string, null or {"blob": "<base64>"}`, raw)
}

func encodeValues(vs []any) ([]json.RawMessage, error) {
	out := make([]json.RawMessage, len(vs))
	for i, v := range vs {
		var err error
		if out[i], err = encodeValue(v); err != nil {
			return nil, fmt.Errorf("argument %d: %v", i+1, err)
		}
	}
	return out, nil
}

func decodeValues(raws []json.RawMessage) ([]any, error) {
	out := make([]any, len(raws))
	for i, r := range raws {
		var err error
		if out[i], err = decodeValue(r); err != nil {
			return nil, fmt.Errorf("argument %d: %v", i+1, err)
		}
	}
	return out, nil
}

func encodeRows(rows []map[string]any) ([]map[string]json.RawMessage, error) {
	out := make([]map[string]json.RawMessage, len(rows))
	for i, row := range rows {
		out[i] = make(map[string]json.RawMessage, len(row))
		for col, v := range row {
			raw, err := encodeValue(v)
			if err != nil {
				return nil, fmt.Errorf("row %d, column %q: %v", i, col, err)
			}
			out[i][col] = raw
		}
	}
	return out, nil
}

func decodeRows(rows []map[string]json.RawMessage) ([]map[string]any, error) {
	out := make([]map[string]any, len(rows))
	for i, row := range rows {
		out[i] = make(map[string]any, len(row))
		for col, raw := range row {
			v, err := decodeValue(raw)
			if err != nil {
				return nil, fmt.Errorf("row %d, column %q: %v", i, col, err)
			}
			out[i][col] = v
		}
	}
	return out, nil
}

// Wire forms of requests and answers.
type (
	wireStatement struct {
		SQL  string            `json:"sql"`
		Args []json.RawMessage `json:"args,omitempty"`
	}
	wireResult struct {
		LastInsertID int64                        `json:"last_insert_id"`
		RowsAffected int64                        `json:"rows_affected"`
		Rows         []map[string]json.RawMessage `json:"rows,omitempty"`
	}
	execRequest struct {
		SQL       string            `json:"sql"`
		Args      []json.RawMessage `json:"args"`
		DB        string            `json:"db,omitempty"`
		TimeoutMS int64             `json:"timeout_ms"`
	}
	queryAnswer struct {
		Rows []map[string]json.RawMessage `json:"rows"`
	}
	txnRequest struct {
		Statements []wireStatement `json:"statements"`
		DB         string          `json:"db,omitempty"`
		TimeoutMS  int64           `json:"timeout_ms"`
	}
	txnAnswer struct {
		Results []wireResult `json:"results"`
	}
	timeoutRequest struct {
		TimeoutMS int64 `json:"timeout_ms"`
	}
	transferRequest struct {
		ToID      uint64 `json:"to_id"`
		TimeoutMS int64  `json:"timeout_ms"`
	}
	memberRemoveRequest struct {
		ID        uint64 `json:"id"`
		TimeoutMS int64  `json:"timeout_ms"`
	}
	memberAddRequest struct {
		ID        uint64 `json:"id"`
		Address   string `json:"address"`
		Role      string `json:"role"`
		TimeoutMS int64  `json:"timeout_ms"`
	}
	stopRequest struct {
		Mode      string `json:"mode"`
		TimeoutMS int64  `json:"timeout_ms"`
	}
	errorAnswer struct {
		Error *Error `json:"error"`
	}
)
