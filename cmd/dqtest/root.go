package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
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
	refuseUnknownSubcommands(root)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &exitError{code: exitUnknown, err: fmt.Errorf("%w (see %s --help)", clearFlagError(err), cmd.CommandPath())}
	})
	return root
}

// clearFlagError turns pflag's "invalid argument "abc" for "--seed" flag:
// strconv.ParseInt: parsing "abc": invalid syntax" into what the flag
// wants: `--seed "abc": want an integer`.
func clearFlagError(err error) error {
	var iv *pflag.InvalidValueError
	if !errors.As(err, &iv) {
		return err
	}
	f := iv.GetFlag()
	want := "a valid " + f.Value.Type()
	switch f.Value.Type() {
	case "int", "int64", "int32", "uint", "uint64", "uint32":
		want = "an integer"
		if errors.Is(err, strconv.ErrRange) {
			want = "an integer in range"
		}
	case "float64", "float32":
		want = "a number, e.g. 2.5"
	case "duration":
		want = "a duration such as 500ms, 30s or 2m"
	case "bool":
		want = "true or false"
	}
	return fmt.Errorf("--%s %q: want %s", f.Name, iv.GetValue(), want)
}

// refuseUnknownSubcommands makes every command group below the root (sim,
// ...) answer an unknown subcommand with an error and exit status 2;
// cobra would print the group's help and exit 0, which hides a typo in a
// script. Without arguments a group still prints its help.
func refuseUnknownSubcommands(c *cobra.Command) {
	for _, sub := range c.Commands() {
		refuseUnknownSubcommands(sub)
	}
	if !c.HasParent() || !c.HasSubCommands() || c.Runnable() {
		return
	}
	c.Args = cobra.ArbitraryArgs
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return cmd.Help()
		}
		var names []string
		for _, s := range cmd.Commands() {
			if s.IsAvailableCommand() {
				names = append(names, s.Name())
			}
		}
		return &exitError{code: exitUnknown, err: fmt.Errorf("unknown command %q for %q (its commands: %s)",
			args[0], cmd.CommandPath(), strings.Join(names, ", "))}
	}
}

// rawArgsKey carries the command line (without the program name) in the
// context, for a flag error handler that still has to find --junit and
// the scenario files after pflag gave up.
type rawArgsKey struct{}

// rawArgs is the command line execute or executeArgs was given.
func rawArgs(cmd *cobra.Command) []string {
	if ctx := cmd.Context(); ctx != nil {
		if a, ok := ctx.Value(rawArgsKey{}).([]string); ok {
			return a
		}
	}
	return nil
}

// executeArgs runs root with args (without the program name).
func executeArgs(ctx context.Context, root *cobra.Command, args []string) error {
	root.SetArgs(args)
	return root.ExecuteContext(context.WithValue(ctx, rawArgsKey{}, args))
}

func execute() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRoot()
	err := executeArgs(ctx, root, os.Args[1:])
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
