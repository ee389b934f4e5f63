package controller

import (
	"context"
	"errors"
	"strings"
)

// applyPolicyObjects applies the objects custom policies render to the hub before the workflow
// runs, as KubeVela does, through the same conversion and apply as a step's. They are recorded
// with the revision like everything the Application applies, so a revision without them
// collects them. Applying what is already there costs no write.
func (r *ApplicationReconciler) applyPolicyObjects(ctx context.Context, run *appRun) error {
	if run.plan == nil {
		return nil
	}
	sp, ok := run.plan.PolicyStep()
	if !ok {
		return nil
	}
	conflicts, err := r.applyStep(ctx, run, sp, defaultParallelism, nil)
	if len(conflicts) > 0 {
		return errors.New(strings.Join(conflicts, "; "))
	}
	return err
}
