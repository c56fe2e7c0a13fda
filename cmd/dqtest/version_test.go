package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/harness/docker"
)

func trixieBuild() buildInfo {
	return buildInfo{
		Dqtest: "abc123", Dqlite: "1.18.1", DqlitePackage: "1.18.1-1", DqliteLibrary: "1.18.0",
		GoDqlite: "v2.0.1", GoDqliteModule: "github.com/canonical/go-dqlite/v2",
		Client: "v2.0.1", ClientModule: "github.com/canonical/go-dqlite/v2",
	}
}

// Issue 17 item 5: the version printed both the package's version and the
// library's own, and said why they differ.
func TestVersionPrintsThePackageAndTheLibraryVersionAndWhyTheyDiffer(t *testing.T) {
	var out bytes.Buffer
	writeVersion(&out, trixieBuild(), false, nil, nil)
	s := out.String()
	require.Contains(t, s, "dqtest abc123\n")
	require.Contains(t, s, "C dqlite:  1.18.1 (Debian package 1.18.1-1); the library reports 1.18.0\n")
	require.Contains(t, s, "go-dqlite: v2.0.1 (github.com/canonical/go-dqlite/v2), the C bindings\n")
	require.Contains(t, s, "upstream's 1.18.1 left that at 1.18.0")
	require.NotContains(t, s, "node images", "--images=false lists none")
}

func TestVersionListsTheNodeImagesWithTheirVersionsAndTheMissingOnes(t *testing.T) {
	var out bytes.Buffer
	imgs := []docker.NodeImage{{
		Image: "dqtest-node:1.18.7", Tags: []string{"dqtest-node:1.18.7", "dqtest-node:latest"},
		Dqlite: "1.18.7", DqlitePackage: "1.18.7-1", DqliteLibrary: "1.18.7", GoDqlite: "v3.0.4",
	}}
	writeVersion(&out, trixieBuild(), true, imgs, nil)
	s := out.String()
	require.Contains(t, s, "node images (default dqlite 1.18.7):\n")
	var row string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "  dqtest-node:1.18.7 ") {
			row = l
		}
	}
	require.Equal(t, []string{"dqtest-node:1.18.7", "1.18.7", "1.18.7-1", "1.18.7", "v3.0.4", "dqtest-node:latest"}, strings.Fields(row))
	require.Contains(t, s, "missing: 1.18.1 (`make image DQLITE=1.18.1`)")

	out.Reset()
	writeVersion(&out, trixieBuild(), true, nil, nil)
	require.Contains(t, out.String(), "node images: none; `make image` builds one per dqlite version (1.18.1, 1.18.7)")

	out.Reset()
	writeVersion(&out, trixieBuild(), true, nil, errors.New("docker backend: cannot reach Docker"))
	require.Contains(t, out.String(), "node images: cannot list them: docker backend: cannot reach Docker")
	require.Contains(t, out.String(), "C dqlite:  1.18.1", "the build is printed without Docker")
}

func TestVersionLabelsAreTheImageLabelsAndRefuseAnUnknownVersion(t *testing.T) {
	b := trixieBuild()
	require.Equal(t, [][2]string{
		{"dqtest.dqlite", "1.18.1"}, {"dqtest.dqlite.package", "1.18.1-1"}, {"dqtest.dqlite.library", "1.18.0"},
		{"dqtest.go-dqlite", "v2.0.1"}, {"dqtest.go-dqlite.module", "github.com/canonical/go-dqlite/v2"},
	}, b.labels())

	// A test binary is built without the Makefile's -X flags: no package
	// version, so --labels refuses rather than label an image with nothing.
	cmd := newRoot()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs([]string{"version", "--labels"})
	err := cmd.Execute()
	require.ErrorContains(t, err, "this binary does not know its dqtest.dqlite")
}
