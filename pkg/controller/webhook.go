package controller

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/appfile"
	"github.com/ferryhq/ferry/pkg/identity"
)

// ValidatePath is where the API server sends Applications to validate.
const ValidatePath = "/validate-core-oam-dev-v1beta1-application"

// applicationValidator rejects an Application that does not render — unknown types, invalid
// parameters, broken references — before it is stored, with the messages `ferry dry-run`
// gives. Applications being deleted, and updates that only touch metadata, pass.
type applicationValidator struct {
	planner *appfile.Planner
	// identities, when set, make the plan's reads (ref-objects) act as the requester: an app
	// cannot be checked against objects its writer may not read.
	identities *identity.Clients
}

func (v *applicationValidator) ValidateCreate(ctx context.Context, obj runtime.Object) (admission.Warnings, error) {
	app, ok := obj.(*v1beta1.Application)
	if !ok {
		return nil, fmt.Errorf("expected an Application, got %T", obj)
	}
	return v.validate(ctx, app)
}

func (v *applicationValidator) ValidateUpdate(ctx context.Context, oldObj, newObj runtime.Object) (admission.Warnings, error) {
	app, ok := newObj.(*v1beta1.Application)
	if !ok {
		return nil, fmt.Errorf("expected an Application, got %T", newObj)
	}
	if !app.DeletionTimestamp.IsZero() {
		return nil, nil // removing a finalizer must always work
	}
	if old, ok := oldObj.(*v1beta1.Application); ok && old.Generation == app.Generation && old.Generation != 0 {
		return nil, nil // no spec change
	}
	return v.validate(ctx, app)
}

func (v *applicationValidator) ValidateDelete(context.Context, runtime.Object) (admission.Warnings, error) {
	return nil, nil
}

// validate plans the app exactly as the controller will (same planner, same sources), and
// returns the plan's warnings about fields Ferry ignores.
func (v *applicationValidator) validate(ctx context.Context, app *v1beta1.Application) (admission.Warnings, error) {
	app = app.DeepCopy()
	if app.Namespace == "" {
		app.Namespace = "default"
	}
	if req, err := admission.RequestFromContext(ctx); err == nil && v.identities != nil {
		c, err := v.identities.For(identity.Identity{User: req.UserInfo.Username, Groups: req.UserInfo.Groups})
		if err != nil {
			return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("application %q cannot be checked now: %v", app.Name, err))
		}
		ctx = identity.WithReader(ctx, c)
	}
	plan, err := v.planner.Plan(ctx, appfile.FromApplication(app), appfile.PlanOptions{AppRevision: RevisionName(app.Name, 0)})
	if err != nil {
		var problems appfile.ErrorList
		if !errors.As(err, &problems) {
			return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("application %q cannot be checked now: %v", app.Name, err))
		}
		return nil, apierrors.NewBadRequest(appfile.DescribeProblems(app.Name, err))
	}
	return plan.Warnings, nil
}

// setupWebhook serves the validating webhook on the manager's webhook server.
func setupWebhook(mgr ctrl.Manager, r *ApplicationReconciler) error {
	v := &applicationValidator{planner: r.admission}
	if r.opts.Impersonate {
		v.identities = r.identities
	}
	if err := ctrl.NewWebhookManagedBy(mgr).For(&v1beta1.Application{}).WithValidator(v).Complete(); err != nil {
		return err
	}
	mgr.GetWebhookServer().Register(IdentityPath, &admission.Webhook{Handler: &identityRecorder{
		decoder: admission.NewDecoder(mgr.GetScheme()), client: mgr.GetClient()}})
	mgr.GetWebhookServer().Register(ApprovalPath, &admission.Webhook{Handler: &approvalValidator{
		decoder: admission.NewDecoder(mgr.GetScheme()), recorder: mgr.GetEventRecorderFor("ferry")}})
	return nil
}
