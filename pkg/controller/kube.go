package controller

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/appfile"
)

// hubKube gives CUE workflow steps (apply-object, read-object, ...) the hub cluster. Objects a
// step applies carry the app's labels and are tracked like rendered ones, so they are collected
// with the app.
type hubKube struct {
	r   *ApplicationReconciler
	run *appRun
}

func checkCluster(cluster string) error {
	if cluster != "" && cluster != appfile.LocalCluster {
		return fmt.Errorf("cluster %q: %w", cluster, errRemoteCluster)
	}
	return nil
}

// Apply implements cuestep.Kube.
func (k *hubKube) Apply(ctx context.Context, cluster string, obj map[string]any) (map[string]any, error) {
	if err := checkCluster(cluster); err != nil {
		return nil, err
	}
	u, err := k.r.hub.Normalize(obj)
	if err != nil {
		return nil, err
	}
	if u.GetNamespace() == "" && isNamespaced(k.r, u) {
		u.SetNamespace(k.run.app.Namespace)
	}
	labels := u.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[v1beta1.LabelAppName], labels[v1beta1.LabelAppNamespace] = k.run.app.Name, k.run.app.Namespace
	u.SetLabels(labels)
	res := v1beta1.ManagedResource{Cluster: appfile.LocalCluster, APIVersion: u.GetAPIVersion(), Kind: u.GetKind(),
		Namespace: u.GetNamespace(), Name: u.GetName()}
	if err := k.r.trackers.Record(ctx, k.run.ref, k.run.revNum, []v1beta1.ManagedResource{res}); err != nil {
		return nil, err
	}
	if _, err := k.run.hub.Apply(ctx, k.run.ref, u, appfile.ObjectPolicy{}); err != nil {
		return nil, err
	}
	return k.Read(ctx, cluster, u.Object)
}

func isNamespaced(r *ApplicationReconciler, u *unstructured.Unstructured) bool {
	gvk := u.GroupVersionKind()
	m, err := r.client.RESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version)
	return err == nil && m.Scope.Name() == meta.RESTScopeNameNamespace
}

// Read implements cuestep.Kube.
func (k *hubKube) Read(ctx context.Context, cluster string, obj map[string]any) (map[string]any, error) {
	if err := checkCluster(cluster); err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: obj}
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(u.GroupVersionKind())
	ns := u.GetNamespace()
	if ns == "" && isNamespaced(k.r, u) {
		ns = k.run.app.Namespace
	}
	if err := k.run.reader.Get(ctx, client.ObjectKey{Namespace: ns, Name: u.GetName()}, live); err != nil {
		return nil, err
	}
	return live.Object, nil
}

// List implements cuestep.Kube.
func (k *hubKube) List(ctx context.Context, cluster, apiVersion, kind, namespace string, labels map[string]string) ([]map[string]any, error) {
	if err := checkCluster(cluster); err != nil {
		return nil, err
	}
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(schema.FromAPIVersionAndKind(apiVersion, kind+"List"))
	if err := k.run.reader.List(ctx, list, client.InNamespace(namespace), client.MatchingLabels(labels)); err != nil {
		return nil, err
	}
	out := make([]map[string]any, 0, len(list.Items))
	for _, item := range list.Items {
		out = append(out, item.Object)
	}
	return out, nil
}

// Delete implements cuestep.Kube: only objects this app owns.
func (k *hubKube) Delete(ctx context.Context, cluster string, obj map[string]any) error {
	if err := checkCluster(cluster); err != nil {
		return err
	}
	u := &unstructured.Unstructured{Object: obj}
	ns := u.GetNamespace()
	if ns == "" && isNamespaced(k.r, u) {
		ns = k.run.app.Namespace
	}
	_, err := k.run.hub.Collect(ctx, k.run.ref, v1beta1.ManagedResource{APIVersion: u.GetAPIVersion(), Kind: u.GetKind(), Namespace: ns, Name: u.GetName()})
	return err
}
