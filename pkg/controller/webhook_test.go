package controller_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	admissionregv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ferryscheme "github.com/ferryhq/ferry/api/scheme"
	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/controller"
	"github.com/ferryhq/ferry/pkg/install"
	"github.com/ferryhq/ferry/pkg/testenv"
)

// TestTwoReplicasShareOneWebhookCertificate installs Ferry for controllers outside the cluster
// with admission on (what `ferry install --no-controller --webhook-url` applies) and starts two
// controllers the way ferry-controller does, with leader election: one leads, both serve the
// webhook with the one certificate kept in the cluster, which the API server trusts through
// the CA they put into the webhook configuration. Both admit good apps and refuse bad ones.
func TestTwoReplicasShareOneWebhookCertificate(t *testing.T) {
	cfg := testenv.StartEnvtest(t)
	c, err := ferryscheme.NewClient(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	ports := []int{testenv.FreePortForTest(t), testenv.FreePortForTest(t)}
	objs, err := install.Objects(install.Options{WebhookURL: fmt.Sprintf("https://127.0.0.1:%d", ports[0])})
	require.NoError(t, err)
	require.NoError(t, install.Apply(ctx, c, objs))

	dirs := []string{t.TempDir(), t.TempDir()}
	done := make(chan error, 2)
	for i := range ports {
		go func() {
			done <- controller.Run(ctx, cfg, controller.ManagerOptions{LeaderElection: true, LeaderElectionNamespace: install.DefaultNamespace,
				Webhook: controller.WebhookOptions{Host: "127.0.0.1", Port: ports[i], CertDir: dirs[i], ManageCert: true}})
		}()
	}
	defer func() {
		cancel()
		for range ports {
			require.NoError(t, <-done)
		}
	}()

	good := &v1beta1.Application{ObjectMeta: metav1.ObjectMeta{Name: "good", Namespace: "default"},
		Spec: v1beta1.ApplicationSpec{Components: []v1beta1.ApplicationComponent{{Name: "web", Type: "webservice",
			Properties: &runtime.RawExtension{Raw: []byte(`{"image": "nginx"}`)}}}}}
	require.Eventually(t, func() bool { return c.Create(ctx, good.DeepCopy()) == nil }, 60*time.Second, 300*time.Millisecond,
		"the API server calls the first replica and trusts its certificate")

	// A parameter the definition does not declare (a stale field of a KubeVela app) is an
	// admission warning, which the API server passes to the client as kubectl shows it, not a
	// refusal; the controller renders without it.
	warnings := &warningCollector{}
	wcfg := rest.CopyConfig(cfg)
	wcfg.WarningHandler = warnings
	wc, err := ferryscheme.NewClient(wcfg)
	require.NoError(t, err)
	stale := good.DeepCopy()
	stale.Name = "stale"
	stale.Spec.Components[0].Name = "stale-web"
	stale.Spec.Components[0].Properties = &runtime.RawExtension{Raw: []byte(`{"image": "nginx", "imagee": "typo"}`)}
	require.NoError(t, wc.Create(ctx, stale))
	require.Contains(t, warnings.text(), `parameter imagee: unknown parameter (did you mean "image"?), ignored`)

	// One certificate, in the Secret, served by both; its CA is what the API server trusts.
	secret := &corev1.Secret{}
	require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: install.DefaultNamespace, Name: controller.WebhookCertSecretName}, secret))
	for _, dir := range dirs {
		require.Eventually(t, func() bool {
			crt, err := os.ReadFile(filepath.Join(dir, "tls.crt"))
			return err == nil && bytes.Equal(crt, secret.Data["tls.crt"])
		}, 30*time.Second, 200*time.Millisecond, "replica in %s serves the shared certificate", dir)
	}
	whc := &admissionregv1.ValidatingWebhookConfiguration{}
	require.NoError(t, c.Get(ctx, client.ObjectKey{Name: controller.WebhookConfigName}, whc))
	require.Equal(t, string(secret.Data["ca.crt"]), string(whc.Webhooks[0].ClientConfig.CABundle))

	// 100 writes through the API server, which calls the webhook with the CA both replicas
	// put into its configuration: none is refused (a replica that replaced the CA at its start
	// made every write fail while another served).
	for i := range 100 {
		app := good.DeepCopy()
		app.Name = fmt.Sprintf("write-%d", i%10)
		app.Spec.Components[0].Name = app.Name
		if i < 10 {
			require.NoError(t, c.Create(ctx, app), "write %d", i)
			continue
		}
		// A merge patch without a resourceVersion: the controller writes these apps' metadata
		// and status meanwhile, and an update's conflicts outlasted retry.DefaultRetry in CI.
		// The patch is an UPDATE to admission all the same.
		cur := &v1beta1.Application{}
		require.NoError(t, c.Get(ctx, client.ObjectKeyFromObject(app), cur), "write %d", i)
		patch := client.MergeFrom(cur.DeepCopy())
		cur.Spec.Components[0].Properties = &runtime.RawExtension{Raw: []byte(fmt.Sprintf(`{"image": "nginx:%d"}`, i))}
		require.NoError(t, c.Patch(ctx, cur, patch), "write %d", i)
		require.Equal(t, fmt.Sprintf(`{"image":"nginx:%d"}`, i), string(cur.Spec.Components[0].Properties.Raw), "write %d", i)
	}

	// Both replicas answer an admission review as the API server sends it, over TLS checked
	// against that CA.
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(whc.Webhooks[0].ClientConfig.CABundle))
	httpc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	bad := good.DeepCopy()
	bad.Name = "bad"
	bad.Spec.Components[0].Type = "websrvice"
	for _, port := range ports {
		allowed, message := review(t, httpc, port, good)
		require.True(t, allowed, "replica on %d admits a good app: %s", port, message)
		allowed, message = review(t, httpc, port, bad)
		require.False(t, allowed, "replica on %d refuses a bad app", port)
		require.Contains(t, message, `application "bad": spec.components[0].type: component "web": unknown component type "websrvice" (did you mean "webservice"?)`)
	}

	// One leader reconciles.
	lease := &coordinationv1.Lease{}
	require.Eventually(t, func() bool {
		return c.Get(ctx, client.ObjectKey{Namespace: install.DefaultNamespace, Name: "ferry-controller.core.oam.dev"}, lease) == nil &&
			lease.Spec.HolderIdentity != nil && *lease.Spec.HolderIdentity != ""
	}, 30*time.Second, 200*time.Millisecond, "a replica holds the leader lease")
	require.Eventually(t, func() bool {
		app := &v1beta1.Application{}
		return c.Get(ctx, client.ObjectKeyFromObject(good), app) == nil && app.Status.LatestRevision != nil
	}, 30*time.Second, 200*time.Millisecond, "the leader reconciles the app")
	require.Eventually(t, func() bool {
		events := &corev1.EventList{}
		if c.List(ctx, events, client.InNamespace("default")) != nil {
			return false
		}
		for _, e := range events.Items {
			if e.InvolvedObject.Name == "stale" && e.Reason == v1beta1.ReasonIgnoredFields && strings.Contains(e.Message, "parameter imagee: unknown parameter") {
				return true
			}
		}
		return false
	}, 30*time.Second, 200*time.Millisecond, "the app with a stale parameter gets a revision and a warning event")
	dep := &appsv1.Deployment{}
	require.Eventually(t, func() bool {
		return c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "stale-web"}, dep) == nil
	}, 30*time.Second, 200*time.Millisecond, "the app with a stale parameter is delivered")
}

// warningCollector keeps the warnings the API server sends.
type warningCollector struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warningCollector) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, text)
}

func (w *warningCollector) text() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.msgs, "\n")
}

// review sends an AdmissionReview for app to the webhook on port and returns its answer.
func review(t *testing.T, httpc *http.Client, port int, app *v1beta1.Application) (bool, string) {
	t.Helper()
	app = app.DeepCopy()
	app.APIVersion, app.Kind = v1beta1.GroupVersion.String(), v1beta1.ApplicationKind
	raw, err := json.Marshal(app)
	require.NoError(t, err)
	req := admissionv1.AdmissionReview{TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{UID: "1", Operation: admissionv1.Create, Name: app.Name, Namespace: app.Namespace,
			Kind:     metav1.GroupVersionKind{Group: v1beta1.GroupVersion.Group, Version: v1beta1.GroupVersion.Version, Kind: v1beta1.ApplicationKind},
			Resource: metav1.GroupVersionResource{Group: v1beta1.GroupVersion.Group, Version: v1beta1.GroupVersion.Version, Resource: "applications"},
			Object:   runtime.RawExtension{Raw: raw}}}
	body, err := json.Marshal(req)
	require.NoError(t, err)
	resp, err := httpc.Post(fmt.Sprintf("https://127.0.0.1:%d%s", port, controller.ValidatePath), "application/json", bytes.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	var out admissionv1.AdmissionReview
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	require.NotNil(t, out.Response)
	msg := ""
	if out.Response.Result != nil {
		msg = out.Response.Result.Message
	}
	return out.Response.Allowed, msg
}

// TestMetadataUpdatesPassWithTheControllerDown: a controller that finds its webhook
// configuration deleted recreates it. With admission on (failure policy Fail) and the controller
// stopped, spec changes are refused, but removing a finalizer — what deleting an app needs —
// and other metadata-only updates never call the webhook and succeed.
func TestMetadataUpdatesPassWithTheControllerDown(t *testing.T) {
	cfg := testenv.StartEnvtest(t)
	c, err := ferryscheme.NewClient(cfg)
	require.NoError(t, err)
	ctx := context.Background()
	port := testenv.FreePortForTest(t)
	objs, err := install.Objects(install.Options{WebhookURL: fmt.Sprintf("https://127.0.0.1:%d", port)})
	require.NoError(t, err)
	require.NoError(t, install.Apply(ctx, c, objs))
	require.NoError(t, c.Delete(ctx, &admissionregv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: controller.WebhookConfigName}}))

	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- controller.Run(runCtx, cfg, controller.ManagerOptions{
			Webhook: controller.WebhookOptions{Host: "127.0.0.1", Port: port, ManageCert: true}})
	}()
	app := &v1beta1.Application{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: v1beta1.ApplicationSpec{Components: []v1beta1.ApplicationComponent{{Name: "web", Type: "worker",
			Properties: &runtime.RawExtension{Raw: []byte(`{"image": "web:1"}`)}}}}}
	// The controller recreates the configuration at start; until then a create passes unchecked,
	// so wait for the configuration before creating anything.
	whc := &admissionregv1.ValidatingWebhookConfiguration{}
	require.Eventually(t, func() bool {
		return c.Get(ctx, client.ObjectKey{Name: controller.WebhookConfigName}, whc) == nil
	}, 60*time.Second, 200*time.Millisecond, "recreated")
	require.Eventually(t, func() bool { return c.Create(ctx, app.DeepCopy()) == nil }, 60*time.Second, 300*time.Millisecond)
	require.Equal(t, fmt.Sprintf("https://127.0.0.1:%d%s", port, controller.ValidatePath), *whc.Webhooks[0].ClientConfig.URL)
	require.NotEmpty(t, whc.Webhooks[0].MatchConditions)
	require.Eventually(t, func() bool {
		return c.Get(ctx, client.ObjectKeyFromObject(app), app) == nil && len(app.Finalizers) > 0
	}, 30*time.Second, 100*time.Millisecond, "the controller puts its finalizer on")
	stop()
	require.NoError(t, <-done)

	changed := app.DeepCopy()
	changed.Spec.Components[0].Properties = &runtime.RawExtension{Raw: []byte(`{"image": "web:2"}`)}
	err = c.Update(ctx, changed)
	require.Error(t, err, "a spec change needs the webhook")
	require.Contains(t, err.Error(), "failed calling webhook")

	require.NoError(t, c.Get(ctx, client.ObjectKeyFromObject(app), app))
	app.Labels = map[string]string{"team": "web"}
	require.NoError(t, c.Update(ctx, app), "a label change does not call the webhook")
	require.NoError(t, c.Delete(ctx, app))
	require.NoError(t, c.Get(ctx, client.ObjectKeyFromObject(app), app))
	app.Finalizers = nil
	require.NoError(t, c.Update(ctx, app), "removing the finalizer does not call the webhook")
	require.Eventually(t, func() bool {
		return apierrors.IsNotFound(c.Get(ctx, client.ObjectKeyFromObject(app), &v1beta1.Application{}))
	}, 10*time.Second, 100*time.Millisecond, "the app is gone")
}
