package nemesis

import (
	"context"
	"errors"
	"fmt"
)

// DiskFaulter is a Cluster whose nodes keep their data directories on a
// volume of limited size, so that the volume can be filled. It is optional:
// a backend that cannot fill a node's disk (the simulator) leaves it out,
// and a disk step on it records ErrUnsupported instead of doing nothing
// silently.
type DiskFaulter interface {
	// FillDisk fills the volume holding node's data directory (a balloon
	// file), so that the node's next write that needs space fails with
	// ENOSPC. It works whatever state the node's process is in.
	FillDisk(ctx context.Context, node string) error
	// FreeDisk deletes the balloon again.
	FreeDisk(ctx context.Context, node string) error
}

// ErrUnsupported is recorded when a step needs a capability the backend
// does not have (DiskFaulter, PacketFaulter).
var ErrUnsupported = errors.New("the backend cannot do this fault")

// Wrapper is a Cluster that wraps another (the harness watches some calls
// on its way to the backend). The optional capabilities (DiskFaulter,
// PacketFaulter) are looked for through Unwrap, so a wrapper need not
// forward each of them.
type Wrapper interface {
	Unwrap() Cluster
}

// capability finds T on c or on the clusters it wraps.
func capability[T any](c Cluster) (T, bool) {
	for c != nil {
		if t, ok := c.(T); ok {
			return t, true
		}
		w, ok := c.(Wrapper)
		if !ok {
			break
		}
		c = w.Unwrap()
	}
	var zero T
	return zero, false
}

func fillDisk(c Cluster, ctx context.Context, node string) error {
	d, ok := capability[DiskFaulter](c)
	if !ok {
		return fmt.Errorf("disk: %w (%T has no FillDisk)", ErrUnsupported, c)
	}
	return d.FillDisk(ctx, node)
}

func freeDisk(c Cluster, ctx context.Context, node string) error {
	d, ok := capability[DiskFaulter](c)
	if !ok {
		return fmt.Errorf("disk: %w (%T has no FreeDisk)", ErrUnsupported, c)
	}
	return d.FreeDisk(ctx, node)
}
