package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes (DESIGN.md): 0 valid, 1 invalid, 2 unknown or harness error.
const (
	exitValid   = 0
	exitInvalid = 1
	exitUnknown = 2
)

// exitError carries an exit code out of a subcommand.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

// subcommands registers each subcommand; every file adds itself in init.
var subcommands []func() *cobra.Command

func newRoot() *cobra.Command {
	var verbose bool
	root := &cobra.Command{
		Use:           "dqtest",
		Short:         "A Jepsen-style test harness and simulator for dqlite",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRun: func(cmd *cobra.Command, args []string) {
			level := slog.LevelInfo
			if verbose {
				level = slog.LevelDebug
			}
			slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
		},
	}
	root.PersistentFlags().BoolVarP(&verbose, "verbose", "v", false, "debug logging")
	for _, sub := range subcommands {
		root.AddCommand(sub())
	}
	return root
}

func execute() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRoot()
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitValid
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(os.Stderr, "dqtest:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(os.Stderr, "dqtest:", err)
	return exitUnknown
}
