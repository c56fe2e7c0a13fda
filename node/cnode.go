package node

// #include <dqlite.h>
import "C"

import (
	"errors"
	"fmt"
	"reflect"
	"sync"

	"github.com/dqtest/dqtest/internal/peek"
)

// cnode is one C dqlite_node. go-dqlite creates and starts it (so it gets
// go-dqlite's version check and Go dial function for raft traffic); the
// Node stops, destroys and hands it over with direct C calls, because
// go-dqlite's Node.Close always does stop-then-destroy and never lets a
// caller make the calls the unguarded mode must be able to make: stop before
// start (canonical/dqlite#848), stop twice (#737), handover on any state.
type cnode struct {
	gonode *goNode
	h      *C.dqlite_node
}

// newCNode creates (but does not start) a C node. dqlite binds the listening
// socket here already, without listening on it.
func newCNode(id uint64, address, bindAddress, dir string, s Settings) (*cnode, error) {
	// dqlite registers each node's VFS in SQLite's process-wide VFS list
	// when it creates the node and removes it when it destroys it; two of
	// these at once in one process (several Nodes in one test binary) made
	// 1.18.7 abort in registry__init ("Assertion `vfs != NULL' failed",
	// seen once in make test). One process runs one node in a real
	// cluster; here creation and destruction take turns.
	vfsMu.Lock()
	defer vfsMu.Unlock()
	gonode, err := newGoNode(id, address, bindAddress, dir, s)
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

// cHandle returns the *C.dqlite_node under go-dqlite's Node: its field
// server, a *bindings.Node, whose field node is the C pointer.
func cHandle(n *goNode) (*C.dqlite_node, error) {
	v, err := peek.Field(n, reflect.Pointer, "server", "node")
	if err != nil {
		return nil, err
	}
	if v.IsNil() {
		return nil, errors.New("go-dqlite's bindings.Node has a nil C node")
	}
	return (*C.dqlite_node)(v.UnsafePointer()), nil
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
func (c *cnode) destroy() {
	vfsMu.Lock()
	defer vfsMu.Unlock()
	C.dqlite_node_destroy(c.h)
}

// vfsMu serialises creating and destroying C nodes (newCNode).
var vfsMu sync.Mutex

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
