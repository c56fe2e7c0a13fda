package workloads

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/dqtest/dqtest/history"
)

// failed maps an error to its honest completion: fail only when the error
// certainly means nothing took effect, info (unknown) otherwise. value is
// the invocation's value: an unknown write may still have happened, so the
// history keeps what was attempted.
func failed(err error, value any) Completion {
	if IsDefinite(err) {
		return Completion{Type: history.Fail, Value: value, Error: err.Error()}
	}
	return Completion{Type: history.Info, Value: value, Error: err.Error()}
}

// refused is the completion of an operation the workload did not send
// because it is malformed: nothing happened, so it is a fail.
func refused(op Op, format string, args ...any) Completion {
	return Completion{Type: history.Fail, Value: op.Value, Error: fmt.Sprintf("%s: ", op.F) + fmt.Sprintf(format, args...)}
}

// unreadable is the completion of an operation whose statements ran but
// whose result the workload cannot interpret (a client bug): the effect is
// unknown to the history, so it is info, never a guess.
func unreadable(op Op, format string, args ...any) Completion {
	return Completion{Type: history.Info, Value: op.Value, Error: fmt.Sprintf("%s: unreadable result: ", op.F) + fmt.Sprintf(format, args...)}
}

// AsInt converts a number as a client or a JSON decoder may hand it over
// (int64 from SQLite, float64 or json.Number from JSON) to int64, refusing
// fractions and out-of-range values rather than rounding them.
func AsInt(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case int:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case uint64:
		if x > math.MaxInt64 {
			return 0, fmt.Errorf("%d does not fit in an int64", x)
		}
		return int64(x), nil
	case float64:
		if x != math.Trunc(x) || x < math.MinInt64 || x >= math.MaxInt64 {
			return 0, fmt.Errorf("%v is not an integer", x)
		}
		return int64(x), nil
	case json.Number:
		return x.Int64()
	default:
		return 0, fmt.Errorf("%v (%T) is not an integer", v, v)
	}
}

// asInts converts a list of numbers, as []any or []int64, to []int64.
func asInts(v any) ([]int64, error) {
	switch x := v.(type) {
	case []int64:
		return x, nil
	case []any:
		out := make([]int64, len(x))
		for i, e := range x {
			n, err := AsInt(e)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		return out, nil
	default:
		return nil, fmt.Errorf("%v (%T) is not a list of integers", v, v)
	}
}

// column returns the integer column col of each row.
func column(rows []map[string]any, col string) ([]int64, error) {
	out := make([]int64, len(rows))
	for i, r := range rows {
		v, ok := r[col]
		if !ok {
			return nil, fmt.Errorf("row %d has no column %s", i, col)
		}
		n, err := AsInt(v)
		if err != nil {
			return nil, fmt.Errorf("row %d, column %s: %w", i, col, err)
		}
		out[i] = n
	}
	return out, nil
}

// list converts ints to the []any shape history values use.
func list(xs []int64) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}
