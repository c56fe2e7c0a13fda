package docker

import (
	"context"
	"sync"
	"testing"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/require"
	"github.com/testcontainers/testcontainers-go"
)

// netEngine is an engine's network list, and nothing else of the API.
type netEngine struct {
	client.APIClient
	mu      sync.Mutex
	names   []string
	created int
}

func (e *netEngine) NetworkList(context.Context, client.NetworkListOptions) (client.NetworkListResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var res client.NetworkListResult
	for _, n := range e.names {
		res.Items = append(res.Items, network.Summary{Network: network.Network{Name: n}})
	}
	return res, nil
}

func (e *netEngine) NetworkCreate(_ context.Context, name string, _ client.NetworkCreateOptions) (client.NetworkCreateResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.names = append(e.names, name) // Docker allows a second network of one name
	e.created++
	return client.NetworkCreateResult{}, nil
}

// Three nodes starting at once on an engine without a bridge network make
// testcontainers-go's default network once, not three times.
func TestTheDefaultNetworkIsMadeOnceOnAnEngineWithoutABridge(t *testing.T) {
	e := &netEngine{names: []string{"host", "none"}}
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() { require.NoError(t, ensureDefaultNetwork(t.Context(), e)) })
	}
	wg.Wait()
	require.Equal(t, 1, e.created)
	require.Contains(t, e.names, testcontainers.ReaperDefault)

	withBridge := &netEngine{names: []string{"bridge", "host", "none"}}
	require.NoError(t, ensureDefaultNetwork(t.Context(), withBridge))
	require.Zero(t, withBridge.created, "an engine with a bridge network needs nothing")
}
