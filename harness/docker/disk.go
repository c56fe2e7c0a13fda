package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tcexec "github.com/testcontainers/testcontainers-go/exec"

	"github.com/dqtest/dqtest/nemesis"
)

// Data volumes for the disk nemesis. When ClusterSpec.DataDirSize is set,
// each node's data directory is a named volume of the local driver with
// type tmpfs and that size: a file system of its own, so filling it fills
// nothing else (the containers' writable layers share the host's disk).
//
// Why a named volume and a keeper, not HostConfig.Tmpfs: Docker unmounts a
// container's tmpfs when the container stops, and a tmpfs volume when the
// last container using it stops, so either way a killed node would come
// back on an empty data directory, which is a different fault (and for n1
// a new cluster). The keeper, one small container per run that mounts every
// node's volume under /disks/<node> and sleeps, keeps the volumes mounted,
// so a node keeps its data across kill and restart exactly as it does on
// its writable layer. The balloon is written through the keeper too, so
// FillDisk and FreeDisk work whatever the node's state: paused, killed or
// stopped (pause+disk).
const (
	keeperNode = "disks"
	keeperDir  = "/disks"
	// binary is dqtest in the node image, which the keeper runs too.
	binary = "/usr/local/bin/dqtest"
)

func (c *Cluster) dataVolume(node string) string {
	return "dqtest-" + c.spec.RunID + "-" + node + "-data"
}

// createDataVolumes creates every node's tmpfs volume and starts the
// keeper that holds them mounted; it does nothing when the spec asks for no
// data volumes.
func (c *Cluster) createDataVolumes(ctx context.Context) error {
	if c.spec.DataDirSize == "" {
		return nil
	}
	labels := map[string]string{labelTestcontainers: "true", labelRun: c.spec.RunID}
	var mounts []mount.Mount
	for _, n := range c.nodes {
		name := c.dataVolume(n.name)
		_, err := c.docker.VolumeCreate(ctx, client.VolumeCreateOptions{
			Name: name, Driver: "local", Labels: labels,
			DriverOpts: map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=" + c.spec.DataDirSize},
		})
		if err != nil {
			return fmt.Errorf("create data volume %s: %w", name, err)
		}
		mounts = append(mounts, mount.Mount{Type: mount.TypeVolume, Source: name, Target: keeperDir + "/" + n.name})
	}
	ctr, err := testcontainers.Run(ctx, c.nodes[0].image.Image, // any node image has the tools the keeper needs
		testcontainers.WithLogger(slogPrintf{}),
		testcontainers.WithName(c.containerName(keeperNode)),
		testcontainers.WithLabels(labels),
		testcontainers.WithEntrypoint("sleep", "infinity"),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			hc.NetworkMode = "none"
			hc.Mounts = mounts
			init := true
			hc.Init = &init // so that sleep ends on SIGTERM
		}),
	)
	c.keeper = ctr
	if err != nil {
		return fmt.Errorf("start the data volume keeper: %w", err)
	}
	return nil
}

// dataMount is node's data volume mounted at its data directory, or nil
// when the spec asks for none.
func (c *Cluster) dataMount(node string) []mount.Mount {
	if c.spec.DataDirSize == "" {
		return nil
	}
	return []mount.Mount{{
		Type: mount.TypeVolume, Source: c.dataVolume(node), Target: dataDir,
		VolumeOptions: &mount.VolumeOptions{NoCopy: true},
	}}
}

// FillDisk implements nemesis.DiskFaulter: it fills node's data volume to
// the last byte, through the keeper (`dqtest disk fill`, FillVolume), so
// that the node's next append that needs space fails with ENOSPC. The node
// is frozen (docker pause) while the preallocated tails of its raft
// segments are released, so that none of its writes lands in a range being
// punched; a node that is paused or not running is left as it is.
func (c *Cluster) FillDisk(ctx context.Context, name string) error {
	return c.nodeOp(ctx, "fill disk", name, func(ctx context.Context, n *node) error {
		s, err := c.inspect(ctx, n)
		if err != nil {
			return err
		}
		if s.running && !s.paused {
			if _, err := c.docker.ContainerPause(ctx, n.ctr.GetContainerID(), client.ContainerPauseOptions{}); err != nil {
				return fmt.Errorf("freeze for the fill: %w", err)
			}
			defer func() {
				// A fresh context: the node must not stay frozen because
				// ctx ended.
				uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), defaultCallTimeout)
				defer cancel()
				if _, uerr := c.docker.ContainerUnpause(uctx, n.ctr.GetContainerID(), client.ContainerUnpauseOptions{}); uerr != nil {
					c.log.Error("thaw after the fill failed", "node", name, "error", uerr)
				}
			}()
		}
		out, err := c.keeperExec(ctx, []string{binary, "disk", "fill", keeperDir + "/" + n.name})
		if err != nil {
			return err
		}
		var fill Fill
		if err := json.Unmarshal([]byte(out), &fill); err != nil {
			return fmt.Errorf("reading the fill's report %q: %w", out, err)
		}
		c.log.Info("disk filled", "node", name, "released_bytes", fill.Released, "balloon_bytes", fill.Balloon)
		return nil
	})
}

// FreeDisk implements nemesis.DiskFaulter: it deletes the balloon.
func (c *Cluster) FreeDisk(ctx context.Context, name string) error {
	return c.nodeOp(ctx, "free disk", name, func(ctx context.Context, n *node) error {
		_, err := c.keeperExec(ctx, []string{binary, "disk", "free", keeperDir + "/" + n.name})
		return err
	})
}

// DiskUsage reports the bytes used and free on node's data volume.
func (c *Cluster) DiskUsage(ctx context.Context, name string) (used, free int64, err error) {
	err = c.nodeOp(ctx, "disk usage", name, func(ctx context.Context, n *node) error {
		out, err := c.keeperExec(ctx, []string{"stat", "-f", "-c", "%b %a %S", keeperDir + "/" + n.name})
		if err != nil {
			return err
		}
		var blocks, avail, size int64
		if _, err := fmt.Sscan(out, &blocks, &avail, &size); err != nil {
			return fmt.Errorf("reading %q: %w", out, err)
		}
		used, free = (blocks-avail)*size, avail*size
		return nil
	})
	return used, free, err
}

var errNoDataVolumes = fmt.Errorf("%w: the cluster has no data volumes (set the scenario's data_dir_size)", nemesis.ErrUnsupported)

func (c *Cluster) keeperExec(ctx context.Context, cmd []string) (string, error) {
	if c.keeper == nil {
		return "", errNoDataVolumes
	}
	return execOutput(ctx, c.keeper, cmd)
}

var _ nemesis.DiskFaulter = (*Cluster)(nil)

// removeVolumes removes the volumes labelled with the run (every run's when
// label has no value), after their containers are gone.
func removeVolumes(ctx context.Context, docker client.APIClient, label string) error {
	vols, err := docker.VolumeList(ctx, client.VolumeListOptions{Filters: make(client.Filters).Add("label", label)})
	if err != nil {
		return fmt.Errorf("list volumes labelled %s: %w", label, err)
	}
	var errs []error
	for _, v := range vols.Items {
		if _, err := docker.VolumeRemove(ctx, v.Name, client.VolumeRemoveOptions{Force: true}); err != nil {
			errs = append(errs, fmt.Errorf("remove volume %s: %w", v.Name, err))
		}
	}
	return errors.Join(errs...)
}

// execOutput runs cmd in ctr and returns its output, failing with the
// output when it exits non-zero.
func execOutput(ctx context.Context, ctr *testcontainers.DockerContainer, cmd []string) (string, error) {
	ctx, cancel := withDefaultTimeout(ctx, defaultCallTimeout)
	defer cancel()
	code, out, err := ctr.Exec(ctx, cmd, tcexec.Multiplexed())
	if err != nil {
		return "", err
	}
	b, _ := io.ReadAll(out)
	if code != 0 {
		return "", fmt.Errorf("%s exited %d: %s", cmd[0], code, strings.TrimSpace(string(b)))
	}
	return string(b), nil
}
