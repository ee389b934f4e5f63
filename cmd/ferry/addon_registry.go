package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/pkg/addon"
	"github.com/ferryhq/ferry/pkg/install"
)

func newAddonRegistryCmd(s streams) *cobra.Command {
	cmd := &cobra.Command{Use: "registry", Short: "Add, list and remove the addon registries stored on the hub"}
	cmd.AddCommand(newAddonRegistryAddCmd(s), newAddonRegistryListCmd(s), newAddonRegistryRemoveCmd(s))
	return cmd
}

type registryAddOptions struct {
	kube  kubeFlags
	spec  addon.RegistrySpec
	creds addon.Credentials
}

func newAddonRegistryAddCmd(s streams) *cobra.Command {
	o := &registryAddOptions{}
	cmd := &cobra.Command{
		Use:   "add NAME --type dir|git|http|oci --url URL",
		Short: "Store a registry on the hub (credentials go to a Secret and are never printed)",
		Example: `  ferry addon registry add team --type git --url https://git.example.com/addons.git --ref main --path addons
  ferry addon registry add mirror --type http --url https://addons.example.com/ --token "$TOKEN"
  ferry addon registry add local --type dir --url ./addons`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{errors.New("give the registry's name")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.spec.Name = args[0]
			if err := o.spec.Validate(); err != nil {
				return usageError{err}
			}
			c, _, err := o.kube.client()
			if err != nil {
				return err
			}
			reg := o.spec
			if err := addon.SaveRegistry(cmd.Context(), c, install.DefaultNamespace, reg, o.creds); err != nil {
				return err
			}
			// Read it back through the hub and list it once, so a wrong URL or credential shows now.
			specs, err := addon.RegistrySpecs(cmd.Context(), c, install.DefaultNamespace)
			if err != nil {
				return err
			}
			for _, sp := range specs {
				if sp.Name != reg.Name {
					continue
				}
				r, err := sp.Open(cmd.Context(), c, install.DefaultNamespace)
				if err != nil {
					return err
				}
				ix, err := r.Index(cmd.Context())
				if err != nil {
					fmt.Fprintf(s.err, "Warning: registry %s was added but cannot be read now: %v\n", reg.Name, err)
					return nil
				}
				fmt.Fprintf(s.out, "registry %s added (%s, %d addons)\n", reg.Name, reg.Type, len(ix.Entries))
			}
			return nil
		},
	}
	o.kube.bind(cmd)
	cmd.Flags().StringVar(&o.spec.Type, "type", "", "dir, git, http or oci")
	cmd.Flags().StringVar(&o.spec.URL, "url", "", "repository or index URL (a path for dir)")
	cmd.Flags().StringVar(&o.spec.Ref, "ref", "", "git: branch, tag or commit (default: the default branch)")
	cmd.Flags().StringVar(&o.spec.Path, "path", "", "git: directory of the addons in the repository")
	cmd.Flags().StringVar(&o.creds.Username, "username", "", "user name for the registry")
	cmd.Flags().StringVar(&o.creds.Password, "password", "", "password for the registry")
	cmd.Flags().StringVar(&o.creds.Token, "token", "", "bearer token for the registry")
	return cmd
}
