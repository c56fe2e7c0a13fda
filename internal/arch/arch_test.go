// Package arch holds the test that keeps dqtest's imports going one way
// (docs/architecture.md): each package sits on a layer and may import only
// packages on lower layers. A new package must be given a layer here.
package arch

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/dqtest/dqtest/"

// layers: a package may import packages of lower layers only. Keep in step
// with docs/architecture.md.
var layers = map[string]int{
	// 0: leaves: typed modes, the history format, helpers.
	"mode": 0, "history": 0, "internal/peek": 0, "internal/arch": 0,
	// 1: judging a history, faults as data, crash detection, the node's
	// wire types.
	"checker": 1, "nemesis": 1, "detect": 1, "node/control": 1,
	// 2: replica convergence; the node's exactly-once SQL client.
	"converge": 2, "node/dqclient": 2,
	// 3: workloads (operations, SQL, their checkers); the node (cgo).
	"workloads": 3, "node": 3,
	// 4: the scenario, resolved once.
	"scenario": 4,
	// 5: the one verdict path, results.json, the run directory.
	"verdict": 5,
	// 6: the run loop; 7: its backends.
	"harness": 6, "harness/docker": 7, "harness/sim": 7,
	// 8: reports; 9: matrix and shrinking; 10: the commands.
	"report": 8,
	"matrix": 9, "shrink": 9,
	"cmd/dqtest": 10, "cmd/dqtest-bench": 10, "cmd/dqtest-bench/checkbaseline": 10,
}

func TestImportsGoOneWay(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var problems []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	seen := 0
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		pkg := strings.TrimPrefix(fields[0], module)
		from, ok := layers[pkg]
		if !ok {
			problems = append(problems, fmt.Sprintf("package %s has no layer: add it to layers in internal/arch and to docs/architecture.md", pkg))
			continue
		}
		seen++
		for _, imp := range fields[1:] {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			dep := strings.TrimPrefix(imp, module)
			to, ok := layers[dep]
			if !ok {
				continue // reported as a package of its own
			}
			if to >= from {
				problems = append(problems, fmt.Sprintf("%s (layer %d) imports %s (layer %d): imports must go to lower layers", pkg, from, dep, to))
			}
		}
	}
	if seen < 15 {
		t.Fatalf("go list found only %d packages of dqtest", seen)
	}
	sort.Strings(problems)
	for _, p := range problems {
		t.Error(p)
	}
}

// TestTheLayersCatchAWrongImport makes sure the check can fail: a checker
// importing the harness is caught.
func TestTheLayersCatchAWrongImport(t *testing.T) {
	if layers["checker"] >= layers["harness"] || layers["report"] <= layers["verdict"] || layers["scenario"] <= layers["workloads"] {
		t.Fatal("the layer table no longer puts the bottom packages below the run loop")
	}
}

// TestDocsStandAlone: a user has the repository, not the team's notes; no
// page may send them to a file outside it.
func TestDocsStandAlone(t *testing.T) {
	files, err := filepath.Glob("../../docs/*.md")
	if err != nil || len(files) < 5 {
		t.Fatalf("docs: %v (%d files)", err, len(files))
	}
	files = append(files, "../../README.md")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, ref := range []string{"DESIGN.md", "ENVIRONMENT.md", "STYLE.md", "../shared"} {
			if bytes.Contains(b, []byte(ref)) {
				t.Errorf("%s refers to %s, which is not in the repository", f, ref)
			}
		}
	}
}
