package scenario

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// Error is a problem with a scenario file, located at the line of
// the field it is about (Line 0 when the field is not in the file, e.g. a
// bad value given by a flag).
type Error struct {
	File  string
	Line  int
	Field string // dotted YAML path, e.g. "workload.keys"; empty when unknown
	Msg   string
}

func (e *Error) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc += ":" + strconv.Itoa(e.Line)
	}
	if e.Field == "" {
		return fmt.Sprintf("%s: %s", loc, e.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", loc, e.Field, e.Msg)
}

// yamlKey is one key of a YAML document: its dotted path and its line.
type yamlKey struct {
	path string
	line int
	col  int
}

// yamlKeys lists every key (and sequence item) of the file's first
// document, in file order, with paths such as "workload.mix.read" and
// "nemesis.faults[1]".
func yamlKeys(f *ast.File) []yamlKey {
	var keys []yamlKey
	var walk func(n ast.Node, prefix string)
	walk = func(n ast.Node, prefix string) {
		switch n := n.(type) {
		case *ast.DocumentNode:
			walk(n.Body, prefix)
		case *ast.MappingNode:
			for _, v := range n.Values {
				walk(v, prefix)
			}
		case *ast.MappingValueNode:
			name := n.Key.String()
			if s, ok := n.Key.(*ast.StringNode); ok {
				name = s.Value
			}
			p := name
			if prefix != "" {
				p = prefix + "." + name
			}
			tk := n.Key.GetToken()
			keys = append(keys, yamlKey{path: p, line: tk.Position.Line, col: tk.Position.Column})
			walk(n.Value, p)
		case *ast.SequenceNode:
			for i, v := range n.Values {
				p := fmt.Sprintf("%s[%d]", prefix, i)
				if tk := v.GetToken(); tk != nil {
					keys = append(keys, yamlKey{path: p, line: tk.Position.Line, col: tk.Position.Column})
				}
				walk(v, p)
			}
		case *ast.TagNode:
			walk(n.Value, prefix)
		case *ast.AnchorNode:
			walk(n.Value, prefix)
		}
	}
	if f != nil && len(f.Docs) > 0 {
		walk(f.Docs[0], "")
	}
	return keys
}

// lineOf returns the line of the key at path, 0 when the file lacks it.
// A path that is not in the file falls back to its closest ancestor that
// is ("workload.keys" to "workload"), since a default can be wrong only
// in the context the file gave it.
func lineOf(keys []yamlKey, path string) int {
	for path != "" {
		for _, k := range keys {
			if k.path == path {
				return k.line
			}
		}
		path = parentPath(path)
	}
	return 0
}

func parentPath(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '.' || p[i] == '[' {
			return p[:i]
		}
	}
	return ""
}

// fieldAt names the key a token belongs to: the last key on the token's
// line at or before its column, or else the last key before that line.
func fieldAt(keys []yamlKey, tk *token.Token) string {
	if tk == nil {
		return ""
	}
	line, col := tk.Position.Line, tk.Position.Column
	best := ""
	for _, k := range keys {
		if k.line < line || (k.line == line && k.col <= col) {
			best = k.path
		}
	}
	return best
}

var quotedRE = regexp.MustCompile(`"([^"]+)"`)

// locate turns a decoding error into a Error at its line. goccy's
// errors carry a token; the few that do not (a bad duration, an error from
// a field's own unmarshaller) quote the offending text, which is looked up
// among the file's scalars.
func locate(file string, f *ast.File, err error) *Error {
	keys := yamlKeys(f)
	var ye yaml.Error
	if errors.As(err, &ye) && ye.GetToken() != nil {
		tk := ye.GetToken()
		msg := ye.GetMessage()
		var te *yaml.TypeError
		if errors.As(err, &te) && te.DstType != nil {
			msg = fmt.Sprintf("expected %s, got %q", typeName(te.DstType), tk.Value)
		}
		return &Error{File: file, Line: tk.Position.Line, Field: fieldAt(keys, tk), Msg: msg}
	}
	for _, m := range quotedRE.FindAllStringSubmatch(err.Error(), -1) {
		if tk := findScalar(f, m[1]); tk != nil {
			return &Error{File: file, Line: tk.Position.Line, Field: fieldAt(keys, tk), Msg: err.Error()}
		}
	}
	return &Error{File: file, Msg: err.Error()}
}

// findScalar returns the token of the first scalar whose text is s.
func findScalar(f *ast.File, s string) *token.Token {
	if f == nil {
		return nil
	}
	var found *token.Token
	for _, d := range f.Docs {
		ast.Walk(visitFunc(func(n ast.Node) bool {
			if found != nil {
				return false
			}
			if _, ok := n.(ast.ScalarNode); ok && n.GetToken() != nil && n.GetToken().Value == s {
				found = n.GetToken()
				return false
			}
			return true
		}), d)
	}
	return found
}

type visitFunc func(ast.Node) bool

func (v visitFunc) Visit(n ast.Node) ast.Visitor {
	if v(n) {
		return v
	}
	return nil
}

// typeName says what a field wants in a scenario author's words.
func typeName(t reflect.Type) string {
	switch {
	case t == reflect.TypeOf(time.Duration(0)):
		return "a duration with a unit (30s, 500ms, 1m)"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return "an integer"
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return "a number"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Slice:
		return "a list"
	case t.Kind() == reflect.Map || t.Kind() == reflect.Struct:
		return "a mapping"
	}
	return t.String()
}

// fieldError is a bad value of one field, before it is located in a file.
type fieldError struct {
	field string
	msg   string
}

func (e *fieldError) Error() string { return e.field + ": " + e.msg }

func badField(field, format string, args ...any) error {
	return &fieldError{field: field, msg: fmt.Sprintf(format, args...)}
}
