package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/pkg/workflow/appworkflow"
)

type workflowOptions struct {
	kube kubeFlags
	step string
}

func newWorkflowCmd(s streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "workflow",
		Short: "Suspend, resume, terminate, restart or roll back an Application's workflow",
	}
	for _, c := range []struct {
		cmd   appworkflow.Command
		short string
	}{
		{appworkflow.CommandSuspend, "Suspend the workflow: nothing more runs until it is resumed"},
		{appworkflow.CommandResume, "Resume a suspended workflow, or one suspended step with --step (approve it)"},
		{appworkflow.CommandTerminate, "Terminate the workflow: unfinished steps stop for good"},
		{appworkflow.CommandRestart, "Run the workflow again from its first step"},
	} {
		cmd.AddCommand(newWorkflowControlCmd(s, c.cmd, c.short))
	}
	cmd.AddCommand(newWorkflowRollbackCmd(s))
	return cmd
}

func newWorkflowControlCmd(s streams, command appworkflow.Command, short string) *cobra.Command {
	o := &workflowOptions{}
	cmd := &cobra.Command{
		Use:   string(command) + " APP",
		Short: short,
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, ns, err := o.kube.client()
			if err != nil {
				return err
			}
			key := client.ObjectKey{Namespace: ns, Name: args[0]}
			by := ""
			if command == appworkflow.CommandResume {
				// A resume records who approves; the admission webhook checks it is the requester.
				if by, err = appworkflow.WhoAmI(cmd.Context(), c); err != nil {
					fmt.Fprintf(s.err, "Warning: %v: the resume records no approver\n", err)
				}
			}
			if err := appworkflow.Control(cmd.Context(), c, key, command, o.step, by, time.Now()); err != nil {
				return fmt.Errorf("%s the workflow of %s: %w", command, key, err)
			}
			what := "workflow"
			if o.step != "" {
				what = "step " + o.step
			}
			if by != "" {
				fmt.Fprintf(s.out, "application %s: %s %s by %s\n", key, what, command.PastTense(), by)
			} else {
				fmt.Fprintf(s.out, "application %s: %s %s\n", key, what, command.PastTense())
			}
			return nil
		},
	}
	o.kube.bind(cmd)
	if command == appworkflow.CommandResume {
		cmd.Flags().StringVar(&o.step, "step", "", "resume only this suspended step")
	}
	return cmd
}

func newWorkflowRollbackCmd(s streams) *cobra.Command {
	o := &workflowOptions{}
	cmd := &cobra.Command{
		Use:   "rollback APP",
		Short: "Deliver the Application's previous revision again (its spec becomes that revision's)",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRollback(cmd.Context(), s, o, args[0])
		},
	}
	o.kube.bind(cmd)
	return cmd
}

func runRollback(ctx context.Context, s streams, o *workflowOptions, name string) error {
	c, ns, err := o.kube.client()
	if err != nil {
		return err
	}
	key := client.ObjectKey{Namespace: ns, Name: name}
	rev, err := appworkflow.Rollback(ctx, c, key)
	if err != nil {
		return fmt.Errorf("roll back %s: %w", key, err)
	}
	fmt.Fprintf(s.out, "application %s: spec set back to revision %s; its workflow runs as a new revision\n", key, rev)
	return nil
}
