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
)

// ValidatePath is where the API server sends Applications to validate.
const ValidatePath = "/validate-core-oam-dev-v1beta1-application"

// applicationValidator rejects an Application that does not render — unknown types, invalid
// parameters, broken references — before it is stored, with the messages `ferry dry-run`
// gives. Applications being deleted, and updates that only touch metadata, pass.
type applicationValidator struct {
	planner *appfile.Planner
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
	if err := ctrl.NewWebhookManagedBy(mgr).For(&v1beta1.Application{}).
		WithValidator(&applicationValidator{planner: r.admission}).Complete(); err != nil {
		return err
	}
	mgr.GetWebhookServer().Register(ApprovalPath, &admission.Webhook{Handler: &approvalValidator{
		decoder: admission.NewDecoder(mgr.GetScheme()), recorder: mgr.GetEventRecorderFor("ferry")}})
	return nil
}
