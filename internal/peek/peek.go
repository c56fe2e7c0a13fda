// Package peek reads unexported fields of go-dqlite that dqtest needs.
package peek

import (
	"fmt"
	"reflect"
	"unsafe"
)

// go-dqlite keeps two things dqtest needs out of reach: the C node under a
// dqlite.Node (for the unguarded stop) and the socket under a driver
// connection (to notice a peer that closed it). peek reads them through a
// path of unexported pointer fields, checking each field's name and kind, so
// that a go-dqlite whose layout changed yields an error instead of garbage.
//
// Verified layouts: the C node (dqlite.Node.server -> bindings.Node.node) is
// the same in go-dqlite v2.0.1 and v3.0.4 (the node package binds one or the
// other by build tag); the socket under a driver connection is read from
// v2.0.1's driver only, which dqtest uses with both (its client and driver
// are v3.0.4's but for import paths).

// Field follows the pointer fields named in path, starting at the struct
// pointer p, and returns the last field's value (readable). want is the kind
// of the last field.
func Field(p any, want reflect.Kind, path ...string) (reflect.Value, error) {
	v := reflect.ValueOf(p)
	typ := v.Type().String()
	for i, name := range path {
		if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
			return reflect.Value{}, fmt.Errorf("go-dqlite layout changed (verified: v2.0.1, v3.0.4): %s is not a pointer to a struct", typ)
		}
		f := v.Elem().FieldByName(name)
		kind := reflect.Pointer
		if i == len(path)-1 {
			kind = want
		}
		if !f.IsValid() || f.Kind() != kind {
			return reflect.Value{}, fmt.Errorf("go-dqlite layout changed (verified: v2.0.1, v3.0.4): %s has no %s field %s", typ, kind, name)
		}
		v = reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem()
		typ += "." + name
	}
	return v, nil
}
