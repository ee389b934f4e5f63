package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/pkg/addon"
	"github.com/ferryhq/ferry/pkg/install"
)

func newAddonRegistryListCmd(s streams) *cobra.Command {
	var kube kubeFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the registries addons come from, in the order they are searched",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, _, err := kube.client()
			if err != nil {
				return err
			}
			specs, err := addon.RegistrySpecs(cmd.Context(), c, install.DefaultNamespace)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tTYPE\tURL\tREF\tPATH\tCREDENTIALS")
			for _, sp := range specs {
				creds := "-"
				if sp.SecretName != "" {
					creds = "secret/" + sp.SecretName
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", sp.Name, sp.Type, sp.URL, dash(sp.Ref), dash(sp.Path), creds)
			}
			fmt.Fprintf(w, "%s\tbuilt-in\t-\t-\t-\t-\n", addon.BuiltinRegistryName)
			return w.Flush()
		},
	}
	kube.bind(cmd)
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
