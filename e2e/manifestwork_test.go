package e2e

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/ferryhq/ferry/pkg/testenv"
)

// TestManifestWorkReachesOnlyItsCluster sends a ManifestWork to cluster1 through the hub and
// checks, on the real apiservers, that cluster1's work agent applies it, that cluster2 gets
// nothing, that status and feedback come back to the hub, and that deleting the work deletes the
// objects on the cluster.
func TestManifestWorkReachesOnlyItsCluster(t *testing.T) {
	env := testenv.StartForTest(t,
		testenv.ClusterSpec{Name: "cluster1", Labels: map[string]string{"env": "staging"}},
		testenv.ClusterSpec{Name: "cluster2", Labels: map[string]string{"env": "prod"}},
	)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	hub := newClient(t, env.Hub)
	c1, _ := env.Cluster("cluster1")
	c2, _ := env.Cluster("cluster2")
	spoke1, spoke2 := newClient(t, c1), newClient(t, c2)

	managed := &unstructured.Unstructured{}
	managed.SetAPIVersion("cluster.open-cluster-management.io/v1")
	managed.SetKind("ManagedCluster")
	require.NoError(t, hub.Get(ctx, client.ObjectKey{Name: "cluster2"}, managed))
	require.Equal(t, map[string]string{"env": "prod"}, managed.GetLabels(), "ManagedCluster carries the labels given")

	mw := readManifestWork(t, "testdata/manifestwork.yaml")
	require.NoError(t, hub.Create(ctx, mw))

	var cm corev1.ConfigMap
	eventually(t, ctx, "ConfigMap applied on cluster1", func() bool {
		return spoke1.Get(ctx, client.ObjectKey{Namespace: "default", Name: "hello"}, &cm) == nil
	})
	require.Equal(t, "hello from the hub", cm.Data["greeting"])
	var deploy appsv1.Deployment
	eventually(t, ctx, "Deployment applied on cluster1", func() bool {
		return spoke1.Get(ctx, client.ObjectKey{Namespace: "default", Name: "hello"}, &deploy) == nil
	})
	require.EqualValues(t, 2, *deploy.Spec.Replicas)

	eventually(t, ctx, "ManifestWork Applied and Available", func() bool {
		got := get(ctx, t, hub, mw)
		return conditionTrue(got, "Applied") && conditionTrue(got, "Available")
	})

	// There is no kubelet: report the Deployment ready on the cluster, as a kubelet would.
	deploy.Status.Replicas, deploy.Status.ReadyReplicas, deploy.Status.AvailableReplicas = 2, 2, 2
	deploy.Status.UpdatedReplicas, deploy.Status.ObservedGeneration = 2, deploy.Generation
	require.NoError(t, spoke1.Status().Update(ctx, &deploy))
	eventually(t, ctx, "status feedback of the Deployment on the hub", func() bool {
		values := feedback(get(ctx, t, hub, mw), "deployments", "hello")
		return values["ReadyReplicas"] == int64(2) && values["AvailableReplicas"] == int64(2) && values["specReplicas"] == int64(2)
	})

	// cluster2 never saw any of it.
	err := spoke2.Get(ctx, client.ObjectKey{Namespace: "default", Name: "hello"}, &corev1.ConfigMap{})
	require.True(t, apierrors.IsNotFound(err), "cluster2 must not get cluster1's work: %v", err)
	err = spoke2.Get(ctx, client.ObjectKey{Namespace: "default", Name: "hello"}, &appsv1.Deployment{})
	require.True(t, apierrors.IsNotFound(err), "cluster2 must not get cluster1's work: %v", err)

	require.NoError(t, hub.Delete(ctx, mw))
	eventually(t, ctx, "objects removed from cluster1", func() bool {
		cmErr := spoke1.Get(ctx, client.ObjectKey{Namespace: "default", Name: "hello"}, &corev1.ConfigMap{})
		depErr := spoke1.Get(ctx, client.ObjectKey{Namespace: "default", Name: "hello"}, &appsv1.Deployment{})
		return apierrors.IsNotFound(cmErr) && apierrors.IsNotFound(depErr)
	})
	eventually(t, ctx, "ManifestWork gone from the hub", func() bool {
		return apierrors.IsNotFound(hub.Get(ctx, client.ObjectKeyFromObject(mw), mw.DeepCopy()))
	})
}

func newClient(t *testing.T, c *testenv.Cluster) client.Client {
	t.Helper()
	cfg, err := testenv.LoadKubeconfig(c.Kubeconfig)
	require.NoError(t, err, "the written kubeconfig works")
	cl, err := testenv.NewClient(cfg, appsv1.AddToScheme)
	require.NoError(t, err)
	return cl
}

func readManifestWork(t *testing.T, path string) *unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	obj := &unstructured.Unstructured{}
	require.NoError(t, yaml.Unmarshal(data, &obj.Object))
	return obj
}

func get(ctx context.Context, t *testing.T, c client.Client, obj *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	got := obj.DeepCopy()
	require.NoError(t, c.Get(ctx, client.ObjectKeyFromObject(obj), got))
	return got
}

func conditionTrue(obj *unstructured.Unstructured, condition string) bool {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == condition {
			return m["status"] == "True"
		}
	}
	return false
}

// feedback returns the status feedback values of one manifest of a ManifestWork.
func feedback(obj *unstructured.Unstructured, resource, name string) map[string]any {
	out := map[string]any{}
	manifests, _, _ := unstructured.NestedSlice(obj.Object, "status", "resourceStatus", "manifests")
	for _, m := range manifests {
		mm, _ := m.(map[string]any)
		meta, _ := mm["resourceMeta"].(map[string]any)
		if meta["resource"] != resource || meta["name"] != name {
			continue
		}
		values, _, _ := unstructured.NestedSlice(mm, "statusFeedback", "values")
		for _, v := range values {
			vm, _ := v.(map[string]any)
			fv, _ := vm["fieldValue"].(map[string]any)
			switch fv["type"] {
			case "Integer":
				out[vm["name"].(string)] = fv["integer"]
			case "String":
				out[vm["name"].(string)] = fv["string"]
			case "Boolean":
				out[vm["name"].(string)] = fv["boolean"]
			}
		}
	}
	return out
}

func eventually(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
