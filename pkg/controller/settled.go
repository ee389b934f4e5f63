package controller

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/appfile"
	"github.com/ferryhq/ferry/pkg/definition"
	"github.com/ferryhq/ferry/pkg/shard"
	"github.com/ferryhq/ferry/pkg/workflow"
)

// settledApp remembers what a settled Application's last full reconcile saw: the app's
// resourceVersion, the definitions it used and the objects it owns. While none of them has
// changed, a resync has nothing to correct and nothing to report, so it costs a few cache reads
// instead of a render and a health evaluation.
type settledApp struct {
	appRV string
	// defs are "kind/namespace/name" → resourceVersion of the definitions used.
	defs map[string]string
	// objects are live objects by "apiVersion|kind|namespace|name" → resourceVersion, "" when
	// the object did not exist.
	objects map[string]string
	// defEpoch is the reconciler's definition epoch when defs were last found current: while
	// no definition anywhere changed since, they need not be read again.
	defEpoch atomic.Uint64
}

// stillSettled reports whether nothing the app depends on changed since it settled.
func (r *ApplicationReconciler) stillSettled(ctx context.Context, app *v1beta1.Application) bool {
	v, ok := r.settled.Load(types.NamespacedName{Namespace: app.Namespace, Name: app.Name})
	if !ok {
		return false
	}
	s := v.(*settledApp)
	// A status written onto a newer spec after a conflict (see patchStatus) carries the
	// resourceVersion remembered here with a spec nobody planned yet: its observedGeneration
	// tells.
	if s.appRV != app.ResourceVersion || app.Status.ObservedGeneration != app.Generation {
		return false
	}
	epoch := r.defEpoch.Load()
	for key, rv := range s.defs {
		if s.defEpoch.Load() == epoch {
			break // no definition event since they were read
		}
		parts := strings.SplitN(key, "/", 3)
		obj := definition.NewObject(definition.Kind(parts[0]))
		if err := r.client.Get(ctx, client.ObjectKey{Namespace: parts[1], Name: parts[2]}, obj); err != nil || obj.GetResourceVersion() != rv {
			return false
		}
		// A definition added to the app's namespace would now win over the system one.
		if parts[1] != app.Namespace && r.client.Get(ctx, client.ObjectKey{Namespace: app.Namespace, Name: parts[2]}, definition.NewObject(definition.Kind(parts[0]))) == nil {
			return false
		}
	}
	s.defEpoch.Store(epoch)
	for key, rv := range s.objects {
		parts := strings.SplitN(key, "|", 4)
		gvk := schema.FromAPIVersionAndKind(parts[0], parts[1])
		liveRV, ok := r.cachedResourceVersion(ctx, gvk, parts[2], parts[3])
		if !ok {
			var err error
			if liveRV, err = r.hub.ResourceVersion(ctx, gvk, parts[2], parts[3]); err != nil {
				return false
			}
		}
		if liveRV != rv {
			return false
		}
	}
	return true
}

// rememberSettled records a finished, quiet reconcile of an app delivered only to the hub;
// anything else forgets it.
func (r *ApplicationReconciler) rememberSettled(ctx context.Context, run *appRun, err error) {
	key := types.NamespacedName{Namespace: run.app.Namespace, Name: run.app.Name}
	ws := run.app.Status.Workflow
	if err != nil || run.requeue > 0 || run.plan == nil || ws == nil || !ws.Finished || ws.AppRevision != run.revName ||
		workflow.Phase(ws.Phase) == workflow.PhaseSuspending || !run.app.DeletionTimestamp.IsZero() || run.pinned != nil {
		r.settled.Delete(key)
		return
	}
	for _, p := range run.app.Spec.Policies {
		if p.Type == appfile.PolicyTopology {
			r.settled.Delete(key) // a cluster labelled later may be selected: always plan
			return
		}
	}
	s := &settledApp{appRV: run.app.ResourceVersion, defs: map[string]string{}, objects: map[string]string{}}
	// Taken before the definitions are read: an event while reading makes the next check
	// read them again.
	s.defEpoch.Store(r.defEpoch.Load())
	for _, d := range run.plan.Definitions {
		def, err := run.definition(ctx, definition.Kind(d.Kind), d.Name)
		if err != nil || def.Source().Key != d.Hash {
			// Changed since this reconcile rendered with it: the change's event has queued
			// the app again, and that reconcile must render.
			r.settled.Delete(key)
			return
		}
		ns, name, _ := strings.Cut(def.Filename, "/") // set by convert: namespace/name
		obj := definition.NewObject(definition.Kind(d.Kind))
		if err := r.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
			r.settled.Delete(key)
			return
		}
		// Read again after the resourceVersion: the version recorded is the one rendered.
		if again, err := run.definition(ctx, definition.Kind(d.Kind), d.Name); err != nil || again.Source().Key != d.Hash {
			r.settled.Delete(key)
			return
		}
		s.defs[fmt.Sprintf("%s/%s/%s", d.Kind, ns, name)] = obj.GetResourceVersion()
	}
	for _, u := range run.live {
		if u != nil {
			s.objects[objectKey(u)] = u.GetResourceVersion()
		}
	}
	for key := range run.absent {
		s.objects[key] = "" // its appearance (e.g. its ownership labels put back) is a change
	}
	r.settled.Store(key, s)
}

// cachedResourceVersion reads an object's resourceVersion straight from the informer of a kind
// this reconciler watches, without the copy a cache read makes: a settled fleet checks thousands
// of objects per minute. ok is false when there is no such informer; "" means the object is not
// there.
func (r *ApplicationReconciler) cachedResourceVersion(ctx context.Context, gvk schema.GroupVersionKind, namespace, name string) (rv string, ok bool) {
	if _, informed := r.informed.Load(gvk); !informed || r.cache == nil {
		return "", false
	}
	// The informer exists (see watch), so this only looks it up.
	inf, err := r.cache.GetInformerForKind(ctx, gvk, cache.BlockUntilSynced(false))
	if err != nil {
		return "", false
	}
	obj, exists, ok := inCache(inf, namespace, name)
	if !ok {
		return "", false
	}
	if !exists {
		return "", true
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return "", false
	}
	return m.GetResourceVersion(), true
}

func objectKey(u *unstructured.Unstructured) string {
	return strings.Join([]string{u.GetAPIVersion(), u.GetKind(), u.GetNamespace(), u.GetName()}, "|")
}

// settledInCache answers the check of a settled app from the Application in the cache, read
// in place: no copy of it (twice: the client's Get and the run's own) and no run are made.
// Most reconciles of a settled fleet are these resync checks, and the copies were most of
// their CPU and garbage. Anything else (not settled, paused, being deleted, a status of its
// own not seen yet) takes the full path.
func (r *ApplicationReconciler) settledInCache(ctx context.Context, key types.NamespacedName, start time.Time) (ctrl.Result, bool) {
	app, ok := r.cachedApplication(ctx, key)
	if !ok || app.Annotations[v1beta1.AnnotationPause] == "true" || !app.DeletionTimestamp.IsZero() ||
		r.cacheBehind(app) || !r.stillSettled(ctx, app) {
		return ctrl.Result{}, false
	}
	r.metrics.settled.Inc()
	if r.opts.Observe != nil {
		r.opts.Observe(Observation{App: key, Shard: app.Labels[shard.Label], Start: start, End: r.opts.Now()})
	}
	return r.resultFor(app, 0), true
}

// cachedApplication returns the cache's own Application object. It must not be changed.
func (r *ApplicationReconciler) cachedApplication(ctx context.Context, key types.NamespacedName) (*v1beta1.Application, bool) {
	if r.cache == nil {
		return nil, false
	}
	inf, err := r.cache.GetInformer(ctx, &v1beta1.Application{}, cache.BlockUntilSynced(false))
	if err != nil {
		return nil, false
	}
	obj, exists, ok := inCache(inf, key.Namespace, key.Name)
	if !ok || !exists {
		return nil, false
	}
	app, ok := obj.(*v1beta1.Application)
	return app, ok
}

// inCache looks an object up in an informer's store without copying it; ok is false when the
// store cannot be read.
func inCache(inf cache.Informer, namespace, name string) (obj any, exists, ok bool) {
	indexed, isIndexed := inf.(interface{ GetIndexer() toolscache.Indexer })
	if !isIndexed {
		return nil, false, false
	}
	key := name
	if namespace != "" {
		key = namespace + "/" + name
	}
	obj, exists, err := indexed.GetIndexer().GetByKey(key)
	return obj, exists, err == nil
}
