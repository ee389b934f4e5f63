package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	workv1 "open-cluster-management.io/api/work/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/dispatch"
)

type statusOptions struct {
	kube   kubeFlags
	tree   bool
	output string
}

func newStatusCmd(s streams) *cobra.Command {
	o := &statusOptions{}
	cmd := &cobra.Command{
		Use:   "status APP [--tree] [-o yaml|json]",
		Short: "Show an Application's phase, workflow, component health and, with --tree, its resources",
		Args:  exactArgs(1),
		RunE:  func(cmd *cobra.Command, args []string) error { return runStatus(cmd.Context(), s, o, args[0]) },
	}
	o.kube.bind(cmd)
	cmd.Flags().BoolVar(&o.tree, "tree", false, "list the resources the app owns, per cluster, and whether they exist")
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "output format: yaml or json (default: text)")
	return cmd
}

// statusView is what `ferry status -o yaml|json` prints.
type statusView struct {
	Name      string                               `json:"name"`
	Namespace string                               `json:"namespace"`
	Phase     v1beta1.ApplicationPhase             `json:"phase"`
	Revision  string                               `json:"revision,omitempty"`
	Workflow  *v1beta1.WorkflowStatus              `json:"workflow,omitempty"`
	Services  []v1beta1.ApplicationComponentStatus `json:"services,omitempty"`
	Problems  []string                             `json:"problems,omitempty"`
	Resources []resourceView                       `json:"resources,omitempty"`
}

type resourceView struct {
	Cluster   string `json:"cluster"`
	Component string `json:"component,omitempty"`
	Trait     string `json:"trait,omitempty"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	// State is exists or missing for the hub; for a managed cluster, applied, not applied or
	// unknown, as its ManifestWork reports.
	State string `json:"state"`
}

func runStatus(ctx context.Context, s streams, o *statusOptions, name string) error {
	if o.output != "" && o.output != "yaml" && o.output != "json" {
		return usageError{fmt.Errorf("unknown output format %q: use yaml or json", o.output)}
	}
	c, ns, err := o.kube.client()
	if err != nil {
		return err
	}
	app := &v1beta1.Application{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, app); err != nil {
		return fmt.Errorf("get application %s/%s: %w", ns, name, err)
	}
	view := statusView{Name: app.Name, Namespace: app.Namespace, Phase: app.Status.Phase, Workflow: app.Status.Workflow, Services: app.Status.Services}
	if app.Status.LatestRevision != nil {
		view.Revision = app.Status.LatestRevision.Name
	}
	for _, cond := range app.Status.Conditions {
		if cond.Status == "False" && cond.Type != v1beta1.ConditionReady {
			view.Problems = append(view.Problems, fmt.Sprintf("%s: %s", cond.Type, cond.Message))
		}
	}
	if o.tree {
		if view.Resources, err = resources(ctx, c, app); err != nil {
			return err
		}
	}
	switch o.output {
	case "json":
		enc := json.NewEncoder(s.out)
		enc.SetIndent("", "  ")
		return enc.Encode(view)
	case "yaml":
		data, err := yaml.Marshal(view)
		if err != nil {
			return err
		}
		_, err = s.out.Write(data)
		return err
	}
	printStatus(s, view)
	return nil
}

// resources lists what the app's trackers record, with whether each object exists.
func resources(ctx context.Context, c client.Client, app *v1beta1.Application) ([]resourceView, error) {
	trackers := &dispatch.Trackers{Client: c}
	rts, err := trackers.List(ctx, dispatch.AppRef{Name: app.Name, Namespace: app.Namespace}, true)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []resourceView
	for _, rt := range rts {
		for _, r := range rt.Spec.ManagedResources {
			key := dispatch.ResourceKey(r)
			if seen[key] {
				continue
			}
			seen[key] = true
			rv := resourceView{Cluster: r.Cluster, Component: r.Component, Trait: r.Trait, Kind: r.Kind, Namespace: r.Namespace, Name: r.Name}
			if r.Cluster == "local" || r.Cluster == "" {
				u := &unstructured.Unstructured{}
				u.SetGroupVersionKind(schema.FromAPIVersionAndKind(r.APIVersion, r.Kind))
				rv.State = "missing"
				if c.Get(ctx, client.ObjectKey{Namespace: r.Namespace, Name: r.Name}, u) == nil {
					rv.State = "exists"
				}
			} else {
				rv.State = remoteState(ctx, c, app, r)
			}
			out = append(out, rv)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		return strings.Join([]string{a.Cluster, a.Component, a.Kind, a.Namespace, a.Name}, "/") <
			strings.Join([]string{b.Cluster, b.Component, b.Kind, b.Namespace, b.Name}, "/")
	})
	return out, nil
}

// remoteState reads what the cluster's agent reported about an object in its ManifestWorks.
func remoteState(ctx context.Context, c client.Client, app *v1beta1.Application, r v1beta1.ManagedResource) string {
	var works workv1.ManifestWorkList
	if err := c.List(ctx, &works, client.InNamespace(r.Cluster), client.MatchingLabels{
		v1beta1.LabelAppName: app.Name, v1beta1.LabelAppNamespace: app.Namespace}); err != nil {
		return "unknown"
	}
	for _, w := range works.Items {
		for _, m := range w.Status.ResourceStatus.Manifests {
			if m.ResourceMeta.Kind == r.Kind && m.ResourceMeta.Name == r.Name && m.ResourceMeta.Namespace == r.Namespace {
				if cond := meta.FindStatusCondition(m.Conditions, workv1.ManifestApplied); cond != nil && cond.Status == "True" {
					return "applied"
				}
				return "not applied"
			}
		}
	}
	return "unknown"
}

func printStatus(s streams, v statusView) {
	w := s.out
	fmt.Fprintf(w, "Application %s/%s\n", v.Namespace, v.Name)
	fmt.Fprintf(w, "  phase:    %s\n", orNone(string(v.Phase), "unknown"))
	if v.Revision != "" {
		fmt.Fprintf(w, "  revision: %s\n", v.Revision)
	}
	if v.Workflow != nil {
		fmt.Fprintf(w, "  workflow: %s\n", orNone(v.Workflow.Phase, "pending"))
		for _, st := range v.Workflow.Steps {
			fmt.Fprintf(w, "    %s\n", stepLine("step", st.StepStatus))
			for _, sub := range st.SubStepsStatus {
				fmt.Fprintf(w, "    %s\n", stepLine("  step", sub))
			}
		}
	}
	if len(v.Services) > 0 {
		fmt.Fprintln(w, "  components:")
		for _, svc := range v.Services {
			health := "healthy"
			if !svc.Healthy {
				health = "not healthy"
			}
			fmt.Fprintf(w, "    %s on %s/%s: %s", svc.Name, svc.Cluster, svc.Namespace, health)
			if svc.Message != "" {
				fmt.Fprintf(w, " (%s)", svc.Message)
			}
			fmt.Fprintln(w)
			for _, t := range svc.Traits {
				th := "healthy"
				if !t.Healthy {
					th = "not healthy"
				}
				fmt.Fprintf(w, "      trait %s: %s %s\n", t.Type, th, t.Message)
			}
		}
	}
	for _, p := range v.Problems {
		fmt.Fprintf(w, "  problem: %s\n", p)
	}
	if len(v.Resources) > 0 {
		fmt.Fprintln(w, "  resources:")
		cluster := ""
		for _, r := range v.Resources {
			if r.Cluster != cluster {
				cluster = r.Cluster
				fmt.Fprintf(w, "    cluster %s\n", cluster)
			}
			state := r.State
			ref := r.Kind + " " + r.Name
			if r.Namespace != "" {
				ref = r.Kind + " " + r.Namespace + "/" + r.Name
			}
			from := r.Component
			if r.Trait != "" {
				from += " (trait " + r.Trait + ")"
			}
			fmt.Fprintf(w, "      %s  %s  %s\n", ref, orNone(from, "-"), state)
		}
	}
}
