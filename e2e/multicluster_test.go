package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ferryscheme "github.com/ferryhq/ferry/api/scheme"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	clusterv1 "open-cluster-management.io/api/cluster/v1"
	workv1 "open-cluster-management.io/api/work/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/yaml"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/controller"
	"github.com/ferryhq/ferry/pkg/install"
	"github.com/ferryhq/ferry/pkg/testenv"
	"github.com/ferryhq/ferry/pkg/workflow/appworkflow"
)

// fleet is a hub with Ferry installed and its controller running, and managed clusters whose
// Deployments become ready (there is no kubelet: the test plays it on each spoke).
type fleet struct {
	t      *testing.T
	env    *testenv.Env
	hub    client.Client
	spokes map[string]client.Client
	// sick pauses a spoke's kubelet: its Deployments' new pods never become ready.
	sick map[string]*atomic.Bool
	// startController runs the controller until the returned stop is called.
	startController func() (stop func())
	stopController  func()
	// trust: every executor may do anything on the managed clusters (testenv.TrustServiceAccounts).
	trust bool
}

// startFleet installs Ferry on the hub the way a user runs the controller outside the cluster
// with admission on (`ferry install --no-controller --webhook-url`), and runs the controller as
// `ferry-controller --webhook-host --webhook-port` does, with the installed ServiceAccount's
// token: every Application goes through the admission webhook (failurePolicy Fail), and the
// controller has only the rights the shipped RBAC gives it.
func startFleet(t *testing.T, clusters ...testenv.ClusterSpec) *fleet {
	t.Helper()
	return startFleetWith(t, testenv.Options{Clusters: clusters})
}

// startFleetWith is startFleet with more test environment options (OCM's placement controller).
// Every managed cluster trusts every executor (testenv.TrustServiceAccounts): tenancy is
// tested with startTenantFleet.
func startFleetWith(t *testing.T, opts testenv.Options) *fleet {
	t.Helper()
	return startFleetTrusting(t, opts, true)
}

// startFleetTrusting is startFleetWith; with trust false the managed clusters grant executors
// nothing, and tests grant what tenants may do.
func startFleetTrusting(t *testing.T, opts testenv.Options, trust bool) *fleet {
	t.Helper()
	env := testenv.StartForTestWith(t, opts)
	hub, err := ferryscheme.NewClient(env.Hub.Config)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	port := testenv.FreePortForTest(t)
	objs, err := install.Objects(install.Options{WebhookURL: fmt.Sprintf("https://127.0.0.1:%d", port)})
	require.NoError(t, err)
	require.NoError(t, install.Apply(ctx, hub, objs))
	f := &fleet{t: t, env: env, hub: hub, spokes: map[string]client.Client{}, sick: map[string]*atomic.Bool{}, trust: trust}
	for _, c := range env.Managed {
		spoke, err := ferryscheme.NewClient(c.Config)
		require.NoError(t, err)
		if trust {
			require.NoError(t, testenv.TrustServiceAccounts(ctx, spoke))
		}
		f.spokes[c.Name] = spoke
		sick := &atomic.Bool{}
		f.sick[c.Name] = sick
		go testenv.PlayKubeletUnless(ctx, spoke, 200*time.Millisecond, sick.Load)
	}
	cfg := serviceAccountConfig(ctx, t, hub, env.Hub.Config)
	f.startController = func() (stop func()) {
		ctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			done <- controller.Run(ctx, cfg, controller.ManagerOptions{
				// As ferry-controller runs by default: each app acts as its writer, and its
				// ManifestWorks name an executor.
				Reconciler: controller.Options{UnhealthyRecheck: 2 * time.Second, Impersonate: true, Executor: controller.DefaultExecutor},
				Webhook:    controller.WebhookOptions{Host: "127.0.0.1", Port: port, ManageCert: true}})
		}()
		var once sync.Once
		return func() { once.Do(func() { cancel(); require.NoError(t, <-done) }) }
	}
	f.stopController = f.startController()
	t.Cleanup(func() { f.stopController() })
	f.waitAdmission(ctx)
	return f
}

// restartController stops the controller and starts a new one, as a crash and a new Pod would
// (the new one has nothing in memory of the old one).
func (f *fleet) restartController(down time.Duration) {
	f.t.Helper()
	f.stopController()
	time.Sleep(down)
	f.stopController = f.startController()
	f.waitAdmission(context.Background())
}

// serviceAccountConfig is cfg authenticated as the controller's ServiceAccount.
func serviceAccountConfig(ctx context.Context, t *testing.T, c client.Client, cfg *rest.Config) *rest.Config {
	t.Helper()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: install.DefaultNamespace, Name: "ferry-controller"}}
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr(int64(3600))}}
	require.NoError(t, c.SubResource("token").Create(ctx, sa, req))
	out := rest.AnonymousClientConfig(cfg)
	out.BearerToken = req.Status.Token
	return out
}

func ptr[T any](v T) *T { return &v }

func (f *fleet) applyApp(doc string) {
	f.t.Helper()
	require.NoError(f.t, f.tryApplyApp(doc))
}

// tryApplyApp creates or updates an Application; admission may refuse it.
func (f *fleet) tryApplyApp(doc string) error {
	f.t.Helper()
	app := &v1beta1.Application{}
	require.NoError(f.t, yaml.Unmarshal([]byte(doc), app))
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: app.Namespace}}
	if err := f.hub.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		require.NoError(f.t, err)
	}
	if f.trust {
		// With executors, Ferry does not create the app's namespace on managed clusters: a
		// platform team does, with the executor's rights in it, when it adds a tenant.
		for _, spoke := range f.spokes {
			if err := spoke.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: app.Namespace}}); err != nil && !apierrors.IsAlreadyExists(err) {
				require.NoError(f.t, err)
			}
		}
	}
	existing := &v1beta1.Application{}
	if err := f.hub.Get(ctx, client.ObjectKeyFromObject(app), existing); apierrors.IsNotFound(err) {
		return f.hub.Create(ctx, app)
	}
	existing.Spec = app.Spec
	return f.hub.Update(ctx, existing)
}

// waitAdmission waits until the admission webhook answers: a server-side dry run of a create
// passes through it.
func (f *fleet) waitAdmission(ctx context.Context) {
	f.t.Helper()
	probe := &v1beta1.Application{ObjectMeta: metav1.ObjectMeta{Name: "admission-probe", Namespace: "default"},
		Spec: v1beta1.ApplicationSpec{Components: []v1beta1.ApplicationComponent{{Name: "probe", Type: "webservice",
			Properties: &runtime.RawExtension{Raw: []byte(`{"image": "nginx"}`)}}}}}
	require.Eventually(f.t, func() bool { return f.hub.Create(ctx, probe.DeepCopy(), client.DryRunAll) == nil },
		60*time.Second, 200*time.Millisecond, "the admission webhook answers")
}

func (f *fleet) waitApp(ns, name, what string, cond func(*v1beta1.Application) bool) *v1beta1.Application {
	f.t.Helper()
	var last *v1beta1.Application
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		app := &v1beta1.Application{}
		if f.hub.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, app) == nil {
			last = app
			if app.Status.ObservedGeneration == app.Generation && cond(app) {
				return app
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	status, _ := yaml.Marshal(last.Status)
	f.t.Fatalf("app %s/%s: timed out waiting for %s; status:\n%s", ns, name, what, status)
	return nil
}

func phase(p v1beta1.ApplicationPhase) func(*v1beta1.Application) bool {
	return func(a *v1beta1.Application) bool { return a.Status.Phase == p }
}

// deployment reads a Deployment on a spoke; nil when it does not exist.
func (f *fleet) deployment(cluster, ns, name string) *appsv1.Deployment {
	f.t.Helper()
	d := &appsv1.Deployment{}
	err := f.spokes[cluster].Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, d)
	if apierrors.IsNotFound(err) {
		return nil
	}
	require.NoError(f.t, err)
	return d
}

// hubImage is the image of a Deployment on the hub; empty when it does not exist.
func (f *fleet) hubImage(ns, name string) string {
	d := &appsv1.Deployment{}
	if f.hub.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, d) != nil {
		return ""
	}
	return d.Spec.Template.Spec.Containers[0].Image
}

func (f *fleet) waitDeployment(cluster, ns, name string, present bool) *appsv1.Deployment {
	f.t.Helper()
	var d *appsv1.Deployment
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if d = f.deployment(cluster, ns, name); (d != nil) == present {
			return d
		}
		if time.Now().After(deadline) {
			break
		}
	}
	// Say what the hub and the cluster hold, for whoever reads the failure.
	var works workv1.ManifestWorkList
	_ = f.hub.List(context.Background(), &works, client.InNamespace(cluster))
	state := map[string]any{"works": works.Items}
	if d != nil {
		state["deployment"] = d.ObjectMeta
	}
	out, _ := yaml.Marshal(state)
	f.t.Fatalf("Deployment %s/%s on %s present=%v: timed out; hub and cluster hold:\n%s", ns, name, cluster, present, out)
	return nil
}

func service(app *v1beta1.Application, name, cluster string) *v1beta1.ApplicationComponentStatus {
	for i := range app.Status.Services {
		if s := &app.Status.Services[i]; s.Name == name && s.Cluster == cluster {
			return s
		}
	}
	return nil
}

func memoryOf(d *appsv1.Deployment) string {
	return d.Spec.Template.Spec.Containers[0].Resources.Requests.Memory().String()
}

// TestPromotionAcrossClusters delivers examples/multi-env/app.yaml: to the cluster labelled
// env=staging first, then — after approval — to env=prod with the prod overrides; health comes
// back from each cluster's ManifestWork feedback. Dropping prod from the app removes its objects
// from prod only, and deleting the app removes everything it delivered and nothing else.
func TestPromotionAcrossClusters(t *testing.T) {
	f := startFleet(t,
		testenv.ClusterSpec{Name: "staging", Labels: map[string]string{"env": "staging"}},
		testenv.ClusterSpec{Name: "prod", Labels: map[string]string{"env": "prod", "region": "eu"}})
	ctx := context.Background()
	for name, spoke := range f.spokes {
		require.NoError(t, spoke.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "bystander"}, Data: map[string]string{"on": name}}))
	}
	data, err := os.ReadFile("../examples/multi-env/app.yaml")
	require.NoError(t, err)
	f.applyApp(string(data))

	app := f.waitApp("shop", "shop", "the approval", phase(v1beta1.ApplicationWorkflowSuspending))
	staging := f.waitDeployment("staging", "shop", "frontend", true)
	require.Equal(t, int32(1), *staging.Spec.Replicas)
	require.Equal(t, "128Mi", memoryOf(staging))
	require.Nil(t, f.deployment("prod", "shop", "frontend"), "prod waits for the approval")
	for _, name := range []string{"frontend", "orders"} {
		s := service(app, name, "staging")
		require.NotNil(t, s, "status.services has %s on staging", name)
		require.True(t, s.Healthy, "%s on staging: %s", name, s.Message)
	}

	require.NoError(t, appworkflow.Control(ctx, f.hub, client.ObjectKey{Namespace: "shop", Name: "shop"}, appworkflow.CommandResume, "", "", time.Now()))
	app = f.waitApp("shop", "shop", "running on both clusters", phase(v1beta1.ApplicationRunning))
	prod := f.waitDeployment("prod", "shop", "frontend", true)
	require.Equal(t, int32(3), *prod.Spec.Replicas, "prod override: replicas")
	require.Equal(t, "512Mi", memoryOf(prod), "prod override: memory")
	require.Equal(t, int32(2), *f.deployment("prod", "shop", "orders").Spec.Replicas)
	require.Equal(t, int32(1), *f.deployment("staging", "shop", "frontend").Spec.Replicas, "staging keeps its size")
	for _, cluster := range []string{"staging", "prod"} {
		for _, name := range []string{"frontend", "orders"} {
			s := service(app, name, cluster)
			require.NotNil(t, s, "%s on %s", name, cluster)
			require.True(t, s.Healthy, "%s on %s: %s", name, cluster, s.Message)
		}
	}

	// A settled app does not rewrite its ManifestWorks (their generation stays) although the
	// agents keep updating their status.
	work := &workv1.ManifestWork{}
	require.NoError(t, f.hub.Get(ctx, client.ObjectKey{Namespace: "prod", Name: "shop-shop-deploy-prod"}, work))
	generation := work.Generation
	before := reconciles(t, v1beta1.ApplicationRunning)
	touched := &v1beta1.Application{}
	require.NoError(t, f.hub.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "shop"}, touched))
	require.NoError(t, f.hub.Patch(ctx, touched, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"annotations":{"touched":"1"}}}`))))
	require.Eventually(t, func() bool { return reconciles(t, v1beta1.ApplicationRunning) > before }, 30*time.Second, 100*time.Millisecond,
		"the touched app is reconciled")
	require.NoError(t, f.hub.Get(ctx, client.ObjectKeyFromObject(work), work))
	require.Equal(t, generation, work.Generation, "only changed ManifestWorks are written")

	// Drop prod: only prod loses the objects.
	stagingOnly := strings.Split(string(data), "      - name: approve-prod")[0]
	stagingOnly = strings.Replace(stagingOnly, "    - name: prod\n      type: topology\n      properties:\n        clusterLabelSelector:\n          env: prod\n", "", 1)
	f.applyApp(stagingOnly)
	f.waitDeployment("prod", "shop", "frontend", false)
	f.waitDeployment("prod", "shop", "orders", false)
	app = f.waitApp("shop", "shop", "running on staging only", func(a *v1beta1.Application) bool {
		return a.Status.Phase == v1beta1.ApplicationRunning && service(a, "frontend", "prod") == nil
	})
	require.Equal(t, staging.UID, f.deployment("staging", "shop", "frontend").UID, "staging was not touched")

	// Delete: everything delivered goes, the bystanders stay.
	require.NoError(t, f.hub.Delete(ctx, app))
	require.Eventually(t, func() bool {
		return apierrors.IsNotFound(f.hub.Get(ctx, client.ObjectKeyFromObject(app), &v1beta1.Application{}))
	}, 60*time.Second, 200*time.Millisecond)
	require.Nil(t, f.deployment("staging", "shop", "frontend"), "the app's deletion waited for the agent's cleanup")
	require.Nil(t, f.deployment("staging", "shop", "orders"))
	var works workv1.ManifestWorkList
	require.NoError(t, f.hub.List(ctx, &works, client.MatchingLabels{v1beta1.LabelAppName: "shop"}))
	require.Empty(t, works.Items)
	for name, spoke := range f.spokes {
		require.NoError(t, spoke.Get(ctx, client.ObjectKey{Namespace: "default", Name: "bystander"}, &corev1.ConfigMap{}), "bystander on %s", name)
	}
}

const oneCluster = `
apiVersion: core.oam.dev/v1beta1
kind: Application
metadata: {name: api, namespace: default}
spec:
  components:
    - {name: api, type: worker, properties: {image: "api:1"}}
  policies:
    - {name: there, type: topology, properties: {clusters: [%s]}}
`

// setAvailable plays the hub's registration controller, which marks a cluster unavailable when
// its agent stops renewing its lease (the test environment runs only work agents).
func (f *fleet) setAvailable(cluster string, status metav1.ConditionStatus) {
	f.t.Helper()
	mc := &clusterv1.ManagedCluster{}
	require.NoError(f.t, f.hub.Get(context.Background(), client.ObjectKey{Name: cluster}, mc))
	meta.SetStatusCondition(&mc.Status.Conditions, metav1.Condition{Type: clusterv1.ManagedClusterConditionAvailable, Status: status,
		Reason: "LeaseUpdate", Message: "set by the test"})
	require.NoError(f.t, f.hub.Status().Update(context.Background(), mc))
}

// TestUnavailableClusterAndUnknownCluster: with its agent stopped a cluster's components are
// reported unknown, not healthy, and come back when it returns. A topology naming a cluster that
// does not exist is a clear status error, and nothing deployed is deleted.
func TestUnavailableClusterAndUnknownCluster(t *testing.T) {
	f := startFleet(t, testenv.ClusterSpec{Name: "edge", Labels: map[string]string{"env": "edge"}})
	f.applyApp(strings.Replace(oneCluster, "%s", "edge", 1))
	f.waitApp("default", "api", "running", phase(v1beta1.ApplicationRunning))
	api := f.waitDeployment("edge", "default", "api", true)

	require.NoError(t, f.env.StopAgent("edge"))
	f.setAvailable("edge", metav1.ConditionUnknown)
	app := f.waitApp("default", "api", "unhealthy", phase(v1beta1.ApplicationUnhealthy))
	s := service(app, "api", "edge")
	require.NotNil(t, s)
	require.False(t, s.Healthy)
	require.Contains(t, s.Message, "cluster edge is not available")
	require.Contains(t, s.Message, "health unknown")

	require.NoError(t, f.env.StartAgent("edge"))
	f.setAvailable("edge", metav1.ConditionTrue)
	f.waitApp("default", "api", "running again", phase(v1beta1.ApplicationRunning))

	// A topology naming a cluster that does not exist is refused at admission.
	err := f.tryApplyApp(strings.Replace(oneCluster, "%s", "edge, nowhere", 1))
	require.ErrorContains(t, err, `spec.policies[0].properties: policy "there" (topology): cluster "nowhere" does not exist`)

	// A cluster that goes away after admission is a clear status error, and what was deployed
	// there stays: the controller stops at rendering, before any collection.
	before := reconciles(t, v1beta1.ApplicationRendering)
	require.NoError(t, f.hub.Delete(context.Background(), &clusterv1.ManagedCluster{ObjectMeta: metav1.ObjectMeta{Name: "edge"}}))
	app = f.waitApp("default", "api", "a render error", func(a *v1beta1.Application) bool {
		c := meta.FindStatusCondition(a.Status.Conditions, v1beta1.ConditionRendered)
		return c != nil && c.Status == metav1.ConditionFalse
	})
	c := meta.FindStatusCondition(app.Status.Conditions, v1beta1.ConditionRendered)
	require.Contains(t, c.Message, `cluster "edge" does not exist`)
	require.Eventually(t, func() bool { return reconciles(t, v1beta1.ApplicationRendering) >= before+2 }, 30*time.Second, 100*time.Millisecond,
		"the app is reconciled again after the render error")
	require.Equal(t, api.UID, f.deployment("edge", "default", "api").UID, "what was deployed stays")
}

// reconciles counts the controller's finished reconciles of apps that ended in phase.
func reconciles(t *testing.T, phase v1beta1.ApplicationPhase) float64 {
	t.Helper()
	families, err := ctrlmetrics.Registry.Gather()
	require.NoError(t, err)
	total := 0.0
	for _, fam := range families {
		if fam.GetName() != "ferry_application_reconcile_total" {
			continue
		}
		for _, m := range fam.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "phase" && l.GetValue() == string(phase) {
					total += m.GetCounter().GetValue()
				}
			}
		}
	}
	return total
}
