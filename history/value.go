package history

import (
	"bytes"
	"encoding/json"
	"math"
)

// Normalize returns v in the shape the Reader produces for it: integers
// int64, other numbers float64, arrays []any, objects map[string]any, null
// nil, strings and booleans unchanged. Checkers rely on that shape, and a
// history that never went through a file (the simulator hands its events
// straight to a checker) must look the same as one read back, so the rule is
// simply: Normalize(v) equals what reading the JSON encoding of v gives.
//
// A value already in normal form is returned as is, without copying, so
// calling Normalize on every value a checker inspects is cheap. A value that
// cannot be encoded as JSON is returned unchanged.
func Normalize(v any) any {
	n, _ := normalize(v)
	return n
}

// normalize returns the normal form of v and whether it differs from v.
func normalize(v any) (any, bool) {
	switch x := v.(type) {
	case nil, string, bool, int64:
		return v, false
	case int:
		return int64(x), true
	case int32:
		return int64(x), true
	case int16:
		return int64(x), true
	case int8:
		return int64(x), true
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint:
		return normalizeUint(uint64(x)), true
	case uint64:
		return normalizeUint(x), true
	case float32:
		return normalizeFloat(float64(x)), true
	case float64:
		n := normalizeFloat(x)
		_, changed := n.(int64)
		return n, changed
	case json.Number:
		return normalizeNumber(x), true
	case []any:
		return normalizeSlice(x)
	case map[string]any:
		return normalizeMap(x)
	}
	// Anything else (typed slices and maps, structs, pointers) takes the
	// round trip through JSON, which is by definition the normal form.
	b, err := json.Marshal(v)
	if err != nil {
		return v, false
	}
	out, err := decodeValue(b)
	if err != nil {
		return v, false
	}
	return out, true
}

func normalizeUint(x uint64) any {
	if x <= math.MaxInt64 {
		return int64(x)
	}
	return float64(x)
}

// normalizeFloat turns an integral float into int64 when JSON would print it
// without a fraction or exponent (encoding/json uses plain digits below 1e21)
// and it fits int64.
func normalizeFloat(f float64) any {
	if f == math.Trunc(f) && f >= -(1<<63) && f < 1<<63 && math.Abs(f) < 1e21 {
		return int64(f)
	}
	return f
}

func normalizeNumber(n json.Number) any {
	if i, err := n.Int64(); err == nil {
		return i
	}
	if f, err := n.Float64(); err == nil {
		return normalizeFloat(f)
	}
	return n.String()
}

func normalizeSlice(s []any) (any, bool) {
	var out []any
	for i, e := range s {
		n, changed := normalize(e)
		if changed && out == nil {
			out = make([]any, len(s))
			copy(out, s[:i])
		}
		if out != nil {
			out[i] = n
		}
	}
	if out == nil {
		return s, false
	}
	return out, true
}

func normalizeMap(m map[string]any) (any, bool) {
	var out map[string]any
	for k, e := range m {
		n, changed := normalize(e)
		if changed && out == nil {
			out = make(map[string]any, len(m))
			for k2, e2 := range m {
				out[k2] = e2
			}
		}
		if out != nil {
			out[k] = n
		}
	}
	if out == nil {
		return m, false
	}
	return out, true
}

// decodeValue decodes one JSON value with numbers kept exact, then
// normalises it.
func decodeValue(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return normalizeDecoded(v), nil
}

// normalizeDecoded normalises a value fresh from a decoder with UseNumber:
// only json.Number needs converting, and the containers may be changed in
// place because nobody else holds them.
func normalizeDecoded(v any) any {
	switch x := v.(type) {
	case json.Number:
		return normalizeNumber(x)
	case []any:
		for i := range x {
			x[i] = normalizeDecoded(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = normalizeDecoded(x[k])
		}
	}
	return v
}
