package matrix

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/report"
)

// ResultFile is the matrix directory's machine record: the plan (every
// cell of the whole matrix, with the flags that made it) and the cells
// this directory ran. A shard directory's is what `dqtest matrix merge`
// reads.
const ResultFile = "matrix.json"

// planVersion is the version of matrix.json's layout.
const planVersion = 1

// Plan is the whole matrix a directory is part of: the flags of the
// unsharded matrix, every cell, and a fingerprint of the cells' resolved
// scenarios, so that a merge can tell shards of one matrix from shards of
// another and name every cell no shard reported.
type Plan struct {
	Version   int      `json:"version"`
	Name      string   `json:"name"`
	Workloads []string `json:"workloads"`
	Nemeses   []string `json:"nemeses"`
	// TimeLimit is every cell's time limit ("" when the base scenario's).
	TimeLimit string `json:"time_limit,omitempty"`
	Seed      int64  `json:"seed,omitempty"`
	Backend   string `json:"backend,omitempty"`
	// Base is the base scenario's name.
	Base  string     `json:"base_scenario,omitempty"`
	Cells []PlanCell `json:"cells"`
	// Fingerprint is a hash of every cell's resolved scenario and mark:
	// equal for the same flags (and base scenario) on any machine.
	Fingerprint string `json:"fingerprint"`
	// Shard is the part of the matrix this directory ran (zero: all).
	Shard Shard `json:"shard,omitzero"`
	// Only is the cells of the shard this directory ran, when narrowed
	// (one engine's part).
	Only []string `json:"only,omitempty"`
}

// PlanCell is one cell of the whole matrix.
type PlanCell struct {
	Workload   string `json:"workload"`
	Nemesis    string `json:"nemesis"`
	Scenario   string `json:"scenario"`
	ExpectFail string `json:"expect_fail,omitempty"`
	// Expected is the cell's weight: expected wall seconds (Weight).
	Expected float64 `json:"expected_s"`
}

// Key is "workload/nemesis".
func (c PlanCell) Key() string { return c.Workload + "/" + c.Nemesis }

// Part is a directory a merged result came from.
type Part struct {
	// Dir is the part's directory relative to the merged one.
	Dir   string    `json:"dir"`
	Shard Shard     `json:"shard,omitzero"`
	Only  []string  `json:"only,omitempty"`
	Cells int       `json:"cells"`
	Start time.Time `json:"started"`
	Wall  float64   `json:"wall_s"`
}

// NewPlan is the plan of spec, whose every cell is all.
func NewPlan(spec Spec, all []Cell) Plan {
	p := Plan{Version: planVersion, Name: spec.Name, Workloads: spec.Workloads, Nemeses: spec.Nemeses,
		Seed: spec.Seed, Backend: spec.Backend, Shard: spec.Shard, Only: spec.Only}
	if p.Name == "" {
		p.Name = "matrix"
	}
	if spec.TimeLimit > 0 {
		p.TimeLimit = spec.TimeLimit.String()
	}
	if spec.Base != nil {
		p.Base = spec.Base.Name
	}
	h := sha256.New()
	for _, c := range all {
		p.Cells = append(p.Cells, PlanCell{Workload: c.Workload, Nemesis: c.Nemesis, Scenario: c.Scenario,
			ExpectFail: c.ExpectFail, Expected: Weight(c).Seconds()})
		sc, err := json.Marshal(c.sc)
		if err != nil {
			sc = fmt.Appendf(nil, "%+v", c.sc)
		}
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00", c.Key(), c.ExpectFail, sc)
	}
	p.Fingerprint = hex.EncodeToString(h.Sum(nil))[:16]
	return p
}

// WriteResult writes res.Dir/matrix.json (replacing it whole).
func WriteResult(res *Result) error {
	data, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(res.Dir, ResultFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// ReadResult reads a matrix directory's matrix.json.
func ReadResult(dir string) (*Result, error) {
	path := filepath.Join(dir, ResultFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: no %s: not a matrix or shard directory of this dqtest", dir, ResultFile)
	}
	if err != nil {
		return nil, err
	}
	var res Result
	if err := json.Unmarshal(data, &res); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if res.Plan.Version != planVersion || res.Plan.Fingerprint == "" || len(res.Plan.Cells) == 0 {
		return nil, fmt.Errorf("%s: plan version %d with %d cells: want version %d with the whole matrix's cells",
			path, res.Plan.Version, len(res.Plan.Cells), planVersion)
	}
	res.Dir = dir
	return &res, nil
}

// Merge combines shard directories of one matrix into out: every cell of
// the whole matrix in matrix order, each as its shard reported it (a link
// to its run directory under that shard), a cell no shard reported as
// Missing (unknown), the outcome of the whole. Shards of different
// matrices, a cell reported twice, or a cell that is not in the plan are
// errors. out's files are not written (WriteFiles does).
func Merge(out string, dirs []string) (*Result, error) {
	if len(dirs) == 0 {
		return nil, errors.New("merge: no shard directories given")
	}
	first, err := ReadResult(dirs[0])
	if err != nil {
		return nil, err
	}
	return mergeParts(out, first.Plan, first.Plan.Cells, dirs)
}

// mergeParts merges dirs into out, expecting the cells want (all of
// plan's for a whole matrix, one shard's for the engines of a shard).
func mergeParts(out string, plan Plan, want []PlanCell, dirs []string) (*Result, error) {
	absOut, err := filepath.Abs(out)
	if err != nil {
		return nil, err
	}
	res := &Result{Name: plan.Name, Dir: out, Plan: plan}
	res.Plan.Shard, res.Plan.Only = Shard{}, nil
	got := map[string]Cell{}
	from := map[string]string{}
	var errs []error
	for _, dir := range dirs {
		part, err := ReadResult(dir)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if part.Plan.Fingerprint != plan.Fingerprint {
			errs = append(errs, fmt.Errorf("%s is a shard of another matrix (plan %s, %d cells: %s x %s) than %s (plan %s, %d cells: %s x %s): were the flags the same?",
				dir, part.Plan.Fingerprint, len(part.Plan.Cells), part.Plan.Workloads, part.Plan.Nemeses,
				dirs[0], plan.Fingerprint, len(plan.Cells), plan.Workloads, plan.Nemeses))
			continue
		}
		absDir, err := filepath.Abs(dir)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rel, err := filepath.Rel(absOut, absDir)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		res.Parts = append(res.Parts, Part{Dir: rel, Shard: part.Plan.Shard, Only: part.Plan.Only, Cells: len(part.Cells),
			Start: part.Start, Wall: part.Wall})
		if res.Start.IsZero() || part.Start.Before(res.Start) {
			res.Start = part.Start
		}
		res.Wall = max(res.Wall, part.Wall)
		for _, c := range part.Cells {
			key := c.Key()
			if !slices.ContainsFunc(want, func(p PlanCell) bool { return p.Key() == key }) {
				errs = append(errs, fmt.Errorf("%s reports cell %s, which is not among the %d cells merged", dir, key, len(want)))
				continue
			}
			if prev, dup := from[key]; dup {
				errs = append(errs, fmt.Errorf("cell %s is in two shard directories: %s and %s", key, prev, dir))
				continue
			}
			from[key] = dir
			if c.Path == "" {
				c.Path = c.Scenario
			}
			c.Path = filepath.ToSlash(filepath.Join(rel, c.Path))
			got[key] = c
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("merge: %w", err)
	}
	for _, p := range want {
		c, ok := got[p.Key()]
		if !ok {
			c = Cell{Workload: p.Workload, Nemesis: p.Nemesis, Scenario: p.Scenario, ExpectFail: p.ExpectFail, Status: Missing,
				Run: runMissing(p.Scenario)}
		}
		res.Cells = append(res.Cells, c)
	}
	res.Outcome = Outcome(res.Cells)
	return res, nil
}

// MissingCells is the keys of the cells no part reported.
func MissingCells(res *Result) []string {
	var keys []string
	for _, c := range res.Cells {
		if c.Status == Missing {
			keys = append(keys, c.Key())
		}
	}
	return keys
}

func runMissing(scenario string) (s report.RunSummary) {
	s.Scenario, s.Verdict, s.Outcome = scenario, checker.Unknown, checker.Unknown
	s.Error = "missing: no shard directory given to the merge reported this cell (a shard that died, or an artifact not downloaded)"
	return s
}
