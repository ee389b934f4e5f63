package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/pkg/addon"
	"github.com/ferryhq/ferry/pkg/install"
)

func newAddonRegistryRemoveCmd(s streams) *cobra.Command {
	var kube kubeFlags
	cmd := &cobra.Command{
		Use:   "remove NAME",
		Short: "Remove a registry and its credentials from the hub (enabled addons stay)",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{errors.New("give the registry's name")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, _, err := kube.client()
			if err != nil {
				return err
			}
			if err := addon.RemoveRegistry(cmd.Context(), c, install.DefaultNamespace, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(s.out, "registry %s removed\n", args[0])
			return nil
		},
	}
	kube.bind(cmd)
	return cmd
}
