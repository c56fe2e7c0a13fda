package node

// #include <dqlite.h>
import "C"

import (
	"errors"
	"fmt"
	"reflect"
	"unsafe"

	dqlite "github.com/canonical/go-dqlite/v2"
)

// cnode is one C dqlite_node. go-dqlite creates and starts it (so it gets
// go-dqlite's version check and Go dial function for raft traffic); the
// Node stops, destroys and hands it over with direct C calls, because
// go-dqlite's Node.Close always does stop-then-destroy and never lets a
// caller make the calls the unguarded mode must be able to make: stop before
// start (canonical/dqlite#848), stop twice (#737), handover on any state.
type cnode struct {
	gonode *dqlite.Node
	h      *C.dqlite_node
}

// newCNode creates (but does not start) a C node. dqlite binds the listening
// socket here already, without listening on it.
func newCNode(id uint64, address, bindAddress, dir string) (*cnode, error) {
	gonode, err := dqlite.New(id, address, dir, dqlite.WithBindAddress(bindAddress))
	if err != nil {
		return nil, err
	}
	h, err := cHandle(gonode)
	if err != nil {
		// Not started, so destroy is the whole cleanup; it needs the handle
		// we could not get, so go-dqlite's Close (stop, destroy) is no option
		// either: leak it, this only happens if go-dqlite's layout changed.
		return nil, err
	}
	return &cnode{gonode: gonode, h: h}, nil
}

// cHandle digs the *C.dqlite_node out of go-dqlite's Node (field server, a
// *bindings.Node whose field node is the C pointer). The layout is checked by
// name and kind, so a go-dqlite upgrade that changes it fails here with an
// error instead of reading garbage; it is pinned to v2.0.1 in go.mod.
func cHandle(n *dqlite.Node) (*C.dqlite_node, error) {
	server := reflect.ValueOf(n).Elem().FieldByName("server")
	if !server.IsValid() || server.Kind() != reflect.Pointer {
		return nil, errors.New("go-dqlite's Node has no field server: the layout cHandle expects (v2.0.1) changed")
	}
	bindings := reflect.NewAt(server.Type(), unsafe.Pointer(server.UnsafeAddr())).Elem()
	if bindings.IsNil() {
		return nil, errors.New("go-dqlite's Node has a nil server")
	}
	field := bindings.Elem().FieldByName("node")
	if !field.IsValid() || field.Kind() != reflect.Pointer {
		return nil, errors.New("go-dqlite's bindings.Node has no field node: the layout cHandle expects (v2.0.1) changed")
	}
	p := *(*unsafe.Pointer)(unsafe.Pointer(field.UnsafeAddr()))
	if p == nil {
		return nil, errors.New("go-dqlite's bindings.Node has a nil C node")
	}
	return (*C.dqlite_node)(p), nil
}

// start runs dqlite_node_start through go-dqlite.
func (c *cnode) start() error { return c.gonode.Start() }

// stop calls dqlite_node_stop, exactly once per call, whatever the state.
func (c *cnode) stop() error {
	if rc := C.dqlite_node_stop(c.h); rc != 0 {
		return fmt.Errorf("dqlite_node_stop returned %d", int(rc))
	}
	return nil
}

// destroy calls dqlite_node_destroy. Valid after a stop, or on a node that
// never started.
func (c *cnode) destroy() { C.dqlite_node_destroy(c.h) }

// handover calls dqlite_node_handover: if this node leads, raft transfers
// leadership to the most up-to-date voter; then dqlite hands over the voter
// role if a non-voter can take it. It blocks until done, with no timeout of
// its own, and never returns on a node that is not running.
func (c *cnode) handover() error {
	if rc := C.dqlite_node_handover(c.h); rc != 0 {
		return fmt.Errorf("dqlite_node_handover returned %d", int(rc))
	}
	return nil
}
