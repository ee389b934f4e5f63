package main

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/appfile"
	"github.com/ferryhq/ferry/pkg/dispatch"
)

type liveDiffOptions struct {
	kube  kubeFlags
	files []string
}

func newLiveDiffCmd(s streams) *cobra.Command {
	o := &liveDiffOptions{}
	cmd := &cobra.Command{
		Use:   "live-diff -f app.yaml",
		Short: "Show what applying an Application would change on the hub cluster",
		Long: `Live-diff renders the Application with the cluster's definitions, asks the API server what each
object would become (a server-side-apply dry run, so defaults and admission are included), and
prints a unified diff against the live object: "+ create" for new objects, "- delete" for objects
the app owns that it would no longer render. Nothing is changed. Objects for managed clusters are
listed, not diffed.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runLiveDiff(orBackground(cmd.Context()), s, o) },
	}
	o.kube.bind(cmd)
	cmd.Flags().StringArrayVarP(&o.files, "file", "f", nil, "Application YAML file, or - for stdin")
	return cmd
}

func runLiveDiff(ctx context.Context, s streams, o *liveDiffOptions) error {
	c, ns, err := o.kube.client()
	if err != nil {
		return err
	}
	afs, err := readAppfiles(s, o.files, ns)
	if err != nil {
		return err
	}
	planner, err := o.kube.clusterPlanner(c)
	if err != nil {
		return err
	}
	for _, af := range afs {
		plan, err := planOnCluster(ctx, planner, af)
		if err != nil {
			return err
		}
		if err := diffPlan(ctx, s, c, af, plan); err != nil {
			return err
		}
	}
	return nil
}

func diffPlan(ctx context.Context, s streams, c client.Client, af *appfile.Appfile, plan *appfile.Plan) error {
	hub := dispatch.NewHub(dispatch.HubOptions{Client: c})
	rendered := map[string]bool{}
	changes := 0
	for _, it := range plan.Items() {
		if it.Cluster != appfile.LocalCluster {
			fmt.Fprintf(s.out, "# cluster %s: %s %s (delivered through its ManifestWork)\n", it.Cluster, it.Object["kind"], objName(it.Object))
			continue
		}
		desired, err := hub.Normalize(it.Object)
		if err != nil {
			return err
		}
		rendered[dispatch.ResourceKey(resourceOf(desired))] = true
		live, err := hub.Get(ctx, desired.GroupVersionKind(), desired.GetNamespace(), desired.GetName())
		if err != nil {
			return err
		}
		if live == nil {
			changes++
			fmt.Fprintf(s.out, "+ create %s\n", dispatch.Describe(desired))
			continue
		}
		after := desired.DeepCopy()
		if err := c.Patch(ctx, after, client.Apply, client.FieldOwner(dispatch.HubFieldManager), client.ForceOwnership, client.DryRunAll); err != nil {
			return fmt.Errorf("dry-run apply %s: %w", dispatch.Describe(desired), err)
		}
		text, err := unifiedDiff(dispatch.Describe(desired), live, after)
		if err != nil {
			return err
		}
		if text != "" {
			changes++
			fmt.Fprint(s.out, text)
		}
	}
	trackers := &dispatch.Trackers{Client: c}
	rts, err := trackers.List(ctx, dispatch.AppRef{Name: af.App.Name, Namespace: af.App.Namespace}, true)
	if err != nil && !isNoKind(err) && !apierrors.IsNotFound(err) {
		return err
	}
	var gone []string
	for _, rt := range rts {
		for _, r := range rt.Spec.ManagedResources {
			if key := dispatch.ResourceKey(r); !rendered[key] && r.Collect != appfile.CollectNever {
				rendered[key] = true
				gone = append(gone, fmt.Sprintf("- delete %s %s", r.Kind, strings.TrimPrefix(r.Namespace+"/"+r.Name, "/")))
			}
		}
	}
	sort.Strings(gone)
	for _, g := range gone {
		changes++
		fmt.Fprintln(s.out, g)
	}
	if changes == 0 {
		fmt.Fprintf(s.out, "application %s/%s: no changes\n", af.App.Namespace, af.App.Name)
	}
	return nil
}

func resourceOf(u *unstructured.Unstructured) v1beta1.ManagedResource {
	return v1beta1.ManagedResource{Cluster: appfile.LocalCluster, APIVersion: u.GetAPIVersion(), Kind: u.GetKind(), Namespace: u.GetNamespace(), Name: u.GetName()}
}

func objName(obj map[string]any) string {
	u := &unstructured.Unstructured{Object: obj}
	if u.GetNamespace() == "" {
		return u.GetName()
	}
	return u.GetNamespace() + "/" + u.GetName()
}

// unifiedDiff compares two objects without the fields the server manages.
func unifiedDiff(name string, before, after *unstructured.Unstructured) (string, error) {
	clean := func(u *unstructured.Unstructured) (string, error) {
		u = u.DeepCopy()
		for _, f := range [][]string{{"metadata", "managedFields"}, {"metadata", "resourceVersion"}, {"metadata", "generation"},
			{"metadata", "uid"}, {"metadata", "creationTimestamp"}, {"status"}} {
			unstructured.RemoveNestedField(u.Object, f...)
		}
		data, err := yaml.Marshal(u.Object)
		return string(data), err
	}
	a, err := clean(before)
	if err != nil {
		return "", err
	}
	b, err := clean(after)
	if err != nil {
		return "", err
	}
	if a == b {
		return "", nil
	}
	return difflib.GetUnifiedDiffString(difflib.UnifiedDiff{A: difflib.SplitLines(a), B: difflib.SplitLines(b),
		FromFile: "live " + name, ToFile: "applied " + name, Context: 3})
}
