package controller

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ferryscheme "github.com/ferryhq/ferry/api/scheme"
	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/install"
	"github.com/ferryhq/ferry/pkg/testenv"
)

// TestCachedResourceVersionReadsTheInformer checks the settled check's fast path: for a kind the
// reconciler watches it answers from the informer, and it agrees with the API server; for other
// kinds it declines, so the check reads through the cache as before.
func TestCachedResourceVersionReadsTheInformer(t *testing.T) {
	cfg := testenv.StartEnvtest(t)
	c, err := ferryscheme.NewClient(cfg)
	require.NoError(t, err)
	ctx := context.Background()
	objs, err := install.Objects(install.Options{})
	require.NoError(t, err)
	require.NoError(t, install.Apply(ctx, c, objs))
	mgr, r, err := NewManager(cfg, ManagerOptions{})
	require.NoError(t, err)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(runCtx) }()
	defer func() { cancel(); require.NoError(t, <-done) }()

	app := &v1beta1.Application{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "fast"}}
	app.Spec.Components = []v1beta1.ApplicationComponent{{Name: "cfg", Type: "k8s-objects", Properties: raw(`{"objects":[{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"fast-cfg"},"data":{"a":"1"}}]}`)}}
	require.NoError(t, c.Create(ctx, app))
	gvk := corev1.SchemeGroupVersion.WithKind("ConfigMap")
	cm := &corev1.ConfigMap{}
	require.Eventually(t, func() bool {
		if c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "fast-cfg"}, cm) != nil {
			return false
		}
		rv, ok := r.cachedResourceVersion(ctx, gvk, "default", "fast-cfg")
		return ok && rv == cm.ResourceVersion
	}, 30*time.Second, 100*time.Millisecond, "the informer answers with the API server's resourceVersion")

	// A change reaches it (the controller then corrects the drift: compare with what the API
	// server has each time).
	before := cm.ResourceVersion
	cm.Data["a"] = "2"
	require.NoError(t, c.Update(ctx, cm))
	require.Eventually(t, func() bool {
		current := &corev1.ConfigMap{}
		if c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "fast-cfg"}, current) != nil {
			return false
		}
		rv, ok := r.cachedResourceVersion(ctx, gvk, "default", "fast-cfg")
		return ok && rv != before && rv == current.ResourceVersion
	}, 30*time.Second, 100*time.Millisecond)

	rv, ok := r.cachedResourceVersion(ctx, gvk, "default", "no-such-cfg")
	require.True(t, ok)
	require.Empty(t, rv, "a missing object has no resourceVersion")
	_, ok = r.cachedResourceVersion(ctx, corev1.SchemeGroupVersion.WithKind("Secret"), "default", "x")
	require.False(t, ok, "a kind nobody watches is not answered (and no informer is started for it)")
}

func raw(s string) *runtime.RawExtension { return &runtime.RawExtension{Raw: []byte(s)} }
