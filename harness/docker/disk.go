package docker

import (
	"context"
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
	balloon    = "dqtest-balloon"
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
	ctr, err := testcontainers.Run(ctx, c.spec.Image,
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

// fillScript fills the volume mounted at $1. First it digs holes in
// dqlite's open raft segments (fallocate --dig-holes turns their all-zero,
// preallocated tails into holes; every byte reads back the same), so that
// their space goes to the balloon too; then one fallocate of all the space
// left (tmpfs reserves it at once), dd for whatever fallocate's rounding
// left over, and a check that nothing is left. It prints the bytes the
// balloon took.
const fillScript = `set -u
d=$1; f=$d/` + balloon + `
for s in "$d"/open-*; do [ -f "$s" ] && fallocate --dig-holes "$s"; done
avail() { echo $(( $(stat -f -c '%a' "$d") * $(stat -f -c '%S' "$d") )); }
a=$(avail)
[ "$a" -gt 0 ] && fallocate -l "$a" "$f" 2>/dev/null
dd if=/dev/zero of="$f.rest" bs=4096 2>/dev/null
left=$(avail)
[ "$left" -eq 0 ] || { echo "still $left bytes free after filling $d" >&2; exit 1; }
du -sb "$f" "$f.rest" | awk '{s += $1} END {print s}'`

// FillDisk implements nemesis.DiskFaulter: it fills node's data volume to
// the last byte with a balloon file, through the keeper, so that the node's
// next write that needs space fails with ENOSPC.
//
// Why the holes: dqlite preallocates its open raft segments (3 x 8 MiB),
// and on a file system that reserves preallocated space (tmpfs, ext4) it
// goes on writing into them for tens of seconds after the disk is full, so
// a short disk fault would never touch it. Turning the segments' unwritten,
// all-zero tails into holes and giving that space to the balloon makes the
// fault bite at the next append, as it would on a file system whose
// preallocation reserves nothing (copy-on-write, thin provisioning). No
// byte dqlite reads changes. The node is frozen (docker pause) while the
// holes are dug, so no write of dqlite's lands in a block being punched; a
// node that is paused or not running already is left as it is.
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
		out, err := c.keeperExec(ctx, []string{"sh", "-c", fillScript, "sh", keeperDir + "/" + n.name})
		if err != nil {
			return err
		}
		c.log.Info("disk filled", "node", name, "balloon_bytes", strings.TrimSpace(out))
		return nil
	})
}

// FreeDisk implements nemesis.DiskFaulter: it deletes the balloon.
func (c *Cluster) FreeDisk(ctx context.Context, name string) error {
	return c.nodeOp(ctx, "free disk", name, func(ctx context.Context, n *node) error {
		f := keeperDir + "/" + n.name + "/" + balloon
		_, err := c.keeperExec(ctx, []string{"rm", "-f", f, f + ".rest"})
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
