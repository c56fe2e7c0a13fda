package verdict

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/dqtest/dqtest/detect"
)

// Files of a run directory (docs/run-directory.md).
const (
	// ObservationsFile holds what the run saw beyond its history (node
	// exits, hangs, recovery, replica states): the verdict's other input.
	ObservationsFile = "observations.json"
	ScenarioFile     = "scenario.yaml"
	HistoryFile      = "history.jsonl"
	ResultsFile      = "results.json"
	NodesDir         = "nodes"
	LatestLink       = "latest"
)

// WriteJSON writes v as indented JSON, through a temporary file so a reader
// never sees half a file.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(path, append(b, '\n'))
}

func WriteFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// WriteObservations writes observations.json into a run directory (the
// node logs are written by the run as nodes/<node>.log).
func WriteObservations(dir string, obs Observations) error {
	return WriteJSON(filepath.Join(dir, ObservationsFile), obs)
}

// ReadObservations reads a run directory's observations.json and the node
// logs beside it. A run directory written before observations.json existed
// gives the node exits from results.json instead (no hangs, no recovery,
// no replica states: what that run did not store cannot be judged again).
func ReadObservations(dir string) (Observations, error) {
	var obs Observations
	b, err := os.ReadFile(filepath.Join(dir, ObservationsFile))
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &obs); err != nil {
			return obs, fmt.Errorf("%s: %w", filepath.Join(dir, ObservationsFile), err)
		}
	case errors.Is(err, fs.ErrNotExist):
		res, rerr := ReadResult(dir)
		if rerr != nil {
			return obs, nil // a bare history directory: nothing observed
		}
		for _, n := range slices.Sorted(maps.Keys(res.Nodes)) {
			obs.Nodes = append(obs.Nodes, detect.NodeReport{Node: n, Exit: res.Nodes[n]})
		}
	default:
		return obs, err
	}
	for i := range obs.Nodes {
		log, err := os.ReadFile(filepath.Join(dir, NodesDir, obs.Nodes[i].Node+".log"))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return obs, err
		}
		obs.Nodes[i].Log = log
	}
	return obs, nil
}

// ReadResult reads a run directory's results.json.
func ReadResult(dir string) (*Result, error) {
	b, err := os.ReadFile(filepath.Join(dir, ResultsFile))
	if err != nil {
		return nil, err
	}
	var res Result
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ResultsFile), err)
	}
	return &res, nil
}
