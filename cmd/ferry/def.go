package main

import (
	"github.com/spf13/cobra"
)

func newDefCmd(s streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "def",
		Short: "Write, check, test and document definitions: component, trait, policy and workflow-step types",
		Args:  noArgs,
	}
	cmd.AddCommand(newDefListCmd(s), newDefShowCmd(s), newDefInitCmd(s), newDefVetCmd(s), newDefRenderCmd(s),
		newDefTestCmd(s), newDefDocCmd(s), newDefGetCmd(s), newDefApplyCmd(s), newDefDeleteCmd(s))
	return cmd
}
