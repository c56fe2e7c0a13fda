package scenario

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"

	"github.com/dqtest/dqtest/nemesis"
)

// DefaultDataDirSize is the size of each node's data volume when the
// nemesis uses the disk fault and the scenario does not say: room for a
// minute or more of dqlite's raft segments and snapshots under any shipped
// workload, and small enough that a balloon filling it costs little memory
// (the docker backend's volume is a tmpfs).
const DefaultDataDirSize = "256m"

// dataDirSizePattern is what a size may look like: a whole number of
// kibi-, mebi- or gibibytes, as tmpfs's size= option reads it.
var dataDirSizePattern = regexp.MustCompile(`^[1-9][0-9]*[kmg]$`)

// CheckDataDirSize checks a data_dir_size such as "256m": k, m or g, at
// least 16m (dqlite preallocates 8 MiB raft segments and needs room for a
// snapshot besides) and at most 64g.
func CheckDataDirSize(size string) error {
	if !dataDirSizePattern.MatchString(size) {
		return fmt.Errorf("%q: want a whole number with k, m or g, e.g. 256m", size)
	}
	n, err := strconv.ParseInt(size[:len(size)-1], 10, 64)
	shift := map[byte]uint{'k': 10, 'm': 20, 'g': 30}[size[len(size)-1]]
	if err != nil || n > 64<<(30-shift) {
		return fmt.Errorf("%s: at most 64g", size)
	}
	if n<<shift < 16<<20 {
		return fmt.Errorf("%s: at least 16m (dqlite preallocates 8 MiB raft segments)", size)
	}
	return nil
}

// usesDisk reports whether the nemesis fills disks.
func usesDisk(spec nemesis.Spec) bool {
	return slices.Contains(spec.Faults, "disk") ||
		slices.ContainsFunc(spec.Schedule.Timeline, func(s nemesis.Step) bool { return s.Fault == "disk" })
}

// resolveDataDirSize gives a scenario whose nemesis fills disks the default
// data volume, and checks the size given.
func resolveDataDirSize(sc *Scenario) error {
	if sc.DataDirSize == "" && usesDisk(sc.Nemesis) {
		sc.DataDirSize = DefaultDataDirSize
	}
	if sc.DataDirSize == "" {
		return nil
	}
	if err := CheckDataDirSize(sc.DataDirSize); err != nil {
		return badField("data_dir_size", "%v", err)
	}
	return nil
}
