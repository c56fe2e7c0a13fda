package docker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// Cleanup removes every container and network labelled with runID: what a
// run left behind after a crash, a panic or Ctrl-C. Give it a context that
// was not cancelled with the run.
func Cleanup(ctx context.Context, runID string) error {
	if runID == "" {
		return errors.New("docker backend: cleanup: empty run id (use CleanupAll for every run)")
	}
	docker, err := dockerClient(ctx)
	if err != nil {
		return err
	}
	defer docker.Close()
	return removeRun(ctx, docker, runID, slog.Default())
}

// CleanupAll removes the containers and networks of every dqtest run on this
// Docker host.
func CleanupAll(ctx context.Context) error {
	docker, err := dockerClient(ctx)
	if err != nil {
		return err
	}
	defer docker.Close()
	return removeRun(ctx, docker, "", slog.Default())
}

// removeRun force-removes the containers, then the networks, labelled with
// runID (every run's when runID is ""). A paused or running container is
// killed by the removal.
func removeRun(ctx context.Context, docker client.APIClient, runID string, log *slog.Logger) error {
	ctx, cancel := withDefaultTimeout(ctx, time.Minute)
	defer cancel()
	label := labelRun
	if runID != "" {
		label += "=" + runID
	}
	filter := make(client.Filters).Add("label", label)
	ctrs, err := docker.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filter})
	if err != nil {
		return fmt.Errorf("list containers labelled %s: %w", label, err)
	}
	var errs []error
	for _, ctr := range ctrs.Items {
		_, err := docker.ContainerRemove(ctx, ctr.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		if err != nil && !cerrdefs.IsNotFound(err) && !isRemovalInProgress(err) {
			errs = append(errs, fmt.Errorf("remove container %s: %w", strings.Join(ctr.Names, ","), err))
			continue
		}
		log.Debug("removed container", "names", ctr.Names)
	}
	nets, err := docker.NetworkList(ctx, client.NetworkListOptions{Filters: filter})
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("list networks labelled %s: %w", label, err))...)
	}
	for _, n := range nets.Items {
		if err := removeNetwork(ctx, docker, n.ID); err != nil {
			errs = append(errs, fmt.Errorf("remove network %s: %w", n.Name, err))
			continue
		}
		log.Debug("removed network", "name", n.Name)
	}
	if err := removeVolumes(ctx, docker, label); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// removeNetwork retries while Docker still counts endpoints of containers it
// is removing (a concurrent Down of the same run).
func removeNetwork(ctx context.Context, docker client.APIClient, id string) error {
	for {
		_, err := docker.NetworkRemove(ctx, id, client.NetworkRemoveOptions{})
		if err == nil || cerrdefs.IsNotFound(err) {
			return nil
		}
		if !strings.Contains(err.Error(), "active endpoints") {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func isRemovalInProgress(err error) bool {
	return strings.Contains(err.Error(), "already in progress")
}
