package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/appview"
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
	Resources []appview.Resource                   `json:"resources,omitempty"`
}

func runStatus(ctx context.Context, s streams, o *statusOptions, name string) error {
	if o.output != "" && o.output != "yaml" && o.output != "json" {
		return usageError{fmt.Errorf("unknown output format %q: use yaml or json", o.output)}
	}
	c, app, err := o.kube.application(ctx, name)
	if err != nil {
		return err
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
		if view.Resources, err = appview.Resources(ctx, c, app); err != nil {
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
			for _, line := range rolloutLines("      ", st.StepStatus) {
				fmt.Fprintln(w, line)
			}
			for _, sub := range st.SubStepsStatus {
				fmt.Fprintf(w, "    %s\n", stepLine("  step", sub))
				for _, line := range rolloutLines("        ", sub) {
					fmt.Fprintln(w, line)
				}
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
