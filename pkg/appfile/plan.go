package appfile

import (
	"fmt"
	"slices"

	"github.com/ferryhq/ferry/pkg/cue"
	"github.com/ferryhq/ferry/pkg/definition"
	"github.com/ferryhq/ferry/pkg/workflow"
)

// LocalCluster is the hub cluster's name.
const LocalCluster = "local"

// DefaultStepName names the single deploy step of an Application without a workflow.
const DefaultStepName = workflow.DefaultStepName

// Cluster is a deploy target cluster.
type Cluster struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels,omitempty"`
	// Unavailable says why the cluster is not available (its agent stopped reporting); empty
	// when it is. Topologies still select it: what it should run does not change.
	Unavailable string `json:"-"`
}

// Options configure a Planner.
type Options struct {
	// Engine compiles and renders templates; share one to share its cache (a new one when nil).
	Engine *cue.Engine
}

// PlanOptions are what one plan is for.
type PlanOptions struct {
	// AppRevision and AppRevisionNum are passed to templates as context.appRevision(Num).
	AppRevision    string
	AppRevisionNum int64
}

// Plan is what an Application deploys, step by step.
type Plan struct {
	// App and Namespace identify the Application.
	App       string
	Namespace string
	// Steps are the deploy steps in workflow order.
	Steps []StepPlan
	// Definitions are the definitions the Application uses, by kind and name, with the content
	// hash of each template: what an ApplicationRevision records.
	Definitions []DefinitionRef
	// Policies are the Application's policies about applying and collecting objects.
	Policies ResourcePolicies
	// Workflow is the Application's workflow, parsed and validated: what the controller runs.
	Workflow *workflow.Spec
	// Clusters are the managed clusters the plan was made with, the hub first.
	Clusters []Cluster
	// Topologies are where each topology policy places the Application, in the order the
	// policies are written: what steps that export to a policy's clusters read.
	Topologies []Topology
	// PolicyObjects are the objects custom policies render (their output and outputs), in the
	// order the policies are written. They go to the hub, in the Application's namespace
	// unless they name another, before the workflow runs.
	PolicyObjects []Manifest
	// Warnings are about what the Application or a definition it uses sets that Ferry accepts
	// and ignores.
	Warnings []string
}

// PolicyStepName names the delivery of PolicyObjects (PolicyStep). Parentheses keep it apart
// from workflow step names.
const PolicyStepName = "(policies)"

// PolicyStep is the delivery of PolicyObjects as a step of its own, to the hub: the controller
// applies it before the workflow and `ferry live-diff` previews it, as they do steps. ok is
// false when no policy renders objects.
func (p *Plan) PolicyStep() (sp StepPlan, ok bool) {
	if len(p.PolicyObjects) == 0 {
		return StepPlan{}, false
	}
	return StepPlan{Name: PolicyStepName, Auto: true,
		Targets: []TargetPlan{{Cluster: LocalCluster, Namespace: p.Namespace, Manifests: p.PolicyObjects}}}, true
}

// Topology is where a topology policy places the Application.
type Topology struct {
	// Policy is the policy's name (policies[i] for one without a name).
	Policy string
	// Placements are its clusters, each with the policy's namespace ("" for the
	// Application's).
	Placements []Placement
}

// Placement is a cluster and a namespace.
type Placement struct {
	Cluster   string `json:"cluster"`
	Namespace string `json:"namespace"`
}

// Placements returns the placements of the named topology policies, in order, without
// repeats; with no names, those of every topology policy; with none at all, the hub. A name
// that is not a topology policy of the Application is an error.
func (p *Plan) Placements(policies []string) ([]Placement, error) {
	var out []Placement
	seen := map[Placement]bool{}
	add := func(t Topology) {
		for _, pl := range t.Placements {
			if !seen[pl] {
				seen[pl] = true
				out = append(out, pl)
			}
		}
	}
	if len(policies) == 0 {
		for _, t := range p.Topologies {
			add(t)
		}
		if len(p.Topologies) == 0 {
			out = append(out, Placement{Cluster: LocalCluster})
		}
		return out, nil
	}
	for _, name := range policies {
		i := slices.IndexFunc(p.Topologies, func(t Topology) bool { return t.Policy == name })
		if i < 0 {
			return nil, fmt.Errorf("policy %q is not a topology policy of the Application", name)
		}
		add(p.Topologies[i])
	}
	return out, nil
}

// DefinitionRef names a definition and the content hash of its template.
type DefinitionRef struct {
	Kind, Name, Hash string
}

// StepPlan is one deploy step.
type StepPlan struct {
	// Name is the step name, or "default" for an Application without a workflow.
	Name string
	// Auto is false when the step waits for approval before deploying.
	Auto bool
	// Targets are the (cluster, namespace) pairs the step deploys to.
	Targets []TargetPlan
	// Waiting says why the targets are not all known yet (an OCM Placement not decided yet);
	// the step waits meanwhile.
	Waiting string
}

// TargetPlan is what one step deploys to one cluster and namespace.
type TargetPlan struct {
	Cluster   string
	Namespace string
	// Group is the topology policy that chose the target and GroupIndex its place among the
	// step's topology policies: the target's decision group in a rollout.
	Group      string
	GroupIndex int
	Manifests  []Manifest
	// Components are the components rendered for the target, with what evaluating their
	// health needs.
	Components []ComponentPlan
}

// ComponentPlan is one component as rendered for one target: its definition, parameters after
// overrides and render context, and the same for its traits.
type ComponentPlan struct {
	Name, Type string
	Definition *definition.Definition
	Parameter  map[string]any
	Traits     []TraitPlan
	Context    cue.Context
}

// TraitPlan is one trait of a ComponentPlan.
type TraitPlan struct {
	Type       string
	Definition *definition.Definition
	Parameter  map[string]any
}

// Manifest is one rendered object.
type Manifest struct {
	// Policy is the policy that rendered it (PolicyObjects); empty for components' objects.
	Policy string
	// Component is the component that rendered it, ComponentType its type.
	Component     string
	ComponentType string
	// Trait is the trait type that rendered it; empty for the component's own objects.
	Trait string
	// Output is its name in `outputs`; empty for the workload.
	Output string
	// Object is the Kubernetes object.
	Object map[string]any
}

// Planner turns Appfiles into Plans. It is safe for concurrent use: the controller and the
// admission webhook share one.
type Planner struct {
	src  Sources
	opts Options
}

// NewPlanner returns a Planner reading src. It is the one constructor of planners: the
// controller, the admission webhook and every CLI command plan through it, so they accept and
// reject the same Applications with the same words.
func NewPlanner(src Sources, opts Options) *Planner {
	if opts.Engine == nil {
		opts.Engine = cue.NewEngine(cue.Options{})
	}
	return &Planner{src: src, opts: opts}
}

// Item is one object of a Plan with where it goes: the flat form `ferry dry-run` prints.
type Item struct {
	Step      string `json:"step"`
	Cluster   string `json:"cluster"`
	Namespace string `json:"namespace"`
	Component string `json:"component"`
	// Trait is the trait type that rendered the object; empty for the component's own objects.
	Trait string `json:"trait"`
	// Policy is the policy that rendered the object; empty for components' objects.
	Policy string         `json:"policy,omitempty"`
	Object map[string]any `json:"object"`
}

// Items flattens the plan: the policies' objects, then the steps' in step, target and
// manifest order.
func (p *Plan) Items() []Item {
	items := []Item{}
	for _, m := range p.PolicyObjects {
		ns := ""
		if meta, ok := m.Object["metadata"].(map[string]any); ok {
			ns, _ = meta["namespace"].(string)
		}
		items = append(items, Item{Cluster: LocalCluster, Namespace: ns, Policy: m.Policy, Object: m.Object})
	}
	for _, step := range p.Steps {
		for _, t := range step.Targets {
			for _, m := range t.Manifests {
				items = append(items, Item{Step: step.Name, Cluster: t.Cluster, Namespace: t.Namespace,
					Component: m.Component, Trait: m.Trait, Object: m.Object})
			}
		}
	}
	return items
}
