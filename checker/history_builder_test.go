package checker

import (
	"github.com/dqtest/dqtest/history"
)

// histBuilder writes small histories for tests: each event gets the next
// index and a time 10 ns after the previous one, so the order of calls is
// the real-time order.
type histBuilder struct{ events []history.Event }

func newHist() *histBuilder { return &histBuilder{} }

func (b *histBuilder) add(p history.Process, typ history.Type, f, key string, v any) *histBuilder {
	n := int64(len(b.events))
	b.events = append(b.events, history.Event{Index: n, Time: 10 * (n + 1), Process: p, Type: typ, F: f, Key: key, Value: history.Normalize(v)})
	return b
}

// on sets the node that served the last event.
func (b *histBuilder) on(node string) *histBuilder {
	b.events[len(b.events)-1].Node = node
	return b
}

func (b *histBuilder) invoke(p history.Process, f, key string, v any) *histBuilder {
	return b.add(p, history.Invoke, f, key, v)
}
func (b *histBuilder) ok(p history.Process, f, key string, v any) *histBuilder {
	return b.add(p, history.OK, f, key, v)
}
func (b *histBuilder) fail(p history.Process, f, key string, v any) *histBuilder {
	return b.add(p, history.Fail, f, key, v)
}
func (b *histBuilder) info(p history.Process, f, key string, v any) *histBuilder {
	return b.add(p, history.Info, f, key, v)
}

// nemesis adds a fault event.
func (b *histBuilder) nemesis(f string, nodes ...string) *histBuilder {
	b.add(history.Nemesis, history.Info, f, "", nil)
	b.events[len(b.events)-1].Nodes = nodes
	return b
}

// op adds a whole operation: invoke, then its completion right after.
func (b *histBuilder) op(p history.Process, typ history.Type, f, key string, in, out any) *histBuilder {
	return b.invoke(p, f, key, in).add(p, typ, f, key, out)
}

func (b *histBuilder) build() []history.Event { return b.events }
