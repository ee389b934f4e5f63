package controller

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/pprof"
	"os"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	clusterv1 "open-cluster-management.io/api/cluster/v1"
	clusterv1beta1 "open-cluster-management.io/api/cluster/v1beta1"

	ferryscheme "github.com/ferryhq/ferry/api/scheme"
	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/clustersource"
	"github.com/ferryhq/ferry/pkg/shard"
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
	// APITimeout bounds each request to the API server other than a watch
	// (DefaultAPITimeout when zero, none when negative).
	APITimeout time.Duration
	// Webhook serves the validating admission webhook when its Port is set.
	Webhook WebhookOptions
	// Pprof serves Go's /debug/pprof/ handlers next to the metrics.
	Pprof bool
	// UI serves the web console when its Port is set.
	UI UIOptions
	// Shards splits Applications among replicas (see package shard); 0 turns sharding off.
	// Run joins a shard slot (ShardID, or any free one when negative) before it starts.
	Shards  int
	ShardID int
	// ShardIdentity names this replica in shard leases (the host name and a random suffix
	// when empty).
	ShardIdentity string
	// ShardTiming is how shard leases, and the shard scheduler's election, are held.
	ShardTiming shard.Timing
}

// UIOptions configure the web console every replica serves (package console, ModeUser):
// each request acts with its own bearer token, so the user's RBAC decides what they see and do.
type UIOptions struct {
	// Host is the address to bind (every address when empty); Port 0 turns the console off.
	Host string
	Port int
}

// WebhookOptions configure the admission webhook server.
type WebhookOptions struct {
	// Host is the address the server binds to and, when set, a name its certificate is valid
	// for: the host of `ferry install --webhook-url` for a controller outside the cluster.
	Host string
	Port int
	// CertDir receives tls.crt and tls.key (a temporary directory when empty).
	CertDir string
	// ManageCert makes Run keep the serving certificate in the WebhookCertSecretName Secret
	// and its CA in the webhook configuration; without it CertDir must hold a certificate.
	ManageCert bool
}

// Run runs the controller until ctx ends: with the admission webhook (Webhook.Port set) it
// first makes sure of the webhook's certificate, then starts the manager. ferry-controller is
// this function behind flags.
func Run(ctx context.Context, cfg *rest.Config, o ManagerOptions) error {
	if o.Webhook.Port != 0 && o.Webhook.ManageCert {
		if o.Webhook.CertDir == "" {
			dir, err := os.MkdirTemp("", "ferry-webhook-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			o.Webhook.CertDir = dir
		}
		c, err := ferryscheme.NewClient(cfg)
		if err != nil {
			return err
		}
		if err := EnsureWebhookCert(ctx, c, WebhookCertOptions{Namespace: o.Reconciler.withDefaults().SystemNamespace,
			Host: o.Webhook.Host, Port: o.Webhook.Port, Dir: o.Webhook.CertDir}); err != nil {
			return fmt.Errorf("webhook certificate: %w", err)
		}
	}
	if o.Shards > 0 {
		member, err := joinShard(ctx, cfg, o)
		if err != nil {
			return err
		}
		o.Reconciler.Shard = member
	}
	mgr, _, err := NewManager(cfg, o)
	if err != nil {
		return err
	}
	ctrl.LoggerFrom(ctx).Info("starting", "host", cfg.Host, "concurrency", o.Reconciler.withDefaults().Concurrency, "webhookPort", o.Webhook.Port)
	return mgr.Start(ctx)
}

// joinShard takes a shard slot for this replica.
func joinShard(ctx context.Context, cfg *rest.Config, o ManagerOptions) (*shard.Member, error) {
	c, err := ferryscheme.NewClient(cfg)
	if err != nil {
		return nil, err
	}
	identity := o.ShardIdentity
	if identity == "" {
		host, _ := os.Hostname()
		identity = host + "_" + string(uuid.NewUUID())
	}
	return shard.Join(ctx, shard.MemberOptions{Client: c, Namespace: o.Reconciler.withDefaults().SystemNamespace,
		Shards: o.Shards, ID: o.ShardID, Identity: identity, Timing: o.ShardTiming})
}

// NewManager returns a manager running the Application reconciler. Its cache holds Ferry's
// own kinds and, of every other kind, only objects carrying the app.oam.dev/name label: the
// objects Applications deploy. Anything else is read from the API server when needed. With a
// shard (o.Reconciler.Shard) it caches only the shard's Applications, keeps the shard's lease
// and, when elected, runs the shard scheduler.
func NewManager(cfg *rest.Config, o ManagerOptions) (ctrl.Manager, *ApplicationReconciler, error) {
	cfg = rest.CopyConfig(cfg)
	if o.QPS > 0 {
		cfg.QPS, cfg.Burst = o.QPS, o.Burst
	}
	apiTimeout := o.APITimeout
	if apiTimeout == 0 {
		apiTimeout = DefaultAPITimeout
	}
	withRequestTimeout(cfg, apiTimeout)
	scheme, err := ferryscheme.New()
	if err != nil {
		return nil, nil, err
	}
	owned, err := labels.NewRequirement(v1beta1.LabelAppName, selection.Exists, nil)
	if err != nil {
		return nil, nil, err
	}
	all := cache.ByObject{Label: labels.Everything()}
	apps := all
	electionID := "ferry-controller.core.oam.dev"
	member := o.Reconciler.Shard
	if member != nil {
		apps = cache.ByObject{Label: labels.SelectorFromSet(labels.Set{shard.Label: member.Shard()})}
		o.LeaderElection = true // of the shard scheduler
		electionID = "ferry-shard-scheduler.core.oam.dev"
		if o.LeaderElectionNamespace == "" {
			o.LeaderElectionNamespace = o.Reconciler.withDefaults().SystemNamespace
		}
	}
	timing := o.ShardTiming.WithDefaults()
	byObject := map[client.Object]cache.ByObject{
		&v1beta1.Application{}: apps, &v1beta1.ApplicationRevision{}: all, &v1beta1.ResourceTracker{}: all,
		&v1beta1.ComponentDefinition{}: all, &v1beta1.TraitDefinition{}: all,
		&v1beta1.PolicyDefinition{}: all, &v1beta1.WorkflowStepDefinition{}: all,
	}
	// ManagedClusters carry no app labels; cache all of them, when OCM is installed on the hub
	// (the cache refuses kinds the hub does not serve; install OCM first, or restart).
	served, err := serves(cfg, clusterv1.GroupVersion.String(), "ManagedCluster")
	if err != nil {
		return nil, nil, err
	}
	if served {
		byObject[&clusterv1.ManagedCluster{}] = all
	}
	// PlacementDecisions carry no app labels either: topology policies name their Placements.
	placementsServed, err := serves(cfg, clusterv1beta1.GroupVersion.String(), "PlacementDecision")
	if err != nil {
		return nil, nil, err
	}
	if placementsServed {
		byObject[&clusterv1beta1.PlacementDecision{}] = all
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsserver.Options{BindAddress: orDefault(o.MetricsAddr, "0"), ExtraHandlers: pprofHandlers(o.Pprof)},
		HealthProbeBindAddress:  orDefault(o.ProbeAddr, "0"),
		LeaderElection:          o.LeaderElection,
		LeaderElectionID:        electionID,
		LeaderElectionNamespace: o.LeaderElectionNamespace,
		LeaseDuration:           &timing.LeaseDuration,
		RenewDeadline:           &timing.RenewDeadline,
		RetryPeriod:             &timing.RetryPeriod,
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
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	sources := clustersource.New(clustersource.Options{Reader: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Version: dc,
		SystemNamespace: o.Reconciler.withDefaults().SystemNamespace, NoManagedClusters: !served})
	r := NewApplicationReconciler(mgr, sources, o.Reconciler)
	r.noClusters, r.noPlacements = !served, !placementsServed
	if err := mgr.AddHealthzCheck("workers", r.stalled); err != nil {
		return nil, nil, err
	}
	if err := mgr.AddReadyzCheck("workers", r.stalled); err != nil {
		return nil, nil, err
	}
	if err := r.SetupWithManager(mgr); err != nil {
		return nil, nil, err
	}
	if member != nil {
		// Moving a dead shard's apps is a burst of small label patches: let them through faster
		// than the reconciler's own client rate.
		mdCfg := rest.CopyConfig(cfg)
		mdCfg.QPS, mdCfg.Burst = max(cfg.QPS, 500), max(cfg.Burst, 1000)
		md, err := metadata.NewForConfig(mdCfg)
		if err != nil {
			return nil, nil, err
		}
		lc, err := client.New(cfg, client.Options{Scheme: scheme})
		if err != nil {
			return nil, nil, err
		}
		if err := mgr.Add(member); err != nil {
			return nil, nil, err
		}
		if err := mgr.Add(shard.NewScheduler(shard.SchedulerOptions{Client: lc, Metadata: md,
			Namespace: o.Reconciler.withDefaults().SystemNamespace, Shards: o.Shards, Interval: timing.RetryPeriod})); err != nil {
			return nil, nil, err
		}
	}
	if o.Webhook.Port != 0 {
		if err := setupWebhook(mgr, r); err != nil {
			return nil, nil, fmt.Errorf("set up the admission webhook: %w", err)
		}
	}
	if o.UI.Port != 0 {
		ui, err := newUIServer(cfg, o.UI, o.Reconciler.withDefaults().SystemNamespace)
		if err != nil {
			return nil, nil, fmt.Errorf("set up the console: %w", err)
		}
		if err := mgr.Add(ui); err != nil {
			return nil, nil, err
		}
	}
	return mgr, r, nil
}

// serves reports whether the hub serves a kind in a group version (OCM's, which may be missing).
func serves(cfg *rest.Config, groupVersion, kind string) (bool, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return false, err
	}
	resources, err := dc.ServerResourcesForGroupVersion(groupVersion)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("discover %s: %w", groupVersion, err)
	}
	for _, r := range resources.APIResources {
		if r.Kind == kind {
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
