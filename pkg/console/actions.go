package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/workflow/appworkflow"
)

// Action names, as the URLs carry them: the workflow commands of `ferry workflow`.
const actionRollback = "rollback"

// actionView is one action the app page offers, with what it will do.
type actionView struct {
	// Action is resume, suspend, terminate, restart or rollback; Step the step a resume
	// approves.
	Action, Step string
	// Label is the button's text; Description says what will happen, before it does.
	Label, Description string
	// Path is the POST target; Confirm the confirmation page (for a browser without script);
	// Dialog the id of the confirmation dialog.
	Path, Confirm, Dialog string
}

// rights are what an action needs of the identity: the verb, resource and subresource.
func rights(action string) (verb, resource, subresource string) {
	if action == actionRollback {
		return "update", "applications", ""
	}
	return "patch", "applications", "status"
}

// offered lists the actions an app's state allows, whoever asks.
func offered(app *v1beta1.Application, revs []v1beta1.ApplicationRevision) []actionView {
	key := app.Namespace + "/" + app.Name
	var out []actionView
	ws := app.Status.Workflow
	if ws != nil {
		for _, st := range ws.Steps {
			// A step group is approved through its suspended sub-steps, not by its own name.
			leaves := st.SubStepsStatus
			if len(leaves) == 0 {
				leaves = []v1beta1.StepStatus{st.StepStatus}
			}
			for _, sub := range leaves {
				if suspended(sub) {
					out = append(out, actionView{Action: string(appworkflow.CommandResume), Step: sub.Name, Label: "Approve " + sub.Name,
						Description: fmt.Sprintf("Approve step %s of %s: the workflow of revision %s continues past it.", sub.Name, key, orDash(ws.AppRevision))})
				}
			}
		}
		if ws.ManualSuspend || (ws.Suspend && len(out) == 0) {
			out = append(out, actionView{Action: string(appworkflow.CommandResume), Label: "Resume",
				Description: fmt.Sprintf("Resume the workflow of %s where it was suspended.", key)})
		}
		if !ws.Finished && !ws.Terminated && !ws.Suspend {
			out = append(out, actionView{Action: string(appworkflow.CommandSuspend), Label: "Suspend",
				Description: fmt.Sprintf("Suspend the workflow of %s: no further step starts until it is resumed. What is deployed stays.", key)})
		}
		if !ws.Finished && !ws.Terminated {
			out = append(out, actionView{Action: string(appworkflow.CommandTerminate), Label: "Terminate",
				Description: fmt.Sprintf("Terminate the workflow of %s: it stops at its current step until restarted. What is deployed stays.", key)})
		}
		out = append(out, actionView{Action: string(appworkflow.CommandRestart), Label: "Restart",
			Description: fmt.Sprintf("Restart the workflow of %s from its first step, with revision %s.", key, orDash(ws.AppRevision))})
	}
	if prev := previous(app, revs); prev != nil {
		out = append(out, actionView{Action: actionRollback, Label: "Roll back to " + prev.Name,
			Description: fmt.Sprintf("Roll %s back to revision %s: its spec becomes that revision's, and its workflow runs as a new revision.", key, prev.Name)})
	}
	base := "/apps/" + app.Namespace + "/" + app.Name
	for i := range out {
		a := &out[i]
		q := ""
		if a.Step != "" {
			q = "?step=" + url.QueryEscape(a.Step)
		}
		a.Path = base + "/actions/" + a.Action + q
		a.Confirm = base + "/confirm/" + a.Action + q
		a.Dialog = fmt.Sprintf("confirm-%d", i)
	}
	return out
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// previous is the revision a rollback goes back to (appworkflow.PreviousRevision's rule).
func previous(app *v1beta1.Application, revs []v1beta1.ApplicationRevision) *v1beta1.ApplicationRevision {
	latest := app.Status.LatestRevision
	if latest == nil {
		return nil
	}
	for i := range revs { // newest first
		if revs[i].Spec.Revision < latest.Revision && revs[i].Spec.RevisionHash != latest.RevisionHash {
			return &revs[i]
		}
	}
	return nil
}

// actions are the offered actions the identity may take; when it may take none of them, why.
func (s *Server) actions(ctx context.Context, app *v1beta1.Application, revs []v1beta1.ApplicationRevision) ([]actionView, string) {
	all := offered(app, revs)
	var out []actionView
	var refused string
	for _, a := range all {
		verb, resource, sub := rights(a.Action)
		if s.allowed(ctx, verb, v1beta1.GroupVersion.Group, resource, sub, app.Namespace) {
			out = append(out, a)
		} else if refused == "" {
			refused = refusal(verb, resource, sub, app.Namespace)
		}
	}
	if len(out) > 0 {
		refused = ""
	}
	return out, refused
}

func refusal(verb, resource, sub, namespace string) string {
	if sub != "" {
		resource += "/" + sub
	}
	return fmt.Sprintf("you may not %s %s in namespace %s: the console acts with your own identity", verb, resource, namespace)
}

// find returns the offered action a request names, or why it is not offered.
func (s *Server) find(ctx context.Context, key client.ObjectKey, action, step string) (*actionView, error) {
	app := &v1beta1.Application{}
	if err := s.cl(ctx).Get(ctx, key, app); err != nil {
		return nil, fmt.Errorf("get application %s: %w", key, err)
	}
	revs, err := appworkflow.Revisions(ctx, s.cl(ctx), key)
	if err != nil {
		return nil, err
	}
	for _, a := range offered(app, revs) {
		if a.Action == action && a.Step == step {
			return &a, nil
		}
	}
	what := action
	if step != "" {
		what += " step " + step
	}
	return nil, &requestError{status: http.StatusConflict, err: fmt.Errorf("%s is not possible on %s now (phase %s): reload the page", what, key, orDash(string(app.Status.Phase)))}
}

// resultView is what an action's answer page shows.
type resultView struct {
	OK       bool
	Message  string
	Back     string
	BackName string
}

func (s *Server) confirmPage(w http.ResponseWriter, r *http.Request) {
	key := s.appKey(r)
	a, err := s.find(r.Context(), key, r.PathValue("action"), r.URL.Query().Get("step"))
	if err != nil {
		s.fail(w, r, statusOf(err), err)
		return
	}
	s.render(w, r, "confirm", page{Title: a.Label, Nav: "apps", Body: struct {
		Action    *actionView
		Namespace string
		Name      string
	}{a, key.Namespace, key.Name}})
}

// action performs a workflow action with the console's identity, as `ferry workflow` does.
func (s *Server) action(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	key := s.appKey(r)
	action, step := r.PathValue("action"), r.URL.Query().Get("step")
	a, err := s.find(ctx, key, action, step)
	if err != nil {
		s.fail(w, r, statusOf(err), err)
		return
	}
	verb, resource, sub := rights(action)
	if !s.allowed(ctx, verb, v1beta1.GroupVersion.Group, resource, sub, key.Namespace) {
		s.fail(w, r, http.StatusForbidden, errors.New(refusal(verb, resource, sub, key.Namespace)))
		return
	}
	var msg string
	if action == actionRollback {
		var rev string
		rev, err = appworkflow.Rollback(ctx, s.cl(ctx), key)
		msg = fmt.Sprintf("application %s: spec set back to revision %s; its workflow runs as a new revision", key, rev)
	} else {
		// A resume records who approves; the admission webhook checks that it is the requester.
		by, _ := s.id(ctx).whoAmI(ctx)
		err = appworkflow.Control(ctx, s.cl(ctx), key, appworkflow.Command(action), step, by, s.o.Now())
		what := "workflow"
		if step != "" {
			what = "step " + step
		}
		msg = fmt.Sprintf("application %s: %s %s", key, what, appworkflow.Command(action).PastTense())
		if action == string(appworkflow.CommandResume) && by != "" {
			msg += " by " + by
		}
	}
	if err != nil {
		s.fail(w, r, statusOf(err), fmt.Errorf("%s: %w", a.Label, err))
		return
	}
	if s.o.Log != nil {
		fmt.Fprintf(s.o.Log, "console: %s\n", msg)
	}
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "message": msg})
		return
	}
	s.render(w, r, "result", page{Title: a.Label, Nav: "apps", Body: resultView{OK: true, Message: msg,
		Back: "/apps/" + key.Namespace + "/" + key.Name, BackName: key.String()}})
}
