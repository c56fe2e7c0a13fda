package docker

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/harness"
)

// Reinstall moves a node of a 1.18.1 cluster to 1.18.7 and back with its
// data: the data directory is copied (no data volumes) or stays on the
// volume (data_dir_size). After each move the node, made leader, serves
// every row written before from its own replica and takes new writes; its
// log keeps the old container's lines; Builds names both images.
func TestReinstallMovesANodeBetweenVersionsWithItsData(t *testing.T) {
	requireDockerAndImage(t)
	for _, tc := range []struct{ name, size, carried string }{
		{"copy", "", "copy"},
		{"volume", "64m", "volume"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := upSpec(t, harness.ClusterSpec{RunID: testRunID("upg-" + tc.name), Nodes: 3, Dqlite: "1.18.1", DataDirSize: tc.size})
			_, err := c.Client("n1").Exec(ctxFor(t, 10*time.Second), "CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL)")
			require.NoError(t, err)
			writeAndReadEverywhere(t, c, "before", 1)
			require.Equal(t, []string{"1.18.1", "1.18.7"}, c.DqliteVersions())
			require.Equal(t, "1.18.1", c.DqliteVersion("n2"))

			for i, to := range []string{"1.18.7", "1.18.1"} {
				r, err := c.Reinstall(ctxFor(t, 60*time.Second), "n2", to)
				require.NoError(t, err, "reinstall n2 on %s", to)
				require.Equal(t, to, r.To)
				require.Equal(t, to, c.DqliteVersion("n2"))
				require.Equal(t, tc.carried, r.Carried)
				require.Positive(t, r.DataBytes)
				require.Zero(t, r.ExitCode, "the old node stopped cleanly on SIGTERM")
				t.Logf("n2 -> %s: %+v", to, r)

				// n2 leads and reads from its own replica. Its peers can name
				// it leader while its Node is still starting (the control
				// API answers "not running" until Start returns), so wait
				// for both.
				eventually(t, 30*time.Second, "n2 leads and runs", func(ctx context.Context) error {
					if l, err := c.Leader(ctx); err != nil || l != "n2" {
						if err := c.Transfer(ctx, "n2"); err != nil {
							return err
						}
					}
					st, err := c.Status(ctx, "n2")
					if err != nil {
						return err
					}
					if !st.Running {
						return fmt.Errorf("n2 is leader but its node is not running yet")
					}
					return nil
				})
				got, err := readValue(ctxFor(t, 10*time.Second), c.Client("n2"), "before")
				require.NoError(t, err)
				require.Equal(t, int64(1), got)
				write(t, c, "n2", "after", int64(i))
				writeAndReadEverywhere(t, c, "again", int64(10+i))
			}

			logs, err := c.Logs(ctxFor(t, 10*time.Second), "n2")
			require.NoError(t, err)
			require.Equal(t, 2, strings.Count(string(logs), "dqlite_version=1.18.0 stop_mode"), "the first and the last container's start: the log of the first is kept")
			require.Contains(t, string(logs), "dqlite_version=1.18.7", "the 1.18.7 container's lines")
			builds := c.Builds()
			require.Len(t, builds, 2)
			require.ElementsMatch(t, []string{"dqtest-node:1.18.1", "dqtest-node:1.18.7"}, []string{builds[0].Image, builds[1].Image})
			for _, b := range builds {
				require.Contains(t, b.Nodes, "n2")
			}

			_, err = c.Reinstall(ctxFor(t, 10*time.Second), "n2", "9.9.9")
			require.ErrorContains(t, err, "dqlite 9.9.9 is not a version dqtest ships")
			require.Equal(t, "1.18.1", c.DqliteVersion("n2"), "a refused move changes nothing")
		})
	}
}
