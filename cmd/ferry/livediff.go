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

	"github.com/ferryhq/ferry/pkg/appfile"
	"github.com/ferryhq/ferry/pkg/dispatch"
)

type liveDiffOptions struct {
	kube     kubeFlags
	files    []string
	validate validateFlag
}

func newLiveDiffCmd(s streams) *cobra.Command {
	o := &liveDiffOptions{}
	cmd := &cobra.Command{
		Use:   "live-diff -f app.yaml",
		Short: "Show what applying an Application would change on the hub cluster",
		Long: `Live-diff renders the Application with the cluster's definitions and goes through exactly what the
controller would apply, with every write a server-side dry run (so defaults and admission are
included): a unified diff against the live object, "+ create" for new objects, "! would conflict"
for objects another Application or a person owns, "= left alone" for objects read-only and
apply-once policies protect, and "- delete" for objects the app owns that it would no longer render.
Objects for managed clusters show as changes to their ManifestWorks. Nothing is changed.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runLiveDiff(cmd.Context(), s, o) },
	}
	o.kube.bind(cmd)
	cmd.Flags().StringArrayVarP(&o.files, "file", "f", nil, "Application YAML file, or - for stdin")
	o.validate.bind(cmd)
	return cmd
}

func runLiveDiff(ctx context.Context, s streams, o *liveDiffOptions) error {
	c, ns, err := o.kube.client()
	if err != nil {
		return err
	}
	afs, err := readAppfiles(s, o.files, ns, o.validate)
	if err != nil {
		return err
	}
	planner, err := o.kube.clusterPlanner(c, o.validate)
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
	app := dispatch.AppRef{Name: af.App.Name, Namespace: af.App.Namespace}
	rendered := map[string]bool{}
	changes := 0
	steps := plan.Steps
	if sp, ok := plan.PolicyStep(); ok {
		steps = append([]appfile.StepPlan{sp}, steps...)
	}
	for _, sp := range steps {
		desired, records, err := dispatch.DesiredObjects(dispatch.DesiredOptions{App: app, Plan: plan, Step: sp, Normalize: hub.Normalize})
		if err != nil {
			return err
		}
		for _, r := range records {
			rendered[dispatch.ResourceKey(r)] = true
		}
		for _, d := range desired {
			key := dispatch.ResourceKey(d.Resource)
			if rendered["seen:"+key] {
				continue
			}
			rendered["seen:"+key], rendered[key] = true, true
			changed, err := printChange(ctx, s, hub, app, d)
			if err != nil {
				return err
			}
			if changed {
				changes++
			}
		}
	}
	trackers := &dispatch.Trackers{Client: c}
	rts, err := trackers.List(ctx, app, true)
	if err != nil && !isNoKind(err) && !apierrors.IsNotFound(err) {
		return err
	}
	var gone []string
	for _, rt := range rts {
		for _, r := range rt.Spec.ManagedResources {
			if key := dispatch.ResourceKey(r); !rendered[key] && r.Collect != appfile.CollectNever {
				rendered[key] = true
				where := ""
				if r.Cluster != "" && r.Cluster != appfile.LocalCluster {
					where = " on cluster " + r.Cluster
				}
				gone = append(gone, fmt.Sprintf("- delete %s %s%s", r.Kind, strings.TrimPrefix(r.Namespace+"/"+r.Name, "/"), where))
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

// printChange previews applying one object as the controller would and prints what would
// change; changed is false when nothing would.
func printChange(ctx context.Context, s streams, hub *dispatch.Hub, app dispatch.AppRef, d dispatch.Desired) (bool, error) {
	name := dispatch.Describe(d.Object)
	change, err := hub.Preview(ctx, app, d.Object, d.Policy)
	if dispatch.IsConflict(err) {
		fmt.Fprintf(s.out, "! would conflict: %v\n", err)
		return true, nil
	}
	if err != nil {
		return false, err
	}
	switch change.Result {
	case dispatch.Created:
		fmt.Fprintf(s.out, "+ create %s\n", name)
	case dispatch.Updated:
		text, err := unifiedDiff(name, change.Live, change.After)
		if err != nil || text == "" {
			return false, err
		}
		fmt.Fprint(s.out, text)
	case dispatch.Recreating:
		fmt.Fprintf(s.out, "~ recreate %s (a field the resource-update policy recreates on changed)\n", name)
	case dispatch.Sharing:
		fmt.Fprintf(s.out, "= share %s (owned by another Application; a shared-resource policy lets this one use it)\n", name)
		return false, nil
	case dispatch.ReadOnly:
		fmt.Fprintf(s.out, "= left alone (read-only) %s\n", name)
		return false, nil
	case dispatch.AppliedOnce:
		fmt.Fprintf(s.out, "= left alone (apply-once) %s\n", name)
		return false, nil
	default:
		return false, nil
	}
	return true, nil
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
