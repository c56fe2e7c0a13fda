package harness

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/dqtest/dqtest/verdict"
)

// newRunDir creates root/<scenario>/<timestamp>/ and points
// root/<scenario>/latest at it. Two runs in the same second get -2, -3...
func newRunDir(root, scenario string, now time.Time) (string, error) {
	parent := filepath.Join(root, scenario)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", err
	}
	stamp := now.UTC().Format("20060102T150405Z")
	name := stamp
	for i := 2; ; i++ {
		err := os.Mkdir(filepath.Join(parent, name), 0o755)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) || i > 100 {
			return "", err
		}
		name = fmt.Sprintf("%s-%d", stamp, i)
	}
	dir := filepath.Join(parent, name)
	if err := os.MkdirAll(filepath.Join(dir, verdict.NodesDir), 0o755); err != nil {
		return "", err
	}
	// Replace the link atomically: a new link under a temporary name,
	// renamed over the old one.
	tmp := filepath.Join(parent, "."+verdict.LatestLink+"-"+name)
	_ = os.Remove(tmp)
	if err := os.Symlink(name, tmp); err != nil {
		return dir, fmt.Errorf("latest link: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(parent, verdict.LatestLink)); err != nil {
		_ = os.Remove(tmp)
		return dir, fmt.Errorf("latest link: %w", err)
	}
	return dir, nil
}
