package controller

import (
	"context"
	"fmt"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/identity"
)

// ReasonNoIdentity (Rendered=False): impersonation is on and the app has no recorded
// identity to act as.
const ReasonNoIdentity = "NoIdentity"

// actAs sets what the run acts on the hub with: with Options.Impersonate, a Hub and a reader
// that impersonate the app's identity, and a context whose plan reads (ref-objects) do too;
// else the controller's own. An app without an identity keeps the controller's for its
// deletion only (it can only collect what its trackers say it created): checkIdentity stops
// everything else.
func (r *ApplicationReconciler) actAs(ctx context.Context, run *appRun) (context.Context, error) {
	run.hub, run.reader = r.hub, r.apiReader
	if !r.opts.Impersonate {
		return ctx, nil
	}
	id := identity.Of(run.app)
	if id.IsZero() {
		return ctx, nil
	}
	c, err := r.identities.For(id)
	if err != nil {
		return ctx, err
	}
	run.identity = id
	run.hub, run.reader = r.hub.As(c), c
	return identity.WithReader(ctx, c), nil
}

// checkIdentity stops an app that has no identity to act as while impersonation is on.
func (r *ApplicationReconciler) checkIdentity(_ context.Context, run *appRun) error {
	if !r.opts.Impersonate || !run.identity.IsZero() {
		return nil
	}
	run.condition(v1beta1.ConditionRendered, false, ReasonNoIdentity, fmt.Sprintf(
		"no identity to act as: Ferry acts on the hub as the Application's writer, which its admission webhook records in %s and %s, or as the ServiceAccount named in %s; neither is set (the app was written while the webhook was not installed). Write the app again with the webhook installed, or name a ServiceAccount of namespace %s",
		v1beta1.AnnotationUsername, v1beta1.AnnotationGroup, v1beta1.AnnotationServiceAccountName, run.app.Namespace))
	return errStop
}
