package docker

import (
	"context"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/stretchr/testify/require"
)

// What a run killed hard leaves: a labelled network, a container on it
// (created, never started: the state does not matter to the removal) and
// a volume. Leftovers lists exactly them, Cleanup removes them.
func TestLeftoversListsWhatARunLeftAndCleanupRemovesIt(t *testing.T) {
	requireDockerAndImage(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	docker, err := dockerClient(ctx)
	require.NoError(t, err)
	defer docker.Close()

	run := testRunID("leftover")
	other := testRunID("bystander")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = Cleanup(ctx, run)
		_ = Cleanup(ctx, other)
	})
	labels := func(r string) map[string]string { return map[string]string{labelTestcontainers: "true", labelRun: r} }
	net, err := docker.NetworkCreate(ctx, "dqtest-"+run, client.NetworkCreateOptions{Driver: "bridge", Labels: labels(run)})
	require.NoError(t, err)
	ctr, err := docker.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name:       "dqtest-" + run + "-n1",
		Config:     &container.Config{Image: DefaultImage, Labels: labels(run)},
		HostConfig: &container.HostConfig{NetworkMode: container.NetworkMode("dqtest-" + run)},
	})
	require.NoError(t, err)
	_, err = docker.VolumeCreate(ctx, client.VolumeCreateOptions{Name: "dqtest-" + run + "-data", Labels: labels(run)})
	require.NoError(t, err)
	// Another run's network: listed among every run's, untouched by this
	// run's cleanup.
	_, err = docker.NetworkCreate(ctx, "dqtest-"+other, client.NetworkCreateOptions{Driver: "bridge", Labels: labels(other)})
	require.NoError(t, err)

	found, err := Leftovers(ctx, run)
	require.NoError(t, err)
	var names []string
	for _, l := range found {
		require.Equal(t, run, l.Run)
		names = append(names, l.Kind+" "+l.Name)
	}
	require.Equal(t, []string{"container dqtest-" + run + "-n1", "network dqtest-" + run, "volume dqtest-" + run + "-data"}, names)
	require.Equal(t, "1 container, 1 network, 1 volume", LeftoverSummary(found))

	all, err := Leftovers(ctx, "")
	require.NoError(t, err)
	require.Contains(t, LeftoverRuns(all), run)
	require.Contains(t, LeftoverRuns(all), other)

	require.NoError(t, Cleanup(ctx, run))
	found, err = Leftovers(ctx, run)
	require.NoError(t, err)
	require.Empty(t, found)
	_, err = docker.ContainerInspect(ctx, ctr.ID, client.ContainerInspectOptions{})
	require.True(t, cerrdefs.IsNotFound(err), "the container is gone: %v", err)
	_, err = docker.NetworkInspect(ctx, net.ID, client.NetworkInspectOptions{})
	require.True(t, cerrdefs.IsNotFound(err), "the network is gone: %v", err)

	still, err := Leftovers(ctx, other)
	require.NoError(t, err)
	require.Len(t, still, 1, "another run's network is left alone")
}
