package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/api/v1beta1"
)

type lsOptions struct {
	kube          kubeFlags
	allNamespaces bool
}

func newLsCmd(s streams) *cobra.Command {
	o := &lsOptions{}
	cmd := &cobra.Command{
		Use:   "ls [-A]",
		Short: "List Applications with their phase, health and revision",
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return runLs(cmd.Context(), s, o) },
	}
	o.kube.bind(cmd)
	cmd.Flags().BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "list Applications of every namespace")
	return cmd
}

func runLs(ctx context.Context, s streams, o *lsOptions) error {
	c, ns, err := o.kube.client()
	if err != nil {
		return err
	}
	var list v1beta1.ApplicationList
	var opts []client.ListOption
	if !o.allNamespaces {
		opts = append(opts, client.InNamespace(ns))
	}
	if err := c.List(ctx, &list, opts...); err != nil {
		return fmt.Errorf("list applications: %w", err)
	}
	// The SHARD column appears when the controller runs sharded (some app has a shard).
	sharded := false
	for _, a := range list.Items {
		if a.Labels[v1beta1.LabelShardID] != "" {
			sharded = true
		}
	}
	tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
	header := "NAMESPACE\tNAME\tCOMPONENTS\tPHASE\tHEALTHY\tREVISION\tAGE"
	if sharded {
		header += "\tSHARD"
	}
	fmt.Fprintln(tw, header)
	for _, a := range list.Items {
		healthy := 0
		for _, svc := range a.Status.Services {
			if svc.Healthy {
				healthy++
			}
		}
		rev := "-"
		if a.Status.LatestRevision != nil {
			rev = a.Status.LatestRevision.Name
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d/%d\t%s\t%s", a.Namespace, a.Name, len(a.Spec.Components), orNone(string(a.Status.Phase), "-"),
			healthy, len(a.Status.Services), rev, duration.HumanDuration(time.Since(a.CreationTimestamp.Time)))
		if sharded {
			fmt.Fprintf(tw, "\t%s", orNone(a.Labels[v1beta1.LabelShardID], "-"))
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}
