package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/pkg/install"
)

type uninstallOptions struct {
	kube      kubeFlags
	namespace string
}

func newUninstallCmd(s streams) *cobra.Command {
	o := &uninstallOptions{}
	cmd := &cobra.Command{
		Use:   "uninstall",
		Short: "Remove Ferry's controller, built-in definitions and CRDs from the hub cluster",
		Long: `Uninstall refuses while Applications exist: removing the CRDs would delete them without the
controller removing what they deployed. Delete them first with ferry delete.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runUninstall(cmd.Context(), s, o) },
	}
	o.kube.bind(cmd)
	cmd.Flags().StringVar(&o.namespace, "system-namespace", install.DefaultNamespace, "namespace of the controller and the built-in definitions")
	return cmd
}

func runUninstall(ctx context.Context, s streams, o *uninstallOptions) error {
	c, _, err := o.kube.client()
	if err != nil {
		return err
	}
	if err := install.Uninstall(ctx, c, install.Options{Namespace: o.namespace}); err != nil {
		return err
	}
	fmt.Fprintln(s.out, "Uninstalled Ferry.")
	return nil
}
