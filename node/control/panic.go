package control

import (
	"context"
	"fmt"
)

// PanicOnStop wraps n so that a stop request ends the process with a Go
// panic instead of stopping the node. It is a self-test and nothing else:
// `dqtest node --self-test-panic-on-stop` turns it on so that the crash
// detector can be shown a real Go panic from a real node process. The panic
// happens in a goroutine of its own, out of reach of the server's recover,
// as a panic inside go-dqlite or a callback would.
func PanicOnStop(n Node) Node { return panicOnStop{n} }

type panicOnStop struct{ Node }

func (p panicOnStop) Stop(ctx context.Context, mode string) error {
	go selfTestPanic(mode)
	<-ctx.Done() // the panic ends the process first
	return ctx.Err()
}

func selfTestPanic(mode string) {
	panic(fmt.Sprintf("self-test: panic on stop (mode %q)", mode))
}
