package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/ferryhq/ferry/api/v1beta1"
)

// ApprovalPath is where the API server sends status writes that may resume steps.
const ApprovalPath = "/validate-core-oam-dev-v1beta1-application-approval"

// approvalValidator checks resumes of suspended steps at admission: a step newly resumed must
// name the requester as its resumedBy (or nobody, for a step without approvers), and a step
// whose approvers are set may be resumed only by one of them. An allowed approval is recorded
// in an event. Status writes of the controller itself never reach it (matchConditions).
type approvalValidator struct {
	decoder  admission.Decoder
	recorder record.EventRecorder
}

// approvers are a suspend step's `approvers` property.
type approvers struct {
	Groups []string `json:"groups,omitempty"`
	Users  []string `json:"users,omitempty"`
}

func (a approvers) set() bool { return len(a.Groups) > 0 || len(a.Users) > 0 }

func (a approvers) allow(user string, groups []string) bool {
	if slices.Contains(a.Users, user) {
		return true
	}
	for _, g := range groups {
		if slices.Contains(a.Groups, g) {
			return true
		}
	}
	return false
}

func (a approvers) String() string {
	var parts []string
	if len(a.Groups) > 0 {
		parts = append(parts, "members of "+strings.Join(a.Groups, ", "))
	}
	if len(a.Users) > 0 {
		parts = append(parts, strings.Join(a.Users, ", "))
	}
	return strings.Join(parts, " or ")
}

// resumed is a step a status write resumes.
type resumed struct {
	name string
	by   string
}

func (v *approvalValidator) Handle(ctx context.Context, req admission.Request) admission.Response {
	app, old := &v1beta1.Application{}, &v1beta1.Application{}
	if err := v.decoder.DecodeRaw(req.Object, app); err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	if err := v.decoder.DecodeRaw(req.OldObject, old); err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	steps := newlyResumed(old, app)
	if len(steps) == 0 {
		return admission.Allowed("")
	}
	rules := stepApprovers(app)
	user, groups := req.UserInfo.Username, req.UserInfo.Groups
	for _, s := range steps {
		if s.by != "" && s.by != user {
			return admission.Denied(fmt.Sprintf("step %s: resumedBy says %q, but %q is resuming it: a resume records its requester", s.name, s.by, user))
		}
		if a := rules[s.name]; a.set() {
			if s.by == "" {
				return admission.Denied(fmt.Sprintf("step %s needs an approval by %s: resume it with ferry workflow resume or the console, which record who approves", s.name, a))
			}
			if !a.allow(user, groups) {
				return admission.Denied(fmt.Sprintf("step %s may be approved only by %s; %q is not one of them", s.name, a, user))
			}
		}
	}
	if req.DryRun == nil || !*req.DryRun {
		for _, s := range steps {
			who := s.by
			if who == "" {
				who = user
			}
			v.recorder.Eventf(app, "Normal", v1beta1.ReasonApproved, "step %s resumed by %s", s.name, who)
		}
	}
	return admission.Allowed("")
}

// newlyResumed lists the steps (sub-steps included) whose resumedTime the write sets or changes.
func newlyResumed(old, app *v1beta1.Application) []resumed {
	if app.Status.Workflow == nil {
		return nil
	}
	before := map[string]string{}
	wasSuspending := map[string]bool{}
	if old.Status.Workflow != nil {
		for _, s := range old.Status.Workflow.Steps {
			before[s.Name], wasSuspending[s.Name] = stamp(s.StepStatus), s.Phase == "suspending" && len(s.SubStepsStatus) == 0
			for _, sub := range s.SubStepsStatus {
				key := s.Name + "/" + sub.Name
				before[key], wasSuspending[key] = stamp(sub), sub.Phase == "suspending"
			}
		}
	}
	var out []resumed
	check := func(key string, s v1beta1.StepStatus) {
		switch {
		case s.ResumedTime != nil && stamp(s) != before[key]:
			out = append(out, resumed{name: s.Name, by: s.ResumedBy})
		case wasSuspending[key] && (s.Phase == "succeeded" || s.Phase == "running"):
			// Moved on without a resume of its own: written by hand, it is a resume all the same.
			out = append(out, resumed{name: s.Name, by: s.ResumedBy})
		}
	}
	for _, s := range app.Status.Workflow.Steps {
		check(s.Name, s.StepStatus)
		for _, sub := range s.SubStepsStatus {
			check(s.Name+"/"+sub.Name, sub)
		}
	}
	return out
}

func stamp(s v1beta1.StepStatus) string {
	if s.ResumedTime == nil {
		return ""
	}
	return s.ResumedTime.UTC().Format("2006-01-02T15:04:05.000000000Z") + "|" + s.ResumedBy
}

// stepApprovers are the approvers of each suspend step of the spec, by step name.
func stepApprovers(app *v1beta1.Application) map[string]approvers {
	out := map[string]approvers{}
	if app.Spec.Workflow == nil {
		return out
	}
	add := func(s v1beta1.WorkflowStepBase) {
		if s.Properties == nil || len(s.Properties.Raw) == 0 {
			return
		}
		var props struct {
			Approvers approvers `json:"approvers"`
		}
		if json.Unmarshal(s.Properties.Raw, &props) == nil && props.Approvers.set() {
			out[s.Name] = props.Approvers
		}
	}
	for _, s := range app.Spec.Workflow.Steps {
		add(s.WorkflowStepBase)
		for _, sub := range s.SubSteps {
			add(sub)
		}
	}
	return out
}
