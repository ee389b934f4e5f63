package main

import (
	"errors"

	"github.com/spf13/cobra"
)

func newAddonUpgradeCmd(s streams) *cobra.Command {
	o := &addonEnableOptions{}
	cmd := &cobra.Command{
		Use:   "upgrade NAME [--version V] [KEY=VALUE...]",
		Short: "Move an enabled addon to a newer version, keeping its parameters and clusters",
		Long: `Upgrade keeps the recorded parameters (KEY=VALUE arguments change some) and clusters,
re-resolves dependencies, and updates the addon's Application in place: the controller takes
over the objects the previous version delivered and removes only those the new one no longer has.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{errors.New("give the addon's name")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAddonEnable(cmd.Context(), s, o, args[0], o.version, args[1:], true)
		},
	}
	o.bind(cmd, true)
	return cmd
}
