package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/pkg/addon"
)

type addonDisableOptions struct {
	kube    kubeFlags
	force   bool
	timeout time.Duration
}

func newAddonDisableCmd(s streams) *cobra.Command {
	o := &addonDisableOptions{}
	cmd := &cobra.Command{
		Use:   "disable NAME",
		Short: "Remove an addon: its Application and what it delivered, its definitions and its record",
		Long: `Disable refuses, naming them, while Applications use the addon's definitions or enabled addons
depend on it; --force disables anyway and says what will break. It deletes the addon's
Application and waits (up to --timeout) for the controller to remove exactly what the
Application delivered, then its definitions and its record.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{errors.New("give the addon's name")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			m, _, err := o.kube.addonManager(cmd.Context(), addon.ArtifactOptions{})
			if err != nil {
				return err
			}
			users, err := m.Disable(cmd.Context(), args[0], addon.DisableOptions{Force: o.force, Wait: o.timeout})
			if err != nil {
				return err
			}
			if !users.Empty() {
				fmt.Fprintf(s.err, "Warning: disabled while in use; these will break: %s\n", users)
			}
			fmt.Fprintf(s.out, "addon %s disabled\n", args[0])
			return nil
		},
	}
	o.kube.bind(cmd)
	cmd.Flags().BoolVar(&o.force, "force", false, "disable even while Applications or addons use it")
	cmd.Flags().DurationVar(&o.timeout, "timeout", 5*time.Minute, "how long to wait for what the addon delivered to be removed")
	return cmd
}
