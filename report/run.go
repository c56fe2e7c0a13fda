// Package report turns a run directory into what people and pipelines read:
// report.html (the verdict first, then the scenario, plots of the history
// with the faults shaded, every anomaly and crash with its evidence, the
// node logs), a JUnit XML file for CI, a JSON summary, and the list of past
// runs. Everything here is a pure function of the run directory
// (docs/run-directory.md), so `dqtest report DIR` gives the same report the
// run wrote.
package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/dqtest/dqtest/history"
	"github.com/dqtest/dqtest/scenario"
	"github.com/dqtest/dqtest/verdict"
)

// File is the report's name in a run directory.
const File = "report.html"

// maxLogBytes bounds how much of one node's log the report embeds (its
// end); the whole log stays in nodes/.
const maxLogBytes = 256 << 10

// Run is a run directory as the report reads it.
type Run struct {
	Dir    string
	Result verdict.Result
	// Scenario is the resolved scenario; ScenarioYAML its file's text.
	Scenario     *scenario.Scenario
	ScenarioYAML string
	// History replays the history (Load: history.jsonl, streamed and
	// never held whole); Events is the history held in memory, used when
	// History is nil. HistoryProblem says why it is missing or partial (a
	// torn last line, an unreadable file): for History, found when the
	// report reads it.
	History        history.Source
	Events         []history.Event
	HistoryProblem string
	Logs           []NodeLog
	// Artifacts are the other files in the directory a report links to,
	// e.g. porcupine's linearizability.html.
	Artifacts []string
}

// NodeLog is the end of one node's log.
type NodeLog struct {
	Node string
	Text string
	// Size is the whole log's size; Truncated says Text is only its end.
	Size      int64
	Truncated bool
}

// Load reads a run directory. Only results.json is required: a run cut
// short may lack the rest, and the report then says what is missing.
func Load(dir string) (*Run, error) {
	r := &Run{Dir: dir}
	b, err := os.ReadFile(filepath.Join(dir, verdict.ResultsFile))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s is not a finished run directory: no %s", dir, verdict.ResultsFile)
		}
		return nil, err
	}
	if err := json.Unmarshal(b, &r.Result); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, verdict.ResultsFile), err)
	}

	scPath := filepath.Join(dir, verdict.ScenarioFile)
	if text, err := os.ReadFile(scPath); err == nil {
		r.ScenarioYAML = string(text)
		if sc, err := scenario.Parse(scPath, text); err == nil {
			r.Scenario = &sc
		}
	}

	r.History = history.FileSource(filepath.Join(dir, verdict.HistoryFile))

	r.Logs, err = readLogs(filepath.Join(dir, verdict.NodesDir))
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	known := []string{verdict.ResultsFile, verdict.ScenarioFile, verdict.HistoryFile, File, JUnitFile}
	for _, e := range entries {
		if e.Type().IsRegular() && !slices.Contains(known, e.Name()) && !strings.HasSuffix(e.Name(), ".tmp") {
			r.Artifacts = append(r.Artifacts, e.Name())
		}
	}
	return r, nil
}

func readLogs(dir string) ([]NodeLog, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var logs []NodeLog
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".log")
		if !ok || !e.Type().IsRegular() {
			continue
		}
		l, err := readLogTail(filepath.Join(dir, e.Name()), name)
		if err != nil {
			return nil, err
		}
		logs = append(logs, l)
	}
	return logs, nil
}

// readLogTail reads the last maxLogBytes of a log, from a line start.
func readLogTail(path, node string) (NodeLog, error) {
	f, err := os.Open(path)
	if err != nil {
		return NodeLog{}, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return NodeLog{}, err
	}
	l := NodeLog{Node: node, Size: info.Size()}
	off := max(0, info.Size()-maxLogBytes)
	buf := make([]byte, info.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil {
		return NodeLog{}, err
	}
	if off > 0 {
		l.Truncated = true
		if i := strings.IndexByte(string(buf), '\n'); i >= 0 {
			buf = buf[i+1:]
		}
	}
	l.Text = strings.ToValidUTF8(string(buf), "\uFFFD")
	return l, nil
}

// Simulated reports whether the simulator produced the run: its findings
// are about the model of dqlite and the harness, not about dqlite.
func (r *Run) Simulated() bool { return r.Result.Backend == "simulator" }
