package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/ferryhq/ferry/pkg/addon"
)

func newAddonStatusCmd(s streams) *cobra.Command {
	var kube kubeFlags
	var output string
	cmd := &cobra.Command{
		Use:   "status NAME",
		Short: "Show an addon's state, health per cluster, parameters (secrets masked) and dependencies",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{errors.New("give the addon's name")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			m, _, err := kube.addonManager(cmd.Context(), addon.ArtifactOptions{})
			if err != nil {
				return err
			}
			st, err := m.Status(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			switch output {
			case "json":
				data, err := json.MarshalIndent(st, "", "  ")
				if err != nil {
					return err
				}
				fmt.Fprintln(s.out, string(data))
				return nil
			case "yaml":
				data, err := yaml.Marshal(st)
				if err != nil {
					return err
				}
				fmt.Fprint(s.out, string(data))
				return nil
			case "":
			default:
				return usageError{fmt.Errorf("-o %q: use yaml or json", output)}
			}
			return printAddonStatus(s, st)
		},
	}
	kube.bind(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "", "yaml or json")
	return cmd
}

func printAddonStatus(s streams, st *addon.Status) error {
	if st.State == addon.StateDisabled {
		fmt.Fprintf(s.out, "addon %s is not enabled\n", st.Name)
		return nil
	}
	fmt.Fprintf(s.out, "addon:    %s@%s (registry %s)\n", st.Name, st.Version, st.Registry)
	state := st.State
	if st.Reason != "" {
		state += ": " + st.Reason
	}
	fmt.Fprintf(s.out, "state:    %s\n", state)
	if len(st.Clusters) > 0 {
		fmt.Fprintf(s.out, "clusters: %s\n", joinSorted(st.Clusters))
	} else if st.Selector != nil {
		fmt.Fprintf(s.out, "clusters: matching %s\n", formatSelector(st.Selector))
	}
	if len(st.Dependencies) > 0 {
		fmt.Fprintf(s.out, "depends:  %s\n", joinSorted(st.Dependencies))
	}
	if len(st.Parameters) > 0 {
		data, err := json.Marshal(st.Parameters)
		if err != nil {
			return err
		}
		fmt.Fprintf(s.out, "params:   %s\n", data)
	}
	if len(st.Definitions) > 0 {
		fmt.Fprintf(s.out, "defines:  %s\n", joinSorted(st.Definitions))
	}
	if len(st.Components) == 0 {
		return nil
	}
	w := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "CLUSTER\tCOMPONENT\tHEALTHY\tMESSAGE")
	for _, c := range st.Components {
		fmt.Fprintf(w, "%s\t%s\t%t\t%s\n", c.Cluster, c.Component, c.Healthy, c.Message)
	}
	return w.Flush()
}
