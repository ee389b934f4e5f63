package controller

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/pprof"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/client-go/discovery"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	clusterv1 "open-cluster-management.io/api/cluster/v1"
	workv1 "open-cluster-management.io/api/work/v1"

	"github.com/ferryhq/ferry/api/v1beta1"
)

// ManagerOptions configure the controller manager.
type ManagerOptions struct {
	// Reconciler configures the Application reconciler.
	Reconciler Options
	// MetricsAddr and ProbeAddr are where metrics and health probes are served ("0" turns
	// either off).
	MetricsAddr, ProbeAddr string
	// LeaderElection makes only one of several replicas reconcile.
	LeaderElection          bool
	LeaderElectionNamespace string
	// QPS and Burst bound the client's request rate to the API server.
	QPS   float32
	Burst int
	// Webhook serves the validating admission webhook when its Port is set.
	Webhook WebhookOptions
	// Pprof serves Go's /debug/pprof/ handlers next to the metrics.
	Pprof bool
}

// WebhookOptions configure the admission webhook server.
type WebhookOptions struct {
	Host string
	Port int
	// CertDir holds tls.crt and tls.key.
	CertDir string
}

// NewScheme returns a scheme with the Kubernetes and Ferry types.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, err
	}
	for _, add := range []func(*runtime.Scheme) error{v1beta1.AddToScheme, clusterv1.Install, workv1.Install} {
		if err := add(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// NewManager returns a manager running the Application reconciler. Its cache holds Ferry's
// own kinds and, of every other kind, only objects carrying the app.oam.dev/name label: the
// objects Applications deploy. Anything else is read from the API server when needed.
func NewManager(cfg *rest.Config, o ManagerOptions) (ctrl.Manager, *ApplicationReconciler, error) {
	cfg = rest.CopyConfig(cfg)
	if o.QPS > 0 {
		cfg.QPS, cfg.Burst = o.QPS, o.Burst
	}
	scheme, err := NewScheme()
	if err != nil {
		return nil, nil, err
	}
	owned, err := labels.NewRequirement(v1beta1.LabelAppName, selection.Exists, nil)
	if err != nil {
		return nil, nil, err
	}
	all := cache.ByObject{Label: labels.Everything()}
	byObject := map[client.Object]cache.ByObject{
		&v1beta1.Application{}: all, &v1beta1.ApplicationRevision{}: all, &v1beta1.ResourceTracker{}: all,
		&v1beta1.ComponentDefinition{}: all, &v1beta1.TraitDefinition{}: all,
		&v1beta1.PolicyDefinition{}: all, &v1beta1.WorkflowStepDefinition{}: all,
	}
	// ManagedClusters carry no app labels; cache all of them, when OCM is installed on the hub
	// (the cache refuses kinds the hub does not serve; install OCM first, or restart).
	served, err := servesManagedClusters(cfg)
	if err != nil {
		return nil, nil, err
	}
	if served {
		byObject[&clusterv1.ManagedCluster{}] = all
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsserver.Options{BindAddress: orDefault(o.MetricsAddr, "0"), ExtraHandlers: pprofHandlers(o.Pprof)},
		HealthProbeBindAddress:  orDefault(o.ProbeAddr, "0"),
		LeaderElection:          o.LeaderElection,
		LeaderElectionID:        "ferry-controller.core.oam.dev",
		LeaderElectionNamespace: o.LeaderElectionNamespace,
		GracefulShutdownTimeout: ptrDuration(10 * time.Second),
		Cache: cache.Options{
			// managedFields are often a third of an object and nothing here reads them.
			DefaultTransform:     cache.TransformStripManagedFields(),
			DefaultLabelSelector: labels.NewSelector().Add(*owned),
			ByObject:             byObject,
		},
		Client:        client.Options{Cache: &client.CacheOptions{Unstructured: true}},
		WebhookServer: webhook.NewServer(webhook.Options{Host: o.Webhook.Host, Port: o.Webhook.Port, CertDir: o.Webhook.CertDir}),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("create manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return nil, nil, err
	}
	if err := mgr.AddReadyzCheck("cache", func(req *http.Request) error {
		if !mgr.GetCache().WaitForCacheSync(req.Context()) {
			return errors.New("the cache is not synced")
		}
		return nil
	}); err != nil {
		return nil, nil, err
	}
	r := NewApplicationReconciler(mgr, o.Reconciler)
	r.noClusters = !served
	if err := r.SetupWithManager(mgr); err != nil {
		return nil, nil, err
	}
	if o.Webhook.Port != 0 {
		if err := setupWebhook(mgr, r); err != nil {
			return nil, nil, fmt.Errorf("set up the admission webhook: %w", err)
		}
	}
	return mgr, r, nil
}

// servesManagedClusters reports whether the hub serves OCM's ManagedCluster kind.
func servesManagedClusters(cfg *rest.Config) (bool, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return false, err
	}
	resources, err := dc.ServerResourcesForGroupVersion(clusterv1.GroupVersion.String())
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("discover %s: %w", clusterv1.GroupVersion, err)
	}
	for _, r := range resources.APIResources {
		if r.Kind == "ManagedCluster" {
			return true, nil
		}
	}
	return false, nil
}

func pprofHandlers(on bool) map[string]http.Handler {
	if !on {
		return nil
	}
	return map[string]http.Handler{
		"/debug/pprof/":        http.HandlerFunc(pprof.Index),
		"/debug/pprof/profile": http.HandlerFunc(pprof.Profile),
		"/debug/pprof/heap":    pprof.Handler("heap"),
	}
}

func ptrDuration(d time.Duration) *time.Duration { return &d }
