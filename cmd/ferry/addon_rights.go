package main

import (
	"context"
	"fmt"
	"sort"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/pkg/appfile"
	"github.com/ferryhq/ferry/pkg/install"
)

// controllerAccount is the ServiceAccount `ferry install` runs the controller as.
const controllerAccount = "ferry-controller"

// controllerRights asks the hub whether the addon's Application may apply what a plan puts on
// the hub, so `ferry addon enable` can say before it applies that an addon will fail. The app
// acts as its writer — the caller — unless Ferry is installed single-tenant (the ClusterRole
// binding install.SingleTenantRole exists), when it acts as the controller's ServiceAccount.
type controllerRights struct {
	client client.Client
	mapper meta.RESTMapper
}

// missing lists, as warnings, the kinds a plan delivers to the hub that the controller's
// ServiceAccount may not patch. Nothing is reported when the account does not exist (the
// controller runs with other credentials) or the caller may not ask.
func (r controllerRights) missing(ctx context.Context, plan *appfile.Plan) []string {
	if r.client == nil {
		return nil
	}
	sa := &corev1.ServiceAccount{}
	if err := r.client.Get(ctx, client.ObjectKey{Namespace: install.DefaultNamespace, Name: controllerAccount}, sa); err != nil {
		return nil
	}
	single := r.client.Get(ctx, client.ObjectKey{Name: install.SingleTenantRole}, &rbacv1.ClusterRoleBinding{}) == nil
	type access struct{ group, resource, namespace string }
	asked := map[access]bool{}
	var out []string
	for _, sp := range plan.Steps {
		for _, t := range sp.Targets {
			if t.Cluster != appfile.LocalCluster {
				continue // the work agent applies on managed clusters
			}
			for _, m := range t.Manifests {
				gv, err := schema.ParseGroupVersion(fmt.Sprint(m.Object["apiVersion"]))
				if err != nil {
					continue
				}
				mapping, err := r.mapper.RESTMapping(schema.GroupKind{Group: gv.Group, Kind: fmt.Sprint(m.Object["kind"])}, gv.Version)
				if err != nil {
					continue // a kind the hub does not serve yet (its CRD comes with the addon)
				}
				ns := ""
				if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
					ns = t.Namespace
				}
				a := access{mapping.Resource.Group, mapping.Resource.Resource, ns}
				if asked[a] {
					continue
				}
				asked[a] = true
				attrs := &authorizationv1.ResourceAttributes{Verb: "patch", Group: a.group, Resource: a.resource, Namespace: a.namespace}
				allowed, err := r.allowed(ctx, single, attrs)
				if err != nil {
					return out // the caller may not ask: say nothing rather than guess
				}
				if !allowed {
					where := "cluster scope"
					if ns != "" {
						where = "namespace " + ns
					}
					res := a.resource
					if a.group != "" {
						res += "." + a.group
					}
					if single {
						out = append(out, fmt.Sprintf("the controller (ServiceAccount %s/%s) may not apply %s (%s) on the hub: the addon will fail until its ClusterRole grants it (see config/controller/rbac.yaml)",
							install.DefaultNamespace, controllerAccount, res, where))
					} else {
						out = append(out, fmt.Sprintf("you may not apply %s (%s) on the hub, and the addon's Application acts as you: it will fail until your RBAC grants it (or enable it as someone it grants)",
							res, where))
					}
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// allowed asks whether the controller's ServiceAccount (single) or the caller may do attrs.
func (r controllerRights) allowed(ctx context.Context, single bool, attrs *authorizationv1.ResourceAttributes) (bool, error) {
	if !single {
		ssar := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: attrs}}
		if err := r.client.Create(ctx, ssar); err != nil {
			return false, err
		}
		return ssar.Status.Allowed, nil
	}
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:               "system:serviceaccount:" + install.DefaultNamespace + ":" + controllerAccount,
		Groups:             []string{"system:serviceaccounts", "system:serviceaccounts:" + install.DefaultNamespace, "system:authenticated"},
		ResourceAttributes: attrs,
	}}
	if err := r.client.Create(ctx, sar); err != nil {
		return false, err
	}
	return sar.Status.Allowed, nil
}
