package appworkflow

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/workflow"
)

// Command is an operator's command on a running workflow.
type Command string

// Workflow commands, as `ferry workflow` names them.
const (
	CommandSuspend   Command = "suspend"
	CommandResume    Command = "resume"
	CommandTerminate Command = "terminate"
	CommandRestart   Command = "restart"
)

// WhoAmI is the user name the API server knows the client's identity by (SelfSubjectReview),
// which a resume records. An API server that does not answer gives "" and the error.
func WhoAmI(ctx context.Context, c client.Client) (string, error) {
	review := &authenticationv1.SelfSubjectReview{}
	if err := c.Create(ctx, review); err != nil {
		return "", fmt.Errorf("ask the API server who this is: %w", err)
	}
	return review.Status.UserInfo.Username, nil
}

// PastTense is what a command did, for messages: "resumed", "suspended"...
func (c Command) PastTense() string {
	switch c {
	case CommandSuspend:
		return "suspended"
	case CommandResume:
		return "resumed"
	case CommandTerminate:
		return "terminated"
	case CommandRestart:
		return "restarted"
	}
	return string(c)
}

// Control applies a command to an Application's workflow state in its status; the
// controller picks the change up. Resume takes an optional step name, and records by (the
// requester, see WhoAmI) in each step it resumes; others ignore both. A concurrent status
// change is retried on the fresh state, never overwritten.
func Control(ctx context.Context, c client.Client, key client.ObjectKey, cmd Command, step, by string, now time.Time) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		app := &v1beta1.Application{}
		if err := c.Get(ctx, key, app); err != nil {
			return err
		}
		ws := app.Status.Workflow
		if ws == nil {
			return fmt.Errorf("application %s has not started its workflow yet", key)
		}
		st := State(ws)
		switch cmd {
		case CommandSuspend:
			if st.Finished() {
				return fmt.Errorf("the workflow has finished (%s): there is nothing to suspend", st.Phase)
			}
			st = workflow.Suspend(st)
		case CommandResume:
			if st.Phase != workflow.PhaseSuspending && !st.Suspended {
				return fmt.Errorf("the workflow is %s, not suspended: there is nothing to resume", st.Phase)
			}
			var err error
			if st, err = workflow.Resume(st, step, by, now); err != nil {
				return err
			}
		case CommandTerminate:
			if st.Finished() {
				return fmt.Errorf("the workflow has finished (%s): there is nothing to terminate", st.Phase)
			}
			st = workflow.Terminate(st, now)
		case CommandRestart:
			spec, err := workflow.FromApplication(app)
			if err != nil {
				return err
			}
			st = workflow.Restart(spec, st, now)
		default:
			return fmt.Errorf("unknown workflow command %q", cmd)
		}
		orig := app.DeepCopy()
		app.Status.Workflow = Status(st, ws.AppRevision, workflow.Mode(ws.Mode))
		return c.Status().Patch(ctx, app, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{}))
	})
}

// Rollback sets an Application's spec back to the revision before its latest one that is
// still kept (PreviousRevision), and returns that revision's name. The rollback is a new
// revision; its workflow runs as for any change.
func Rollback(ctx context.Context, c client.Client, key client.ObjectKey) (string, error) {
	prev, err := PreviousRevision(ctx, c, key)
	if err != nil {
		return "", err
	}
	app := &v1beta1.Application{}
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := c.Get(ctx, key, app); err != nil {
			return err
		}
		app.Spec = *prev.Spec.Application.DeepCopy()
		if app.Annotations == nil {
			app.Annotations = map[string]string{}
		}
		if prev.Spec.PublishVersion != "" {
			app.Annotations[v1beta1.AnnotationPublishVersion] = prev.Spec.PublishVersion
		}
		// Deliver what that revision rendered, not a new render with today's definitions.
		app.Annotations[v1beta1.AnnotationRollbackTo] = prev.Name
		return c.Update(ctx, app)
	})
	return prev.Name, err
}

// PreviousRevision is the revision a rollback returns to: the newest kept revision older
// than the latest whose content differs from it.
func PreviousRevision(ctx context.Context, c client.Client, key client.ObjectKey) (*v1beta1.ApplicationRevision, error) {
	app := &v1beta1.Application{}
	if err := c.Get(ctx, key, app); err != nil {
		return nil, err
	}
	if app.Status.LatestRevision == nil {
		return nil, errors.New("the application has no revision yet")
	}
	revs, err := Revisions(ctx, c, key)
	if err != nil {
		return nil, err
	}
	var prev *v1beta1.ApplicationRevision
	for i := range revs {
		r := &revs[i]
		if r.Spec.Revision < app.Status.LatestRevision.Revision && r.Spec.RevisionHash != app.Status.LatestRevision.RevisionHash &&
			(prev == nil || r.Spec.Revision > prev.Spec.Revision) {
			prev = r
		}
	}
	if prev == nil {
		return nil, fmt.Errorf("no earlier revision of %s is kept (the history limit is set by the controller and the garbage-collect policy)", key)
	}
	return prev, nil
}

// Revisions are an Application's kept ApplicationRevisions, newest first.
func Revisions(ctx context.Context, c client.Client, key client.ObjectKey) ([]v1beta1.ApplicationRevision, error) {
	var revs v1beta1.ApplicationRevisionList
	if err := c.List(ctx, &revs, client.InNamespace(key.Namespace),
		client.MatchingLabels{v1beta1.LabelAppName: key.Name, v1beta1.LabelAppNamespace: key.Namespace}); err != nil {
		return nil, err
	}
	sort.Slice(revs.Items, func(i, j int) bool { return revs.Items[i].Spec.Revision > revs.Items[j].Spec.Revision })
	return revs.Items, nil
}
