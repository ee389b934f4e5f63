package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/pkg/install"
)

type installOptions struct {
	kube         kubeFlags
	noController bool
	namespace    string
	image        string
}

func newInstallCmd(s streams) *cobra.Command {
	o := &installOptions{}
	cmd := &cobra.Command{
		Use:   "install [--no-controller]",
		Short: "Install Ferry's CRDs, built-in definitions and controller on the hub cluster",
		Long: `Install applies Ferry's CRDs and built-in definitions and, unless --no-controller is given, the
controller's RBAC and Deployment. With --no-controller, run the controller yourself:
  ferry-controller --kubeconfig FILE
Running install again upgrades what it installed.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runInstall(cmd.Context(), s, o) },
	}
	o.kube.bind(cmd)
	cmd.Flags().BoolVar(&o.noController, "no-controller", false, "install only the CRDs and the built-in definitions")
	cmd.Flags().StringVar(&o.namespace, "system-namespace", install.DefaultNamespace, "namespace of the controller and the built-in definitions")
	cmd.Flags().StringVar(&o.image, "image", "", "controller image (default: the released one)")
	return cmd
}

func runInstall(ctx context.Context, s streams, o *installOptions) error {
	c, _, err := o.kube.client()
	if err != nil {
		return err
	}
	objs, err := install.Objects(install.Options{Namespace: o.namespace, Controller: !o.noController, Image: o.image})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(orBackground(ctx), 3*time.Minute)
	defer cancel()
	if err := install.Apply(ctx, c, objs); err != nil {
		return err
	}
	counts := map[string]int{}
	for _, obj := range objs {
		counts[obj.GetKind()]++
	}
	fmt.Fprintf(s.out, "Installed %d CRDs and %d definitions in %s", counts["CustomResourceDefinition"],
		counts["ComponentDefinition"]+counts["TraitDefinition"]+counts["PolicyDefinition"]+counts["WorkflowStepDefinition"], o.namespace)
	if o.noController {
		fmt.Fprintln(s.out, ". Run the controller with: ferry-controller --kubeconfig FILE")
	} else {
		fmt.Fprintln(s.out, ", and the controller.")
	}
	return nil
}

func orBackground(ctx context.Context) context.Context {
	if ctx == nil {
		return context.Background()
	}
	return ctx
}
