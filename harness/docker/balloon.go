package docker

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// BalloonFile is the file FillVolume writes into a data directory.
const BalloonFile = "dqtest-balloon"

// Fill is what FillVolume did.
type Fill struct {
	// Released is the preallocated, never written space of dqlite's open
	// raft segments that was handed back to the file system.
	Released int64 `json:"released_bytes"`
	// Balloon is the size of the balloon: every byte that was free.
	Balloon int64 `json:"balloon_bytes"`
}

// FillVolume fills the file system holding dir to the last byte: it first
// releases the unwritten, preallocated parts of dqlite's open raft segments
// (open-*), then writes a balloon file over all the space left. It runs
// inside the keeper container (`dqtest disk fill DIR`), where the volume is
// mounted; the node must be frozen or stopped meanwhile.
//
// Why release the preallocation: dqlite fallocates each open segment (8
// MiB, three of them) ahead of use. On a file system that reserves
// fallocated space (tmpfs, ext4), a node whose disk is full goes on
// appending into that reserve for tens of seconds, so a short disk fault
// would never reach it. Punching holes where nothing was written yet
// (SEEK_HOLE: on tmpfs, fallocated pages that were never written are
// holes) changes no byte dqlite can read, and makes its next append that
// needs a page fail with ENOSPC, as on a file system whose preallocation
// reserves nothing (copy-on-write, thin provisioning).
func FillVolume(dir string) (Fill, error) {
	var fill Fill
	segments, err := filepath.Glob(filepath.Join(dir, "open-*"))
	if err != nil {
		return fill, err
	}
	for _, s := range segments {
		n, err := releaseHoles(s)
		fill.Released += n
		if err != nil {
			return fill, fmt.Errorf("release %s: %w", s, err)
		}
	}
	f, err := os.OpenFile(filepath.Join(dir, BalloonFile), os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return fill, err
	}
	defer f.Close()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return fill, err
	}
	size, _ := f.Seek(0, io.SeekEnd)
	if free := int64(st.Bavail) * st.Bsize; free > 0 {
		// A failure here (rounding) is made up for by the writes below.
		if unix.Fallocate(int(f.Fd()), 0, size, free) == nil {
			size += free
		}
	}
	zeros := make([]byte, 4096)
	for {
		n, err := f.WriteAt(zeros, size)
		size += int64(n)
		if errors.Is(err, unix.ENOSPC) {
			break
		}
		if err != nil {
			return fill, err
		}
	}
	fill.Balloon = size
	if err := unix.Statfs(dir, &st); err != nil {
		return fill, err
	}
	if st.Bavail != 0 {
		return fill, fmt.Errorf("%d bytes still free after filling %s", int64(st.Bavail)*st.Bsize, dir)
	}
	return fill, nil
}

// releaseHoles punches every hole of path (KEEP_SIZE: the file keeps its
// length) and returns how many bytes that covered.
func releaseHoles(path string) (int64, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	fd, size := int(f.Fd()), fi.Size()
	var released int64
	for off := int64(0); off < size; {
		hole, err := unix.Seek(fd, off, unix.SEEK_HOLE)
		if err != nil || hole >= size {
			return released, err
		}
		data, err := unix.Seek(fd, hole, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			data, err = size, nil
		}
		if err != nil {
			return released, err
		}
		if err := unix.Fallocate(fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, hole, data-hole); err != nil {
			return released, err
		}
		released += data - hole
		off = data
	}
	return released, nil
}

// FreeVolume deletes dir's balloon.
func FreeVolume(dir string) error {
	err := os.Remove(filepath.Join(dir, BalloonFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}
