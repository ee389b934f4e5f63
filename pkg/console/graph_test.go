package console

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry/api/v1beta1"
)

func step(name, typ string, deps ...string) v1beta1.WorkflowStep {
	return v1beta1.WorkflowStep{WorkflowStepBase: v1beta1.WorkflowStepBase{Name: name, Type: typ, DependsOn: deps}}
}

func stepStatus(name, phase string, subs ...v1beta1.StepStatus) v1beta1.WorkflowStepStatus {
	return v1beta1.WorkflowStepStatus{StepStatus: v1beta1.StepStatus{Name: name, Phase: phase}, SubStepsStatus: subs}
}

// column is a node's column in the layout.
func column(n graphNode) int { return (n.X - pad) / (nodeW + colGap) }

func TestBuildGraph(t *testing.T) {
	group := step("canary", "step-group")
	group.SubSteps = []v1beta1.WorkflowStepBase{{Name: "eu", Type: "deploy"}, {Name: "us", Type: "deploy"}}
	tests := []struct {
		name     string
		spec     *v1beta1.Workflow
		status   []v1beta1.WorkflowStepStatus
		columns  map[string]int
		phases   map[string]string
		edges    [][2]string
		subs     map[string][]string
		wantNone bool
	}{
		{
			name:    "step by step: each step waits for the one before",
			spec:    &v1beta1.Workflow{Steps: []v1beta1.WorkflowStep{step("staging", "deploy"), step("approve", "suspend"), step("prod", "deploy")}},
			status:  []v1beta1.WorkflowStepStatus{stepStatus("staging", "succeeded"), stepStatus("approve", "suspending")},
			columns: map[string]int{"staging": 0, "approve": 1, "prod": 2},
			phases:  map[string]string{"staging": "succeeded", "approve": "suspending", "prod": "pending"},
			edges:   [][2]string{{"staging", "approve"}, {"approve", "prod"}},
		},
		{
			name: "DAG: only dependsOn orders steps",
			spec: &v1beta1.Workflow{Mode: &v1beta1.WorkflowExecuteMode{Steps: v1beta1.WorkflowModeDAG},
				Steps: []v1beta1.WorkflowStep{step("db", "deploy"), step("cache", "deploy"), step("api", "deploy", "db", "cache"), step("notify", "notification", "api")}},
			columns: map[string]int{"db": 0, "cache": 0, "api": 1, "notify": 2},
			edges:   [][2]string{{"db", "api"}, {"cache", "api"}, {"api", "notify"}},
		},
		{
			name:    "step by step with dependsOn: the dependency replaces the step before",
			spec:    &v1beta1.Workflow{Steps: []v1beta1.WorkflowStep{step("a", "deploy"), step("b", "deploy"), step("c", "deploy", "a")}},
			columns: map[string]int{"a": 0, "b": 1, "c": 1},
			edges:   [][2]string{{"a", "b"}, {"a", "c"}},
		},
		{
			name:    "a step group lists its sub-steps with their phases",
			spec:    &v1beta1.Workflow{Steps: []v1beta1.WorkflowStep{group, step("prod", "deploy")}},
			status:  []v1beta1.WorkflowStepStatus{stepStatus("canary", "running", v1beta1.StepStatus{Name: "eu", Phase: "succeeded"}, v1beta1.StepStatus{Name: "us", Phase: "running"})},
			columns: map[string]int{"canary": 0, "prod": 1},
			subs:    map[string][]string{"canary": {"eu=succeeded", "us=running"}},
			edges:   [][2]string{{"canary", "prod"}},
		},
		{
			name:    "no workflow in the spec: the steps the controller generated, from the status",
			status:  []v1beta1.WorkflowStepStatus{stepStatus("deploy", "succeeded")},
			columns: map[string]int{"deploy": 0},
			phases:  map[string]string{"deploy": "succeeded"},
		},
		{
			name: "a dependency cycle (refused at admission) is cut, not followed forever",
			spec: &v1beta1.Workflow{Mode: &v1beta1.WorkflowExecuteMode{Steps: v1beta1.WorkflowModeDAG},
				Steps: []v1beta1.WorkflowStep{step("a", "deploy", "b"), step("b", "deploy", "a")}},
			columns: map[string]int{"a": 2, "b": 1},
			edges:   [][2]string{{"b", "a"}, {"a", "b"}},
		},
		{name: "nothing to draw", wantNone: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := &v1beta1.Application{Spec: v1beta1.ApplicationSpec{Workflow: tt.spec}}
			if tt.status != nil {
				app.Status.Workflow = &v1beta1.WorkflowStatus{Steps: tt.status}
			}
			g := buildGraph(app)
			if tt.wantNone {
				require.Nil(t, g)
				return
			}
			require.NotNil(t, g)
			byName := map[string]graphNode{}
			columns := map[string]int{}
			for _, n := range g.Nodes {
				byName[n.Name] = n
				columns[n.Name] = column(n)
				require.LessOrEqual(t, n.X+n.W, g.Width, n.Name)
				require.LessOrEqual(t, n.Y+n.H, g.Height, n.Name)
			}
			require.Equal(t, tt.columns, columns)
			for name, p := range tt.phases {
				require.Equal(t, p, byName[name].Phase, name)
			}
			var edges [][2]string
			for _, e := range g.Edges {
				var from, to string
				for _, n := range g.Nodes {
					if e.X1 == n.X+n.W && e.Y1 == n.Y+nodeH/2 {
						from = n.Name
					}
					if e.X2 == n.X && e.Y2 == n.Y+nodeH/2 {
						to = n.Name
					}
				}
				edges = append(edges, [2]string{from, to})
			}
			require.ElementsMatch(t, tt.edges, edges)
			for name, want := range tt.subs {
				n := byName[name]
				var got []string
				for _, s := range n.Subs {
					got = append(got, s.Name+"="+s.Phase)
					require.Less(t, s.Y, n.Y+n.H, "sub-step %s inside its group's box", s.Name)
				}
				require.Equal(t, want, got)
				require.Equal(t, nodeH+subH*len(want), n.H)
			}
			// Nodes of one column never overlap.
			for _, a := range g.Nodes {
				for _, b := range g.Nodes {
					if a.Name != b.Name && a.X == b.X {
						require.True(t, a.Y+a.H <= b.Y || b.Y+b.H <= a.Y, "%s and %s overlap", a.Name, b.Name)
					}
				}
			}
		})
	}
}
