package controller

import (
	"context"
	"sync"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// access remembers whether the controller may list and watch a kind, asked once per kind with
// a SelfSubjectAccessReview. Only such kinds are cached and watched: a cache of a kind the
// controller may not list never syncs, and every read of it would hold a worker forever.
type access struct {
	client client.Client
	known  sync.Map // schema.GroupVersionKind → bool
}

// canWatch reports whether the controller may list and watch gvk in every namespace. An error
// asking counts as no: the kind is then read from the API server, which is always safe.
func (a *access) canWatch(ctx context.Context, gvk schema.GroupVersionKind) bool {
	if v, ok := a.known.Load(gvk); ok {
		return v.(bool)
	}
	mapping, err := a.client.RESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return false // not remembered: the kind may be served later
	}
	allowed := true
	for _, verb := range []string{"list", "watch"} {
		review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
			ResourceAttributes: &authorizationv1.ResourceAttributes{Group: gvk.Group, Version: gvk.Version,
				Resource: mapping.Resource.Resource, Verb: verb}}}
		if err := a.client.Create(ctx, review); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "ask whether the controller may watch a kind; reading it from the API server", "kind", gvk.String())
			return false
		}
		if !review.Status.Allowed {
			allowed = false
			break
		}
	}
	if !allowed {
		ctrl.LoggerFrom(ctx).Info("the controller may not list and watch this kind: it is read from the API server and not watched; grant list and watch in its RBAC", "kind", gvk.String())
	}
	a.known.Store(gvk, allowed)
	return allowed
}
