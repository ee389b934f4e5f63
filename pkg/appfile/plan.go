package appfile

import (
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
}

// Definitions resolves type names; *definition.Registry implements it.
type Definitions interface {
	Get(kind definition.Kind, name string) (*definition.Definition, error)
}

// Options configure a Planner.
type Options struct {
	// Definitions resolves component, trait, policy and workflow-step types.
	Definitions Definitions
	// Engine compiles and renders templates; share one to share its cache.
	Engine *cue.Engine
	// Clusters are the known managed clusters. The hub, "local", is always known.
	Clusters []Cluster
	// ClusterVersion is what templates see as context.clusterVersion.
	ClusterVersion cue.ClusterVersion
	// AppRevision and AppRevisionNum are passed to templates as context.appRevision(Num).
	AppRevision    string
	AppRevisionNum int64
	// Objects reads existing objects that templates ask for (ref-objects); offline they come
	// from a file. Without it, such templates fail with a clear error.
	Objects ObjectReader
}

// ObjectReader reads existing objects on a cluster.
type ObjectReader interface {
	// Read returns the object ref names (apiVersion, kind, metadata.name and .namespace).
	Read(cluster string, ref map[string]any) (map[string]any, error)
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
}

// TargetPlan is what one step deploys to one cluster and namespace.
type TargetPlan struct {
	Cluster   string
	Namespace string
	Manifests []Manifest
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

// Planner turns Appfiles into Plans.
type Planner struct {
	opts     Options
	clusters map[string]Cluster
	order    []string
}

// NewPlanner returns a Planner. A nil Engine gets a fresh one.
func NewPlanner(opts Options) *Planner {
	if opts.Engine == nil {
		opts.Engine = cue.NewEngine(cue.Options{})
	}
	p := &Planner{opts: opts, clusters: map[string]Cluster{LocalCluster: {Name: LocalCluster}}, order: []string{LocalCluster}}
	for _, c := range opts.Clusters {
		if _, seen := p.clusters[c.Name]; !seen {
			p.order = append(p.order, c.Name)
		}
		p.clusters[c.Name] = c
	}
	return p
}

// Item is one object of a Plan with where it goes: the flat form `ferry dry-run` prints.
type Item struct {
	Step      string `json:"step"`
	Cluster   string `json:"cluster"`
	Namespace string `json:"namespace"`
	Component string `json:"component"`
	// Trait is the trait type that rendered the object; empty for the component's own objects.
	Trait  string         `json:"trait"`
	Object map[string]any `json:"object"`
}

// Items flattens the plan in step, target and manifest order.
func (p *Plan) Items() []Item {
	items := []Item{}
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
