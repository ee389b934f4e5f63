package controller_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	ferryscheme "github.com/ferryhq/ferry/api/scheme"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/yaml"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/controller"
	"github.com/ferryhq/ferry/pkg/definition"
	"github.com/ferryhq/ferry/pkg/install"
	"github.com/ferryhq/ferry/pkg/testenv"
)

// hub is a real kube-apiserver with Ferry's CRDs and built-in definitions installed.
type hub struct {
	t   *testing.T
	cfg *rest.Config
	c   client.Client
}

func startHub(t *testing.T) *hub {
	t.Helper()
	cfg := testenv.StartEnvtest(t)
	c, err := ferryscheme.NewClient(cfg)
	require.NoError(t, err)
	objs, err := install.Objects(install.Options{})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	require.NoError(t, install.Apply(ctx, c, objs))
	return &hub{t: t, cfg: cfg, c: c}
}

// startController runs a controller until the returned stop is called (or the test ends).
func (h *hub) startController(opts controller.Options) (stop func()) {
	h.t.Helper()
	return h.startManager(controller.ManagerOptions{Reconciler: opts})
}

func (h *hub) apply(doc string) *v1beta1.Application {
	h.t.Helper()
	app := &v1beta1.Application{}
	require.NoError(h.t, yaml.UnmarshalStrict([]byte(doc), app))
	if app.Namespace == "" {
		app.Namespace = "default"
	}
	ctx := context.Background()
	existing := &v1beta1.Application{}
	err := h.c.Get(ctx, client.ObjectKeyFromObject(app), existing)
	if apierrors.IsNotFound(err) {
		require.NoError(h.t, h.c.Create(ctx, app))
		return app
	}
	require.NoError(h.t, err)
	require.NoError(h.t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := h.c.Get(ctx, client.ObjectKeyFromObject(app), existing); err != nil {
			return err
		}
		existing.Spec = app.Spec
		existing.Annotations = app.Annotations
		return h.c.Update(ctx, existing)
	}))
	return existing
}

func (h *hub) app(name string) *v1beta1.Application {
	h.t.Helper()
	app := &v1beta1.Application{}
	require.NoError(h.t, h.c.Get(context.Background(), client.ObjectKey{Namespace: "default", Name: name}, app))
	return app
}

// waitApp waits until cond holds for the app, and fails with its last status otherwise.
func (h *hub) waitApp(name string, what string, cond func(*v1beta1.Application) bool) *v1beta1.Application {
	h.t.Helper()
	var last *v1beta1.Application
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		app := &v1beta1.Application{}
		if err := h.c.Get(context.Background(), client.ObjectKey{Namespace: "default", Name: name}, app); err == nil {
			last = app
			if cond(app) {
				return app
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	status, _ := yaml.Marshal(last.Status)
	h.t.Fatalf("app %s: timed out waiting for %s; status:\n%s", name, what, status)
	return nil
}

func phaseIs(p v1beta1.ApplicationPhase) func(*v1beta1.Application) bool {
	return func(a *v1beta1.Application) bool {
		return a.Status.Phase == p && a.Status.ObservedGeneration == a.Generation
	}
}

// exists reports whether an object exists.
func (h *hub) exists(obj client.Object, namespace, name string) bool {
	h.t.Helper()
	err := h.c.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: name}, obj)
	if apierrors.IsNotFound(err) {
		return false
	}
	require.NoError(h.t, err)
	return true
}

func (h *hub) waitGone(obj client.Object, namespace, name string) {
	h.t.Helper()
	if !eventually(func() bool { return !h.exists(obj, namespace, name) }) {
		h.t.Fatalf("%T %s/%s is still there after a minute; the applications:\n%s", obj, namespace, name, h.appStatuses())
	}
}

func (h *hub) waitExists(obj client.Object, namespace, name string) {
	h.t.Helper()
	if !eventually(func() bool { return h.exists(obj, namespace, name) }) {
		h.t.Fatalf("%T %s/%s does not appear within a minute; the applications:\n%s", obj, namespace, name, h.appStatuses())
	}
}

// eventually polls cond for up to a minute.
func eventually(cond func() bool) bool {
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// appStatuses shows every Application's status, for a test that failed waiting on them.
func (h *hub) appStatuses() string {
	var apps v1beta1.ApplicationList
	if err := h.c.List(context.Background(), &apps); err != nil {
		return "(cannot list them: " + err.Error() + ")"
	}
	var out strings.Builder
	for _, a := range apps.Items {
		status, _ := yaml.Marshal(a.Status)
		fmt.Fprintf(&out, "%s/%s (generation %d):\n%s\n", a.Namespace, a.Name, a.Generation, status)
	}
	return out.String()
}

// markReady plays the Deployment controller, which envtest does not run: it reports the
// Deployment's pods ready.
func (h *hub) markReady(namespace, name string) {
	h.t.Helper()
	ctx := context.Background()
	require.Eventually(h.t, func() bool {
		d := &appsv1.Deployment{}
		if err := h.c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, d); err != nil {
			return false
		}
		replicas := int32(1)
		if d.Spec.Replicas != nil {
			replicas = *d.Spec.Replicas
		}
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: replicas, ReadyReplicas: replicas,
			UpdatedReplicas: replicas, AvailableReplicas: replicas}
		return h.c.Status().Update(ctx, d) == nil
	}, 30*time.Second, 100*time.Millisecond, "mark Deployment %s/%s ready", namespace, name)
}

func (h *hub) createUnowned(obj client.Object) {
	h.t.Helper()
	require.NoError(h.t, h.c.Create(context.Background(), obj))
}

func deployment(namespace, name string, labels map[string]string) *appsv1.Deployment {
	sel := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: labels},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: sel},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: sel},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "busybox"}}}}},
	}
}

func trackers(h *hub, app string) []v1beta1.ResourceTracker {
	var list v1beta1.ResourceTrackerList
	require.NoError(h.t, h.c.List(context.Background(), &list, client.MatchingLabels{v1beta1.LabelAppName: app}))
	return list.Items
}

// metricValue sums a controller metric (a counter) over the series whose label has value;
// every series when label is empty.
func metricValue(t *testing.T, name, label, value string) float64 {
	t.Helper()
	families, err := ctrlmetrics.Registry.Gather()
	require.NoError(t, err)
	total := 0.0
	for _, fam := range families {
		if fam.GetName() != name {
			continue
		}
		for _, m := range fam.GetMetric() {
			match := label == ""
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					match = true
				}
			}
			if match {
				total += m.GetCounter().GetValue()
			}
		}
	}
	return total
}

// startManager runs a controller with manager options until the returned stop is called (or
// the test ends).
func (h *hub) startManager(opts controller.ManagerOptions) (stop func()) {
	h.t.Helper()
	mgr, _, err := controller.NewManager(h.cfg, opts)
	require.NoError(h.t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			require.NoError(h.t, <-done)
		}
	}
	h.t.Cleanup(stop)
	return stop
}

// installDefinition installs the definitions of a CUE or YAML definition file in namespace, as
// `ferry def apply` would.
func (h *hub) installDefinition(file, namespace string) {
	h.t.Helper()
	data, err := os.ReadFile(file)
	require.NoError(h.t, err)
	defs, err := definition.Parse(file, data)
	require.NoError(h.t, err)
	for _, d := range defs {
		obj := d.CR()
		obj.SetNamespace(namespace)
		require.NoError(h.t, h.c.Create(context.Background(), obj))
	}
}
