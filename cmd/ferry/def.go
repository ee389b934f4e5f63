package main

import (
	"github.com/spf13/cobra"
)

func newDefCmd(s streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "def",
		Short: "Inspect definitions: component, trait, policy and workflow-step types",
		Args:  noArgs,
	}
	cmd.AddCommand(newDefListCmd(s), newDefShowCmd(s))
	return cmd
}
