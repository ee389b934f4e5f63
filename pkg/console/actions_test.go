package console

import (
	"testing"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferryhq/ferry/api/v1beta1"
)

func TestOfferedActionsFollowTheWorkflowState(t *testing.T) {
	rev := func(name string, n int64, hash string) v1beta1.ApplicationRevision {
		return v1beta1.ApplicationRevision{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1beta1.ApplicationRevisionSpec{Revision: n, RevisionHash: hash}}
	}
	tests := []struct {
		name     string
		workflow *v1beta1.WorkflowStatus
		latest   *v1beta1.Revision
		revs     []v1beta1.ApplicationRevision
		want     []string
	}{
		{name: "not started", want: nil},
		{
			name: "waiting for an approval inside a step group",
			workflow: &v1beta1.WorkflowStatus{AppRevision: "app-v2", Phase: "suspending", Suspend: true, Steps: []v1beta1.WorkflowStepStatus{
				stepStatus("staging", "succeeded"),
				stepStatus("gates", "suspending", v1beta1.StepStatus{Name: "qa", Phase: "suspending"}, v1beta1.StepStatus{Name: "sec", Phase: "succeeded"})}},
			latest: &v1beta1.Revision{Name: "app-v2", Revision: 2, RevisionHash: "b"},
			revs:   []v1beta1.ApplicationRevision{rev("app-v2", 2, "b"), rev("app-v1", 1, "a")},
			want: []string{"resume qa: Approve qa", "terminate: Terminate", "restart: Restart",
				"rollback: Roll back to app-v1"},
		},
		{
			name:     "suspended by hand",
			workflow: &v1beta1.WorkflowStatus{Phase: "suspending", Suspend: true, ManualSuspend: true, Steps: []v1beta1.WorkflowStepStatus{stepStatus("deploy", "running")}},
			want:     []string{"resume: Resume", "terminate: Terminate", "restart: Restart"},
		},
		{
			name:     "running",
			workflow: &v1beta1.WorkflowStatus{Phase: "executing", Steps: []v1beta1.WorkflowStepStatus{stepStatus("deploy", "running")}},
			want:     []string{"suspend: Suspend", "terminate: Terminate", "restart: Restart"},
		},
		{
			name:     "finished; the only older revision has the same content: nothing to roll back to",
			workflow: &v1beta1.WorkflowStatus{Phase: "succeeded", Finished: true},
			latest:   &v1beta1.Revision{Name: "app-v3", Revision: 3, RevisionHash: "a"},
			revs:     []v1beta1.ApplicationRevision{rev("app-v3", 3, "a"), rev("app-v2", 2, "a")},
			want:     []string{"restart: Restart"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := &v1beta1.Application{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "app"}}
			app.Status.Workflow, app.Status.LatestRevision = tt.workflow, tt.latest
			var got []string
			for _, a := range offered(app, tt.revs) {
				key := a.Action
				if a.Step != "" {
					key += " " + a.Step
				}
				got = append(got, key+": "+a.Label)
				require.NotEmpty(t, a.Description)
				require.Contains(t, a.Path, "/apps/ns/app/actions/"+a.Action)
			}
			require.Equal(t, tt.want, got)
		})
	}
}
