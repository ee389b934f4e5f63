package controller

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	clusterv1 "open-cluster-management.io/api/cluster/v1"
	clusterv1beta1 "open-cluster-management.io/api/cluster/v1beta1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/appfile"
	"github.com/ferryhq/ferry/pkg/dispatch"
	"github.com/ferryhq/ferry/pkg/identity"
	"github.com/ferryhq/ferry/pkg/shard"
)

// ApplicationReconciler delivers Applications to the hub cluster: it renders them, keeps
// ApplicationRevisions, runs their workflow, applies and tracks their objects, reports health,
// and collects what they no longer want.
type ApplicationReconciler struct {
	client    client.Client
	apiReader client.Reader
	recorder  record.EventRecorder
	opts      Options
	// planner and sources are shared with the admission webhook: both plan the same way.
	planner *appfile.Planner
	// admission plans for the webhook with the same sources on its own engine.
	admission *appfile.Planner
	sources   appfile.Sources
	hub       *dispatch.Hub
	// identities builds clients that act as an app's identity (Options.Impersonate).
	identities *identity.Clients
	access     *access
	trackers   *dispatch.Trackers
	metrics    *metrics

	// ctrl and cache let the reconciler watch the kinds apps deploy, once it has applied one:
	// a change to an owned object (its status, a hand edit, a deletion) brings its app back.
	ctrl    controller.Controller
	cache   cache.Cache
	watched sync.Map
	// informed holds the kinds whose informer runs in the cache (see cachedResourceVersion).
	informed sync.Map

	// noClusters is set when the hub does not serve ManagedClusters: asking would cost a
	// discovery request every time.
	noClusters bool
	// noPlacements is set when the hub does not serve OCM PlacementDecisions.
	noPlacements bool

	// ownWrites holds the resourceVersion of the status this reconciler last wrote per app, so
	// the watch event of its own write does not trigger another reconcile.
	ownWrites sync.Map
	// settled remembers apps whose last reconcile found nothing to do (see settledApp).
	settled sync.Map
	// inflight holds when each running reconcile started, by app (see stalled).
	inflight sync.Map
	// closeEngines ends the engines' evaluator processes when the manager stops.
	closeEngines func()
	// defEpoch counts definition events; settled apps re-read their definitions only after
	// one (see stillSettled).
	defEpoch atomic.Uint64
}

// NewApplicationReconciler wires a reconciler to a manager's client, cache and recorder, and
// plans with sources.
func NewApplicationReconciler(mgr ctrl.Manager, sources appfile.Sources, opts Options) *ApplicationReconciler {
	opts, closeEngines := opts.withDefaults().withEngines()
	c := mgr.GetClient()
	acc := &access{client: c}
	return &ApplicationReconciler{
		access: acc, closeEngines: closeEngines,
		client: c, apiReader: mgr.GetAPIReader(), recorder: mgr.GetEventRecorderFor("ferry"), opts: opts,
		planner:    appfile.NewPlanner(sources, appfile.Options{Engine: opts.Engine}),
		admission:  appfile.NewPlanner(sources, appfile.Options{Engine: opts.AdmissionEngine}),
		sources:    sources,
		hub:        dispatch.NewHub(dispatch.HubOptions{Client: c, APIReader: mgr.GetAPIReader(), Scheme: mgr.GetScheme(), Cacheable: acc.canWatch}),
		trackers:   &dispatch.Trackers{Client: c, Reader: mgr.GetAPIReader()},
		identities: identity.NewClients(identity.ClientsOptions{Config: mgr.GetConfig(), Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper()}),
		metrics:    newMetrics(c),
	}
}

// SetupWithManager registers the reconciler.
func (r *ApplicationReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := r.metrics.register(); err != nil {
		return err
	}
	r.cache = mgr.GetCache()
	if err := mgr.Add(closer(r.closeEngines)); err != nil {
		return err
	}
	b := ctrl.NewControllerManagedBy(mgr).
		For(&v1beta1.Application{}, builder.WithPredicates(predicate.Funcs{UpdateFunc: r.changedByOthers}))
	if !r.noClusters {
		// A cluster that joins, is relabelled or changes availability changes what topologies
		// select and what health reports.
		b = b.Watches(&clusterv1.ManagedCluster{}, handler.EnqueueRequestsFromMapFunc(r.appsWithTopology))
	}
	if !r.noPlacements {
		// A Placement that decides anew moves the apps that follow it.
		b = b.Watches(&clusterv1beta1.PlacementDecision{}, handler.EnqueueRequestsFromMapFunc(r.appsWithTopology))
	}
	var err error
	r.ctrl, err = b.
		// A changed definition reaches the apps that see it at once, not at their next resync.
		Watches(&v1beta1.ComponentDefinition{}, handler.EnqueueRequestsFromMapFunc(r.appsSeeing)).
		Watches(&v1beta1.TraitDefinition{}, handler.EnqueueRequestsFromMapFunc(r.appsSeeing)).
		Watches(&v1beta1.PolicyDefinition{}, handler.EnqueueRequestsFromMapFunc(r.appsSeeing)).
		Watches(&v1beta1.WorkflowStepDefinition{}, handler.EnqueueRequestsFromMapFunc(r.appsSeeing)).
		// A process may run several managers one after another (tests, restarts): the name
		// check is only about metric names, which the managers share on purpose.
		// With shards every replica reconciles its own shard; only the shard scheduler is
		// elected.
		WithOptions(controller.Options{MaxConcurrentReconciles: r.opts.Concurrency, SkipNameValidation: ptrBool(true),
			NeedLeaderElection: ptrBool(r.opts.Shard == nil)}).
		WithLogConstructor(reconcileLogger(mgr.GetLogger())).
		Named("application").
		Build(r)
	return err
}

// watch starts watching a kind apps deploy, the first time one is applied. The cache only holds
// objects with the app labels, and each event is mapped to the app they name.
func (r *ApplicationReconciler) watch(ctx context.Context, gvk schema.GroupVersionKind) {
	if r.ctrl == nil {
		return
	}
	if _, loaded := r.watched.LoadOrStore(gvk, true); loaded {
		return
	}
	if !r.access.canWatch(ctx, gvk) {
		return // read from the API server; changes come at the resync
	}
	if err := r.ctrl.Watch(source.Kind[client.Object](r.cache, r.hub.NewObject(gvk), handler.EnqueueRequestsFromMapFunc(appOfObject))); err != nil {
		r.watched.Delete(gvk)
		ctrl.LoggerFrom(ctx).Error(err, "watch deployed kind", "kind", gvk.String())
		return
	}
	r.informed.Store(gvk, true)
}

// appsSeeing maps a definition to the Applications that may use it: those of its namespace, or
// every one for the system namespace. Apps that do not use it stay settled at the cost of a few
// cache reads (see settledApp).
func (r *ApplicationReconciler) appsSeeing(ctx context.Context, def client.Object) []reconcile.Request {
	r.defEpoch.Add(1)
	var apps v1beta1.ApplicationList
	var opts []client.ListOption
	if def.GetNamespace() != r.opts.SystemNamespace {
		opts = append(opts, client.InNamespace(def.GetNamespace()))
	}
	if err := r.client.List(ctx, &apps, opts...); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "list the applications a changed definition reaches; they see it at their next resync", "definition", client.ObjectKeyFromObject(def))
		return nil
	}
	out := make([]reconcile.Request, 0, len(apps.Items))
	for _, a := range apps.Items {
		out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: a.Namespace, Name: a.Name}})
	}
	return out
}

// appsWithTopology maps a managed cluster to the Applications that deliver to managed clusters.
func (r *ApplicationReconciler) appsWithTopology(ctx context.Context, cluster client.Object) []reconcile.Request {
	var apps v1beta1.ApplicationList
	if err := r.client.List(ctx, &apps); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "list the applications a changed managed cluster reaches; they see it at their next resync", "cluster", cluster.GetName())
		return nil
	}
	var out []reconcile.Request
	for _, a := range apps.Items {
		for _, p := range a.Spec.Policies {
			if p.Type == appfile.PolicyTopology {
				out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: a.Namespace, Name: a.Name}})
				break
			}
		}
	}
	return out
}

// appOfObject maps a deployed object to the Application its labels name.
func appOfObject(_ context.Context, obj client.Object) []reconcile.Request {
	labels := obj.GetLabels()
	name, ns := labels[v1beta1.LabelAppName], labels[v1beta1.LabelAppNamespace]
	if name == "" || ns == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: ns, Name: name}}}
}

// changedByOthers drops the update event of the reconciler's own status write.
func (r *ApplicationReconciler) changedByOthers(e event.UpdateEvent) bool {
	key := types.NamespacedName{Namespace: e.ObjectNew.GetNamespace(), Name: e.ObjectNew.GetName()}
	if rv, ok := r.ownWrites.Load(key); ok && rv == e.ObjectNew.GetResourceVersion() {
		return false
	}
	return true
}

// cacheBehind reports whether the cached app is older than the status this reconciler last
// wrote. Resource versions are etcd revisions: numbers that grow with every write.
func (r *ApplicationReconciler) cacheBehind(app *v1beta1.Application) bool {
	written, ok := r.ownWrites.Load(types.NamespacedName{Namespace: app.Namespace, Name: app.Name})
	if !ok {
		return false
	}
	w, err1 := strconv.ParseUint(written.(string), 10, 64)
	c, err2 := strconv.ParseUint(app.ResourceVersion, 10, 64)
	return err1 == nil && err2 == nil && c < w
}

func ptrBool(b bool) *bool { return &b }

// errStop ends a reconcile early without an error: the status says what is wrong.
var errStop = errors.New("stop")

// Reconcile moves one Application towards its desired state.
func (r *ApplicationReconciler) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, err error) {
	start := r.opts.Now()
	r.inflight.Store(req.NamespacedName, start)
	defer r.inflight.Delete(req.NamespacedName)
	if r.opts.Shard != nil && !r.opts.Shard.Held() {
		// The shard's lease is not current: its Applications may be moving to another
		// replica, which must be the only one working on them. This replica stops soon.
		return ctrl.Result{RequeueAfter: time.Second}, nil
	}
	if res, ok := r.settledInCache(ctx, req.NamespacedName, start); ok {
		return res, nil
	}
	app := &v1beta1.Application{}
	if err := r.client.Get(ctx, req.NamespacedName, app); err != nil {
		r.ownWrites.Delete(req.NamespacedName)
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if r.opts.Observe != nil {
		shardID := app.Labels[shard.Label]
		defer func() {
			r.opts.Observe(Observation{App: req.NamespacedName, Shard: shardID, Start: start, End: r.opts.Now()})
		}()
	}
	if app.Annotations[v1beta1.AnnotationPause] == "true" {
		r.metrics.paused.Inc()
		ctrl.LoggerFrom(ctx).V(1).Info("paused: left alone")
		return ctrl.Result{}, nil
	}
	if r.cacheBehind(app) {
		// Acting on a status older than the one just written could redo work; wait for the
		// cache to catch up (the write's own watch event may be filtered, so ask again).
		return ctrl.Result{RequeueAfter: 50 * time.Millisecond}, nil
	}
	if app.DeletionTimestamp.IsZero() && r.stillSettled(ctx, app) {
		r.metrics.settled.Inc()
		return newAppRun(r, app).result(), nil
	}
	run := newAppRun(r, app)
	defer func() {
		phase := run.app.Status.Phase
		if patchErr := r.patchStatus(ctx, run); patchErr != nil {
			if apierrors.IsConflict(patchErr) {
				res, err = ctrl.Result{RequeueAfter: requeueConflict}, nil
			} else {
				err = errors.Join(err, patchErr)
			}
		}
		r.metrics.observe(phase, start, r.opts.Now(), err)

		r.rememberSettled(ctx, run, err)
	}()
	if ctx, err = r.actAs(ctx, run); err != nil {
		return ctrl.Result{}, err
	}
	if !app.DeletionTimestamp.IsZero() {
		return r.finalize(ctx, run)
	}
	if err := r.ensureFinalizer(ctx, run); err != nil {
		return ctrl.Result{}, err
	}
	log := ctrl.LoggerFrom(ctx)
	for _, step := range []struct {
		name string
		run  func(context.Context, *appRun) error
	}{
		{"identity", r.checkIdentity}, {"render", r.render}, {"revision", r.ensureRevision}, {"policies", r.applyPolicyObjects}, {"workflow", r.runWorkflow},
		{"rollback guard", r.guardRollouts}, {"keep state", r.keepState},
		{"health", r.evaluateHealth}, {"garbage collection", r.collectGarbage}, {"clusters left", r.collectLeftClusters},
	} {
		err := step.run(ctx, run)
		log.V(1).Info("reconcile step", "step", step.name, "revision", run.revName, "stopped", errors.Is(err, errStop), "error", err)
		if errors.Is(err, errStop) {
			break
		} else if err != nil {
			run.setPhase()
			return ctrl.Result{}, fmt.Errorf("%s: %w", step.name, err)
		}
	}
	run.setPhase()
	return run.result(), nil
}

// ensureFinalizer makes sure deleting the app waits for Ferry to remove what it owns.
func (r *ApplicationReconciler) ensureFinalizer(ctx context.Context, run *appRun) error {
	if controllerutil.ContainsFinalizer(run.app, v1beta1.FinalizerCleanup) {
		return nil
	}
	patch := client.MergeFrom(run.app.DeepCopy())
	controllerutil.AddFinalizer(run.app, v1beta1.FinalizerCleanup)
	if err := r.client.Patch(ctx, run.app, patch); err != nil {
		return err
	}
	run.orig.ResourceVersion = run.app.ResourceVersion
	return nil
}

// patchStatus writes the status when it changed, failing on a concurrent change so that a
// status read from a cache that was behind never overwrites a newer one.
func (r *ApplicationReconciler) patchStatus(ctx context.Context, run *appRun) error {
	if equality.Semantic.DeepEqual(run.orig.Status, run.app.Status) {
		return nil
	}
	run.app.Status.ObservedGeneration = run.app.Generation
	patch := client.MergeFromWithOptions(run.orig, client.MergeFromWithOptimisticLock{})
	err := r.client.Status().Patch(ctx, run.app, patch)
	if apierrors.IsConflict(err) {
		// Someone changed the app meanwhile. When it was not its status (a spec edit), this
		// status is still right: write it onto the fresh object, so the work it records is not
		// lost. Otherwise the reconcile starts again from the fresh status.
		fresh := &v1beta1.Application{}
		if getErr := r.apiReader.Get(ctx, client.ObjectKeyFromObject(run.app), fresh); getErr != nil {
			return client.IgnoreNotFound(getErr)
		}
		if !equality.Semantic.DeepEqual(fresh.Status, run.orig.Status) {
			return err
		}
		run.app.ResourceVersion = fresh.ResourceVersion
		run.app.Status.ObservedGeneration = run.orig.Generation
		err = r.client.Status().Patch(ctx, run.app, client.MergeFromWithOptions(fresh, client.MergeFromWithOptimisticLock{}))
	}
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	}
	r.ownWrites.Store(types.NamespacedName{Namespace: run.app.Namespace, Name: run.app.Name}, run.app.ResourceVersion)
	return nil
}

// requeueConflict is how soon an app whose status write met a concurrent change is looked at
// again, from the fresh object.
const requeueConflict = 100 * time.Millisecond

// requeueSoon is how long a reconcile waits for something under way (a deletion, a collection).
const requeueSoon = 2 * time.Second

// stalled is the health check of the workers: an error naming a reconcile that has run longer
// than the stall timeout. Such a worker is stuck (it holds its app, and perhaps what other
// reconciles and the admission webhook wait for); the probes say so, so that the controller is
// restarted and taken out of the webhook's Service.
func (r *ApplicationReconciler) stalled(*http.Request) error {
	now := r.opts.Now()
	var stuck error
	r.inflight.Range(func(key, value any) bool {
		if d := now.Sub(value.(time.Time)); d > r.opts.StallTimeout {
			stuck = fmt.Errorf("the reconcile of application %s has run for %s (more than %s)", key, d.Round(time.Second), r.opts.StallTimeout)
			return false
		}
		return true
	})
	return stuck
}

// closer runs a function when the manager stops, on every replica (not only the leader).
type closer func()

func (c closer) Start(ctx context.Context) error {
	<-ctx.Done()
	c()
	return nil
}

func (c closer) NeedLeaderElection() bool { return false }
