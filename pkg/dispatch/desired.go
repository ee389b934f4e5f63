package dispatch

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	workv1 "open-cluster-management.io/api/work/v1"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/appfile"
)

// Desired is one object the hub applies for a deploy step, with its tracker record and policy:
// a rendered object for the hub, or a ManifestWork carrying a managed cluster's objects.
type Desired struct {
	Object   *unstructured.Unstructured
	Resource v1beta1.ManagedResource
	Policy   appfile.ObjectPolicy
	// Delivery is set on the ManifestWorks Ferry makes to deliver to a managed cluster: Ferry's
	// own objects, applied with the controller's identity (what they do on the cluster is
	// bounded by their executor), unlike the objects the app renders.
	Delivery bool
}

// DesiredOptions say what a deploy step's objects are made from.
type DesiredOptions struct {
	App  AppRef
	Plan *appfile.Plan
	Step appfile.StepPlan
	// Normalize makes a rendered object one the hub accepts (Hub.Normalize).
	Normalize func(map[string]any) (*unstructured.Unstructured, error)
	// Revision, when set, is written on each ManifestWork (AnnotationAppRevision): which
	// revision each cluster runs is then read off its ManifestWork.
	Revision string
	// Executor, when set, names the ServiceAccount in the app's namespace on a managed cluster
	// that its work agent applies the app's objects as (ManifestWork executor); "" for none.
	Executor func(cluster string) string
}

// DesiredObjects turns a deploy step's targets into the objects the hub applies: the objects
// themselves for the hub, ManifestWorks for managed clusters. records are what the tracker
// keeps, including the objects inside ManifestWorks and without read-only objects. The
// controller applies them and `ferry live-diff` previews them: one conversion for both.
func DesiredObjects(o DesiredOptions) (out []Desired, records []v1beta1.ManagedResource, err error) {
	for _, t := range o.Step.Targets {
		if t.Cluster != appfile.LocalCluster {
			works, err := remoteObjects(o, t)
			if err != nil {
				return nil, nil, err
			}
			out = append(out, works...)
			records = append(records, remoteRecords(o.Plan, t)...)
			continue
		}
		for _, m := range t.Manifests {
			u, err := o.Normalize(m.Object)
			if err != nil {
				return nil, nil, fmt.Errorf("component %q: %w", m.Component, err)
			}
			pol := o.Plan.Policies.For(appfile.ObjectIdentity{Component: m.Component, ComponentType: m.ComponentType,
				Trait: m.Trait, Kind: u.GetKind(), Name: u.GetName()})
			res := v1beta1.ManagedResource{Cluster: t.Cluster, APIVersion: u.GetAPIVersion(), Kind: u.GetKind(),
				Namespace: u.GetNamespace(), Name: u.GetName(), Component: m.Component, Trait: m.Trait,
				Orphan: pol.Orphan, Shared: pol.Shared}
			if pol.Collect != appfile.CollectOnAppUpdate {
				res.Collect = pol.Collect
			}
			out = append(out, Desired{Object: u, Resource: res, Policy: pol})
		}
	}
	for _, d := range out {
		if !d.Policy.ReadOnly {
			records = append(records, d.Resource)
		}
	}
	return out, records, nil
}

// remoteObjects turns a deploy step's target on a managed cluster into the ManifestWorks the
// hub applies.
func remoteObjects(o DesiredOptions, t appfile.TargetPlan) ([]Desired, error) {
	manifests := t.Manifests
	executor := ""
	if o.Executor != nil {
		executor = o.Executor(t.Cluster)
	}
	if t.Namespace != "" && t.Namespace != "default" && executor == "" {
		// The namespace is created when missing and never deleted (orphaned): it may hold
		// more than this app. With an executor the platform team creates it, with the
		// executor's rights in it: a tenant's executor may not create namespaces.
		ns := appfile.Manifest{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": t.Namespace}}}
		manifests = append([]appfile.Manifest{ns}, manifests...)
	}
	works, err := BuildManifestWorks(WorkOptions{
		App: o.App.Name, AppNamespace: o.App.Namespace, Cluster: t.Cluster, Step: o.Step.Name, Manifests: manifests,
		Executor: executor,
		Policy: func(m appfile.Manifest) ObjectPolicy {
			if m.Component == "" {
				return ObjectPolicy{Orphan: true}
			}
			p := o.Plan.Policies.For(identity(m))
			return ObjectPolicy{Orphan: p.Orphan, CreateOnly: p.ApplyOnce && len(p.IgnorePaths) == 0, ReadOnly: p.ReadOnly}
		},
		HealthPolicy: func(m appfile.Manifest) string {
			for _, cp := range t.Components {
				if cp.Name == m.Component && cp.Definition != nil {
					return cp.Definition.Status.HealthPolicy + "\n" + cp.Definition.Status.CustomStatus + "\n" + cp.Definition.Status.Details
				}
			}
			return ""
		},
	})
	if err != nil {
		return nil, fmt.Errorf("step %q, cluster %q: %w", o.Step.Name, t.Cluster, err)
	}
	var out []Desired
	for _, w := range works {
		u, err := ToUnstructured(w)
		if err != nil {
			return nil, err
		}
		u.SetAPIVersion(workv1.GroupVersion.String())
		u.SetKind("ManifestWork")
		if o.Revision != "" {
			annotations := u.GetAnnotations()
			if annotations == nil {
				annotations = map[string]string{}
			}
			annotations[v1beta1.AnnotationAppRevision] = o.Revision
			u.SetAnnotations(annotations)
		}
		out = append(out, Desired{Object: u, Delivery: true, Resource: v1beta1.ManagedResource{Cluster: appfile.LocalCluster,
			APIVersion: workv1.GroupVersion.String(), Kind: "ManifestWork", Namespace: t.Cluster, Name: w.Name}})
	}
	return out, nil
}

// remoteRecords are the tracker records of the objects a managed cluster receives: they are
// removed through their ManifestWork, never deleted from the hub.
func remoteRecords(plan *appfile.Plan, t appfile.TargetPlan) []v1beta1.ManagedResource {
	var out []v1beta1.ManagedResource
	for _, m := range t.Manifests {
		u := &unstructured.Unstructured{Object: m.Object}
		p := plan.Policies.For(identity(m))
		out = append(out, v1beta1.ManagedResource{Cluster: t.Cluster, APIVersion: u.GetAPIVersion(), Kind: u.GetKind(),
			Namespace: u.GetNamespace(), Name: u.GetName(), Component: m.Component, Trait: m.Trait, Orphan: p.Orphan})
	}
	return out
}

func identity(m appfile.Manifest) appfile.ObjectIdentity {
	u := &unstructured.Unstructured{Object: m.Object}
	return appfile.ObjectIdentity{Component: m.Component, ComponentType: m.ComponentType, Trait: m.Trait, Kind: u.GetKind(), Name: u.GetName()}
}

// ToUnstructured converts a typed object into what is applied: no status, no creation time.
func ToUnstructured(obj runtime.Object) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: m}
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(u.Object, "status")
	return u, nil
}
