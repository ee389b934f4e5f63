package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/ferryhq/ferry/pkg/appview"
)

type envOptions struct {
	kube   kubeFlags
	output string
}

func newEnvCmd(s streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "env",
		Short: "Where an Application's revisions run: per environment (deploy step) and cluster",
	}
	o := &envOptions{}
	ls := &cobra.Command{
		Use:   "ls APP [-o json]",
		Short: "List each deploy step's clusters with the revision they run, its health, since when, and who approved it",
		Args:  exactArgs(1),
		RunE:  func(cmd *cobra.Command, args []string) error { return runEnvLs(cmd.Context(), s, o, args[0]) },
	}
	o.kube.bind(ls)
	ls.Flags().StringVarP(&o.output, "output", "o", "", "output format: json (default: a table)")
	cmd.AddCommand(ls)
	return cmd
}

func runEnvLs(ctx context.Context, s streams, o *envOptions, name string) error {
	if o.output != "" && o.output != "json" {
		return usageError{fmt.Errorf("unknown output format %q: use json", o.output)}
	}
	c, app, err := o.kube.application(ctx, name)
	if err != nil {
		return err
	}
	envs, err := appview.Environments(ctx, c, app)
	if err != nil {
		return err
	}
	if o.output == "json" {
		if envs == nil {
			envs = []appview.Environment{}
		}
		enc := json.NewEncoder(s.out)
		enc.SetIndent("", "  ")
		return enc.Encode(envs)
	}
	tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ENVIRONMENT\tCLUSTER\tREVISION\tHEALTHY\tSINCE\tAPPROVED BY\tSTEP")
	for _, e := range envs {
		since := "-"
		if e.Since != nil {
			since = duration.HumanDuration(time.Since(*e.Since)) + " ago"
		}
		healthy := "-"
		if e.Components > 0 {
			healthy = fmt.Sprintf("%d/%d", e.Healthy, e.Components)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Step, orNone(e.Cluster, "-"), orNone(e.Revision, "-"), healthy, since,
			orNone(e.ApprovedBy, "-"), e.Phase)
	}
	return tw.Flush()
}
