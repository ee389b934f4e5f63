package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/pkg/testenv"
)

// TestClustersFinalizeNamespacesAndCollectGarbage checks that the environment's clusters behave
// like real ones where it matters for delivery and cleanup: a deleted namespace goes away, and
// deleting an owner deletes what it owns.
func TestClustersFinalizeNamespacesAndCollectGarbage(t *testing.T) {
	env := testenv.StartForTest(t)
	hub := newClient(t, env.Hub)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "doomed"}}
	require.NoError(t, hub.Create(ctx, ns))
	owner := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "owner", Namespace: "default"}}
	require.NoError(t, hub.Create(ctx, owner))
	owned := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "owned", Namespace: "default",
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: owner.Name, UID: owner.UID}}}}
	require.NoError(t, hub.Create(ctx, owned))
	require.NoError(t, hub.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "inside", Namespace: "doomed"}}))

	require.NoError(t, hub.Delete(ctx, ns))
	require.NoError(t, hub.Delete(ctx, owner))
	eventually(t, ctx, "namespace finalized", func() bool {
		return apierrors.IsNotFound(hub.Get(ctx, client.ObjectKeyFromObject(ns), &corev1.Namespace{}))
	})
	eventually(t, ctx, "owned ConfigMap collected", func() bool {
		return apierrors.IsNotFound(hub.Get(ctx, client.ObjectKeyFromObject(owned), &corev1.ConfigMap{}))
	})
}
