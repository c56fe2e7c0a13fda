package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"

	"github.com/dqtest/dqtest/nemesis"
)

// Rolling upgrades (the upgrade and downgrade faults): a node's container
// is replaced by one from another version's node image, with the same name,
// address, flags and data directory. dqtest node remembers its ID and
// address in the data directory, so the new process restarts the same
// member, as a node restarted by its operator after a package upgrade.
//
// How the data directory moves:
//   - with data volumes (data_dir_size), the new container mounts the same
//     volume; the keeper holds it mounted meanwhile ("volume");
//   - without, it lives in the old container's writable layer, so it is
//     copied: a tar of the stopped container's /var/lib/dqtest (docker cp)
//     is unpacked into the new container before it starts ("copy"). Data
//     directories are a few MB (raft segments and snapshots), so it is
//     held in memory, bounded by maxCarry.
//
// The old container's log is kept (Logs prepends it), so a crash while it
// stopped is still found. Its exit status goes into the step's record.

// upgradeStopGrace is how long the old node may take to stop on SIGTERM
// (its stop mode's stop) before Docker kills it.
const upgradeStopGrace = 15 * time.Second

// maxCarry bounds the data directory an upgrade copies.
const maxCarry = 1 << 30

var _ nemesis.Upgrader = (*Cluster)(nil)

// DqliteVersions implements nemesis.Upgrader: the versions dqtest ships
// images for (a missing image fails the Reinstall, naming its make command).
func (c *Cluster) DqliteVersions() []string { return slices.Clone(DqliteVersions) }

// DqliteVersion implements nemesis.Upgrader: the version of the image the
// node runs now.
func (c *Cluster) DqliteVersion(name string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := c.byName[name]; n != nil {
		return n.image.Dqlite
	}
	return ""
}

// Reinstall implements nemesis.Upgrader.
func (c *Cluster) Reinstall(ctx context.Context, name, version string) (nemesis.Reinstalled, error) {
	var r nemesis.Reinstalled
	err := c.nodeOp(ctx, "reinstall", name, func(ctx context.Context, n *node) error {
		img, err := resolveDqlite(ctx, c.docker, version)
		if err != nil {
			return err
		}
		c.mu.Lock()
		r.From, r.To, r.Image = n.image.Dqlite, img.Dqlite, img.Image
		c.mu.Unlock()

		began := time.Now()
		exit, err := c.stopForUpgrade(ctx, n)
		if err != nil {
			return err
		}
		c.unmap(n) // the container stopped: Docker freed its host ports
		r.ExitCode = exit
		r.StopMs = time.Since(began).Milliseconds()

		began = time.Now()
		var carry []byte
		if c.spec.DataDirSize != "" {
			r.Carried = "volume"
			if used, _, err := c.DiskUsage(ctx, name); err == nil {
				r.DataBytes = used
			}
		} else {
			r.Carried = "copy"
			if carry, r.DataBytes, err = c.copyDataDir(ctx, n); err != nil {
				return err
			}
		}
		// Keep the old container's log, then free its name and address.
		logs, lerr := c.Logs(ctx, name)
		if lerr != nil {
			c.log.Warn("upgrade: reading the old container's log", "node", name, "error", lerr)
		}
		if _, err := c.docker.ContainerRemove(ctx, n.ctr.GetContainerID(), client.ContainerRemoveOptions{Force: true}); err != nil {
			return fmt.Errorf("remove the old container: %w", err)
		}
		r.CarryMs = time.Since(began).Milliseconds()

		began = time.Now()
		c.mu.Lock()
		old := n.image
		n.earlierLogs = logs
		n.image = img
		n.ran = append(n.ran, old)
		c.mu.Unlock()
		var extra []testcontainers.ContainerCustomizer
		if carry != nil {
			extra = append(extra, testcontainers.WithAdditionalLifecycleHooks(testcontainers.ContainerLifecycleHooks{
				PreStarts: []testcontainers.ContainerHook{func(ctx context.Context, ctr testcontainers.Container) error {
					_, err := c.docker.CopyToContainer(ctx, ctr.GetContainerID(), client.CopyToContainerOptions{
						DestinationPath: path.Dir(dataDir), Content: bytes.NewReader(carry), CopyUIDGID: true,
					})
					if err != nil {
						return fmt.Errorf("copy the data directory in: %w", err)
					}
					return nil
				}},
			}))
		}
		ctr, err := c.startNode(ctx, slices.Index(c.nodes, n), extra...)
		if ctr != nil {
			c.mu.Lock()
			n.ctr = ctr
			n.restarts++
			n.rulesStale = true
			c.mu.Unlock()
		}
		if err != nil {
			return err
		}
		if err := c.applyRules(ctx, n); err != nil {
			return err
		}
		if err := c.applyLoss(ctx, n); err != nil {
			return err
		}
		err = c.ctl.awaitHealthy(ctx, n)
		r.StartMs = time.Since(began).Milliseconds()
		c.log.Info("node reinstalled", "node", name, "from", r.From, "to", r.To, "exit_code", r.ExitCode,
			"carried", r.Carried, "data_bytes", r.DataBytes, "stop_ms", r.StopMs, "carry_ms", r.CarryMs, "start_ms", r.StartMs)
		return err
	})
	return r, err
}

// stopForUpgrade stops the node's container as an operator would (SIGTERM:
// the node stops in its stop mode; SIGKILL after upgradeStopGrace) and
// returns its exit status. A node already down is left as it is; a paused
// one is refused (its processes cannot take the signal).
func (c *Cluster) stopForUpgrade(ctx context.Context, n *node) (int, error) {
	s, err := c.inspect(ctx, n)
	if err != nil {
		return 0, err
	}
	if s.paused {
		return 0, errors.New("the node is paused: a paused node cannot be stopped for an upgrade")
	}
	if s.running {
		secs := int(upgradeStopGrace / time.Second)
		if _, err := c.docker.ContainerStop(ctx, n.ctr.GetContainerID(), client.ContainerStopOptions{Timeout: &secs}); err != nil {
			return 0, fmt.Errorf("stop the old container: %w", err)
		}
		if err := c.awaitState(ctx, n, "stopped", func(s inspected) bool { return !s.running }); err != nil {
			return 0, err
		}
		if s, err = c.inspect(ctx, n); err != nil {
			return 0, err
		}
	}
	return s.exitCode, nil
}

// copyDataDir reads the stopped node's data directory as a tar (docker cp)
// and returns it with the size of the files in it.
func (c *Cluster) copyDataDir(ctx context.Context, n *node) ([]byte, int64, error) {
	res, err := c.docker.CopyFromContainer(ctx, n.ctr.GetContainerID(), client.CopyFromContainerOptions{SourcePath: dataDir})
	if err != nil {
		return nil, 0, fmt.Errorf("copy the data directory out: %w", err)
	}
	defer res.Content.Close()
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, io.LimitReader(res.Content, maxCarry+1)); err != nil {
		return nil, 0, fmt.Errorf("copy the data directory out: %w", err)
	}
	if buf.Len() > maxCarry {
		return nil, 0, fmt.Errorf("the data directory is over %d bytes: too big to copy (use data_dir_size: the node keeps its data on a volume)", maxCarry)
	}
	var size int64
	tr := tar.NewReader(bytes.NewReader(buf.Bytes()))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, 0, fmt.Errorf("reading the data directory's tar: %w", err)
		}
		size += h.Size
	}
	return buf.Bytes(), size, nil
}
