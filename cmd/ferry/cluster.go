package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	clusterv1 "open-cluster-management.io/api/cluster/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func newClusterCmd(s streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "List and label the managed clusters (OCM ManagedClusters) Applications deploy to",
	}
	cmd.AddCommand(newClusterListCmd(s), newClusterLabelCmd(s))
	return cmd
}

func newClusterListCmd(s streams) *cobra.Command {
	k := &kubeFlags{}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List managed clusters with their labels, claims and availability; local is the hub itself",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, _, err := k.client()
			if err != nil {
				return err
			}
			return runClusterList(cmd.Context(), s, c)
		},
	}
	k.bind(cmd)
	return cmd
}

func runClusterList(ctx context.Context, s streams, c client.Client) error {
	var list clusterv1.ManagedClusterList
	if err := c.List(ctx, &list); err != nil && !meta.IsNoMatchError(err) {
		return fmt.Errorf("list managed clusters: %w", err)
	}
	tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tLABELS\tCLAIMS\tAVAILABLE")
	fmt.Fprintln(tw, "local\t-\t-\tTrue (the hub)")
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	for _, mc := range list.Items {
		var claims []string
		for _, cl := range mc.Status.ClusterClaims {
			claims = append(claims, cl.Name+"="+cl.Value)
		}
		available := "Unknown (no registration agent reports it)"
		if cond := meta.FindStatusCondition(mc.Status.Conditions, clusterv1.ManagedClusterConditionAvailable); cond != nil {
			available = string(cond.Status)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", mc.Name, orNone(joinLabels(mc.Labels), "-"), orNone(strings.Join(claims, ","), "-"), available)
	}
	return tw.Flush()
}

func joinLabels(labels map[string]string) string {
	var out []string
	for k, v := range labels {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func newClusterLabelCmd(s streams) *cobra.Command {
	k := &kubeFlags{}
	cmd := &cobra.Command{
		Use:     "label CLUSTER KEY=VALUE... [KEY-...]",
		Short:   "Set or remove labels of a managed cluster (what topology clusterLabelSelector matches)",
		Example: "  ferry cluster label cluster1 env=prod region=eu\n  ferry cluster label cluster1 region-",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return usageError{fmt.Errorf("give a cluster and at least one KEY=VALUE or KEY-")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, _, err := k.client()
			if err != nil {
				return err
			}
			return runClusterLabel(cmd.Context(), s, c, args[0], args[1:])
		},
	}
	k.bind(cmd)
	return cmd
}

func runClusterLabel(ctx context.Context, s streams, c client.Client, name string, changes []string) error {
	mc := &clusterv1.ManagedCluster{}
	if err := c.Get(ctx, client.ObjectKey{Name: name}, mc); err != nil {
		return fmt.Errorf("get managed cluster %q: %w", name, err)
	}
	patch := client.MergeFrom(mc.DeepCopy())
	if mc.Labels == nil {
		mc.Labels = map[string]string{}
	}
	for _, ch := range changes {
		switch {
		case strings.HasSuffix(ch, "-") && !strings.Contains(ch, "="):
			delete(mc.Labels, strings.TrimSuffix(ch, "-"))
		case strings.Contains(ch, "="):
			k, v, _ := strings.Cut(ch, "=")
			if k == "" {
				return usageError{fmt.Errorf("label %q has no key", ch)}
			}
			mc.Labels[k] = v
		default:
			return usageError{fmt.Errorf("label %q: write KEY=VALUE to set or KEY- to remove", ch)}
		}
	}
	if err := c.Patch(ctx, mc, patch); err != nil {
		return fmt.Errorf("label managed cluster %q: %w", name, err)
	}
	fmt.Fprintf(s.out, "cluster %s labelled: %s\n", name, orNone(joinLabels(mc.Labels), "(no labels)"))
	return nil
}
