package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/pkg/install"
)

type installOptions struct {
	impersonate  bool
	kube         kubeFlags
	noController bool
	namespace    string
	image        string
	webhookURL   string
}

func newInstallCmd(s streams) *cobra.Command {
	o := &installOptions{}
	cmd := &cobra.Command{
		Use:   "install [--no-controller [--webhook-url https://HOST:PORT]]",
		Short: "Install Ferry's CRDs, built-in definitions and controller on the hub cluster",
		Long: `Install applies Ferry's CRDs and built-in definitions and, unless --no-controller is given, the
controller's RBAC and Deployment, and the admission webhook that checks every Application before
it is stored. With --no-controller, run the controller yourself:
  ferry-controller --kubeconfig FILE
and add --webhook-url https://HOST:PORT to keep admission on, served by
  ferry-controller --kubeconfig FILE --webhook-host HOST --webhook-port PORT
(the API server must reach HOST:PORT). Running install again upgrades what it installed.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runInstall(cmd.Context(), s, o) },
	}
	o.kube.bind(cmd)
	cmd.Flags().BoolVar(&o.noController, "no-controller", false, "install only the CRDs and the built-in definitions")
	cmd.Flags().StringVar(&o.namespace, "system-namespace", install.DefaultNamespace, "namespace of the controller and the built-in definitions")
	cmd.Flags().StringVar(&o.image, "image", "", "controller image (default: the released one)")
	cmd.Flags().StringVar(&o.webhookURL, "webhook-url", "", "with --no-controller: register the admission webhook at https://HOST:PORT, served by a controller outside the cluster")
	cmd.Flags().BoolVar(&o.impersonate, "impersonate", true, "each Application acts on the hub as its writer, recorded by the admission webhook (false: single-tenant, every app acts with the controller's rights, which then include writing what apps deploy)")
	return cmd
}

func runInstall(ctx context.Context, s streams, o *installOptions) error {
	c, _, err := o.kube.client()
	if err != nil {
		return err
	}
	if o.webhookURL != "" && !o.noController {
		return usageError{errors.New("--webhook-url is for a controller outside the cluster: give it with --no-controller")}
	}
	// Without admission nobody's identity is recorded: only a single-tenant controller can run.
	single := !o.impersonate || (o.noController && o.webhookURL == "")
	objs, err := install.Objects(install.Options{Namespace: o.namespace, Controller: !o.noController, Image: o.image,
		WebhookURL: o.webhookURL, SingleTenant: single})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
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
	flag := ""
	if !o.impersonate {
		flag = " --impersonate=false"
	}
	switch {
	case o.noController && o.webhookURL != "":
		u, _ := url.Parse(o.webhookURL)
		fmt.Fprintf(s.out, ", and the admission webhook at %s. Run the controller with: ferry-controller --kubeconfig FILE --webhook-host %s --webhook-port %s%s\n",
			o.webhookURL, u.Hostname(), u.Port(), flag)
	case o.noController:
		fmt.Fprintln(s.out, ". Run the controller with: ferry-controller --kubeconfig FILE --impersonate=false")
	default:
		fmt.Fprintln(s.out, ", and the controller.")
	}
	if single {
		fmt.Fprintln(s.out, "Tenancy: single-tenant. Every Application acts with the controller's rights on the hub: give Application write access only to people you trust with them.")
	} else {
		fmt.Fprintf(s.out, "Tenancy: impersonation on. Each Application acts on the hub as its writer (or the ServiceAccount it names), so RBAC decides what it may do; on managed clusters its objects are applied as ServiceAccount %s of its namespace (grant it rights there).\n", install.DefaultExecutor)
	}
	return nil
}
