package node

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// raftFiles summarises the raft files in a data directory for the node's
// start-up log line: the index of each snapshot, and the entries the closed
// segments hold, merged into spans of consecutive indexes. A span that
// starts after a gap, at or below a snapshot's index, is the mark of a
// snapshot installed from the leader (the entries in the gap never reached
// this node's log): the evidence the snapshot scenarios look for.
//
// Names (raft's uv I/O): snapshot-<term>-<index>-<timestamp> (and .meta),
// <first>-<last> for a closed segment, open-<n> for an open one.
type raftFiles struct {
	Snapshots []uint64    // indexes, ascending
	Spans     [][2]uint64 // closed segments' entries, merged
	Open      int         // open segments
}

func readRaftFiles(dir string) (raftFiles, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return raftFiles{}, err
	}
	var rf raftFiles
	var segs [][2]uint64
	for _, e := range entries {
		name := e.Name()
		switch {
		case strings.HasPrefix(name, "snapshot-") && !strings.HasSuffix(name, ".meta"):
			parts := strings.Split(name, "-")
			if len(parts) == 4 {
				if idx, err := strconv.ParseUint(parts[2], 10, 64); err == nil {
					rf.Snapshots = append(rf.Snapshots, idx)
				}
			}
		case strings.HasPrefix(name, "open-"):
			rf.Open++
		default:
			first, last, ok := strings.Cut(name, "-")
			if !ok {
				continue
			}
			f, err1 := strconv.ParseUint(first, 10, 64)
			l, err2 := strconv.ParseUint(last, 10, 64)
			if err1 == nil && err2 == nil && f <= l {
				segs = append(segs, [2]uint64{f, l})
			}
		}
	}
	slices.Sort(rf.Snapshots)
	slices.SortFunc(segs, func(a, b [2]uint64) int { return int(a[0]) - int(b[0]) })
	for _, s := range segs {
		if n := len(rf.Spans); n > 0 && s[0] <= rf.Spans[n-1][1]+1 {
			rf.Spans[n-1][1] = max(rf.Spans[n-1][1], s[1])
			continue
		}
		rf.Spans = append(rf.Spans, s)
	}
	return rf, nil
}

// logAttrs renders the summary: snapshots=[1024 2048] segments=[1-2100 3900-4000] open=2.
func (rf raftFiles) logAttrs() []any {
	spans := make([]string, len(rf.Spans))
	for i, s := range rf.Spans {
		spans[i] = fmt.Sprintf("%d-%d", s[0], s[1])
	}
	return []any{"raft_snapshots", fmt.Sprint(rf.Snapshots), "raft_segments", "[" + strings.Join(spans, " ") + "]", "raft_open_segments", rf.Open}
}
