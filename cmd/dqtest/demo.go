package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"strconv"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/dqtest/dqtest/harness"
	"github.com/dqtest/dqtest/harness/docker"
)

func init() {
	subcommands = append(subcommands, func() *cobra.Command {
		var nodes int
		var image string
		cmd := &cobra.Command{
			Use:   "demo",
			Short: "Bring up a dqlite cluster in containers, replicate a row, hand leadership over, print the cluster, tear it down",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, args []string) error {
				return runDemo(cmd.Context(), cmd.OutOrStdout(), nodes, image)
			},
		}
		cmd.Flags().IntVar(&nodes, "nodes", 3, "cluster size (1 to 7)")
		cmd.Flags().StringVar(&image, "image", docker.DefaultImage, "node image (built by 'make image'; never pulled)")
		return cmd
	})
}

// runDemo is the interim main job: the cluster goes away on every path out,
// Ctrl-C included (ctx is cancelled on SIGINT/SIGTERM).
func runDemo(ctx context.Context, out io.Writer, nodes int, image string) (err error) {
	// `dqtest demo | head -1` closes stdout early; by default Go then dies of
	// SIGPIPE on the next write and would leave the containers behind.
	// Ignored, the write fails with EPIPE and the teardown still runs.
	signal.Ignore(syscall.SIGPIPE)
	if nodes < 2 {
		return &exitError{code: exitUnknown, err: fmt.Errorf("demo: --nodes %d: the demo needs at least 2 nodes to replicate and hand over", nodes)}
	}
	runID := "demo-" + strconv.FormatInt(time.Now().Unix(), 36)
	upCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	began := time.Now()
	c, err := (&docker.Backend{}).Start(upCtx, harness.ClusterSpec{RunID: runID, Nodes: nodes, Image: image})
	if err != nil {
		return &exitError{code: exitUnknown, err: err}
	}
	fmt.Fprintf(out, "cluster %s up on %s in %v (containers %v, formed %v)\n", runID, c.Subnet(),
		time.Since(began).Round(time.Millisecond), c.Timing().Containers.Round(time.Millisecond), c.Timing().Formed.Round(time.Millisecond))
	defer func() {
		downCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if derr := c.Down(downCtx); derr != nil {
			err = errors.Join(err, derr)
		} else {
			fmt.Fprintf(out, "cluster %s removed\n", runID)
		}
		if err != nil {
			err = &exitError{code: exitUnknown, err: err}
		}
	}()
	return demoSteps(ctx, out, c)
}

func demoSteps(ctx context.Context, out io.Writer, c *docker.Cluster) error {
	step := func(d time.Duration) (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, d) }
	names := c.Nodes()

	sctx, cancel := step(15 * time.Second)
	defer cancel()
	w := c.Client(names[0])
	if _, err := w.Exec(sctx, "CREATE TABLE IF NOT EXISTS demo (id INTEGER PRIMARY KEY, msg TEXT NOT NULL)"); err != nil {
		return fmt.Errorf("create table through %s: %w", names[0], err)
	}
	res, err := w.Exec(sctx, "INSERT INTO demo (msg) VALUES (?)", "hello from "+names[0])
	if err != nil {
		return fmt.Errorf("write through %s: %w", names[0], err)
	}
	fmt.Fprintf(out, "wrote row %d through %s\n", res.LastInsertID, names[0])
	for _, n := range names[1:] {
		rows, err := c.Client(n).Query(sctx, "SELECT msg FROM demo WHERE id = ?", res.LastInsertID)
		if err != nil {
			return fmt.Errorf("read through %s: %w", n, err)
		}
		if len(rows) != 1 {
			return fmt.Errorf("read through %s: %d rows, want 1", n, len(rows))
		}
		fmt.Fprintf(out, "read it back through %s: %v\n", n, rows[0]["msg"])
	}

	hctx, cancel := step(90 * time.Second)
	defer cancel()
	before, err := c.Leader(hctx)
	if err != nil {
		return err
	}
	if err := c.Handover(hctx, before); err != nil {
		return err
	}
	after, err := awaitNewLeader(hctx, c, before)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "handed leadership over: %s -> %s\n", before, after)
	return printCluster(hctx, out, c)
}

func awaitNewLeader(ctx context.Context, c *docker.Cluster, old string) (string, error) {
	for {
		now, err := c.Leader(ctx)
		if err == nil && now != old {
			return now, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("no new leader after handover from %s: %w (last: %s, %v)", old, ctx.Err(), now, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func printCluster(ctx context.Context, out io.Writer, c *docker.Cluster) error {
	leader, err := c.Leader(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tID\tADDRESS\tROLE\tLEADER")
	for _, n := range c.Nodes() {
		st, err := c.Status(ctx, n)
		if err != nil {
			return err
		}
		mark := ""
		if n == leader {
			mark = "*"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", n, st.ID, st.Address, st.Role, mark)
	}
	return tw.Flush()
}
