package controller

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/appfile"
	"github.com/ferryhq/ferry/pkg/cue"
)

// ValidatePath is where the API server sends Applications to validate.
const ValidatePath = "/validate-core-oam-dev-v1beta1-application"

// applicationValidator rejects an Application that does not render — unknown types, invalid
// parameters, broken references — before it is stored, with the messages `ferry dry-run`
// gives. Applications being deleted, and updates that only touch metadata, pass.
type applicationValidator struct {
	defs   *DefinitionSource
	engine *cue.Engine
}

func (v *applicationValidator) ValidateCreate(ctx context.Context, obj runtime.Object) (admission.Warnings, error) {
	app, ok := obj.(*v1beta1.Application)
	if !ok {
		return nil, fmt.Errorf("expected an Application, got %T", obj)
	}
	return nil, v.validate(ctx, app)
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
	return nil, v.validate(ctx, app)
}

func (v *applicationValidator) ValidateDelete(context.Context, runtime.Object) (admission.Warnings, error) {
	return nil, nil
}

func (v *applicationValidator) validate(ctx context.Context, app *v1beta1.Application) error {
	app = app.DeepCopy()
	if app.Namespace == "" {
		app.Namespace = "default"
	}
	planner := appfile.NewPlanner(appfile.Options{Definitions: v.defs.ForNamespace(ctx, app.Namespace), Engine: v.engine,
		AppRevision: RevisionName(app.Name, 0)})
	if _, err := planner.Plan(appfile.FromApplication(app)); err != nil {
		return apierrors.NewBadRequest(fmt.Sprintf("application %q does not render: %v", app.Name, err))
	}
	return nil
}

// setupWebhook serves the validating webhook on the manager's webhook server.
func setupWebhook(mgr ctrl.Manager, r *ApplicationReconciler) error {
	return ctrl.NewWebhookManagedBy(mgr).For(&v1beta1.Application{}).
		WithValidator(&applicationValidator{defs: r.defs, engine: r.opts.Engine}).Complete()
}
