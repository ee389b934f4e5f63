package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// Exit codes of every ferry command.
const (
	exitOK         = 0
	exitUserError  = 1
	exitUsageError = 2
	// exitInternalError is a bug in ferry, never the input's or the caller's fault.
	exitInternalError = 3
)

// streams are the standard streams a command reads and writes.
type streams struct {
	in       io.Reader
	out, err io.Writer
}

// usageError marks a mistake in how a command was called (exit code 2).
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

// execute runs the CLI and returns the process exit code.
func execute(ctx context.Context, args []string, in io.Reader, out, errOut io.Writer) int {
	root := newRootCmd(streams{in: in, out: out, err: errOut}) //nolint:contextcheck // commands get ctx through cmd.Context()
	return runRoot(ctx, root, args, errOut)
}

// runRoot runs a command tree and maps what it ends with to an exit code: a panic is an
// internal error (exit 3), never confused with a usage error (2, which Go uses for a panic).
func runRoot(ctx context.Context, root *cobra.Command, args []string, errOut io.Writer) (code int) {
	defer func() {
		if p := recover(); p != nil {
			fmt.Fprintf(errOut, "Error: internal error, please report it: %v\n", p)
			code = exitInternalError
		}
	}()
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(errOut, "Error: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) || isCobraUsageError(err) {
		if cmd != nil {
			fmt.Fprintf(errOut, "Run '%s --help' for usage.\n", cmd.CommandPath())
		}
		return exitUsageError
	}
	return exitUserError
}

// isCobraUsageError recognises the usage errors cobra reports itself.
func isCobraUsageError(err error) bool {
	msg := err.Error()
	for _, prefix := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "required flag", "accepts ", "requires at least", "flag needs an argument", "invalid argument"} {
		if strings.HasPrefix(msg, prefix) {
			return true
		}
	}
	return false
}

func newRootCmd(s streams) *cobra.Command {
	root := &cobra.Command{
		Use:           "ferry",
		Short:         "Ferry delivers OAM Applications to Kubernetes clusters",
		Long:          "Ferry renders OAM Applications through CUE definitions and delivers them with a step-based workflow\nto the hub cluster or to Open Cluster Management managed clusters.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(s.in)
	root.SetOut(s.out)
	root.SetErr(s.err)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newDryRunCmd(s), newDefCmd(s), newAddonCmd(s), newVersionCmd(s), newInstallCmd(s), newUninstallCmd(s),
		newUpCmd(s), newStatusCmd(s), newLsCmd(s), newDeleteCmd(s), newWorkflowCmd(s), newLiveDiffCmd(s), newClusterCmd(s), newUICmd(s), newEnvCmd(s))
	return root
}

// exactArgs is cobra.ExactArgs reporting a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}

// noArgs is cobra.NoArgs reporting a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if err := cobra.NoArgs(cmd, args); err != nil {
		return usageError{err}
	}
	return nil
}
