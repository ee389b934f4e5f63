package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ferryhq/ferry/pkg/addon"
)

func newAddonListCmd(s streams) *cobra.Command {
	var kube kubeFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List addons: versions per registry, the enabled version, and its real state",
		Long: `The state of an enabled addon comes from its Application's phase and health: enabling,
enabled (its Application runs and every component is healthy), degraded or failed (with why).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, _, err := kube.addonManager(cmd.Context(), addon.ArtifactOptions{})
			if err != nil {
				return err
			}
			catalog, err := m.Catalog(cmd.Context())
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tREGISTRY\tAVAILABLE\tENABLED\tSTATE\tDESCRIPTION")
			for _, e := range catalog.Addons {
				enabled, state := "-", "disabled"
				if e.Status != nil {
					enabled, state = e.Status.Version, e.Status.State
					if e.Status.Reason != "" {
						state += " (" + e.Status.Reason + ")"
					}
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Name, dash(e.Registry), available(e), enabled, state, e.Description)
			}
			if err := w.Flush(); err != nil {
				return err
			}
			for _, p := range catalog.Problems {
				fmt.Fprintf(s.err, "Warning: %s\n", p)
			}
			return nil
		},
	}
	kube.bind(cmd)
	return cmd
}

// available is an addon's versions; per registry when more than one has it.
func available(e addon.CatalogEntry) string {
	switch len(e.ByRegistry) {
	case 0:
		return "-"
	case 1:
		return strings.Join(e.Versions, ", ")
	}
	var parts []string
	for _, rv := range e.ByRegistry {
		parts = append(parts, strings.Join(rv.Versions, ", ")+" ("+rv.Registry+")")
	}
	return strings.Join(parts, "; ")
}
