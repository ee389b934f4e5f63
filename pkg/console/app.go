package console

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/appview"
	"github.com/ferryhq/ferry/pkg/workflow/appworkflow"
)

// appView is everything the application page shows.
type appView struct {
	Namespace, Name string
	Labels          map[string]string
	Annotations     map[string]string
	Phase           string
	Revision        string
	WorkflowPhase   string
	WorkflowMessage string
	Problems        []string
	Graph           *graph
	Steps           []stepRow
	Matrix          matrix
	Resources       []resourceGroup
	ResourcesError  string
	// Environments is where each deploy step's revision runs (ferry env ls).
	Environments      []envRow
	EnvironmentsError string
	Revisions         []revisionRow
	Events            []eventRow
	EventsError       string
	Actions           []actionView
	// ActionsRefused says why no action is offered although the workflow could take one.
	ActionsRefused string
	Changed        time.Time
	Now            time.Time
}

// envRow is an environment with its time as a value, for the templates.
type envRow struct {
	appview.Environment
	Since time.Time
}

type stepRow struct {
	Name, Type, Phase, Message, Reason string
	// ResumedBy is who approved (resumed) the step, when someone did.
	ResumedBy      string
	Group          string
	Started, Ended time.Time
	Took           string
	Attempts       int
	// Rollout is where each cluster of a progressive deploy step is; Metric a metric check's
	// last reading.
	Rollout []v1beta1.ClusterRollout
	Metric  *v1beta1.MetricReading
}

type matrix struct {
	Clusters []string
	Rows     []matrixRow
}

type matrixRow struct {
	Component string
	Cells     []matrixCell
}

type matrixCell struct {
	// State is healthy, not healthy, or "" where the component does not run.
	State   string
	Message string
}

type resourceGroup struct {
	Cluster string
	Items   []appview.Resource
}

type revisionRow struct {
	Name     string
	Revision int64
	Hash     string
	Created  time.Time
	Latest   bool
	Previous string
}

type eventRow struct {
	Type, Reason, Message string
	Count                 int32
	Last                  time.Time
}

func (s *Server) appKey(r *http.Request) client.ObjectKey {
	return client.ObjectKey{Namespace: r.PathValue("namespace"), Name: r.PathValue("name")}
}

func (s *Server) appView(ctx context.Context, key client.ObjectKey) (*appView, error) {
	app := &v1beta1.Application{}
	if err := s.cl(ctx).Get(ctx, key, app); err != nil {
		return nil, fmt.Errorf("get application %s: %w", key, err)
	}
	v := &appView{Namespace: app.Namespace, Name: app.Name, Labels: app.Labels, Annotations: app.Annotations,
		Phase: string(app.Status.Phase), Changed: lastChange(app), Now: s.o.Now()}
	if app.Status.LatestRevision != nil {
		v.Revision = app.Status.LatestRevision.Name
	}
	for _, c := range app.Status.Conditions {
		if c.Status == "False" && c.Type != v1beta1.ConditionReady {
			v.Problems = append(v.Problems, fmt.Sprintf("%s: %s", c.Type, c.Message))
		}
	}
	if ws := app.Status.Workflow; ws != nil {
		v.WorkflowPhase, v.WorkflowMessage = ws.Phase, ws.Message
	}
	v.Graph = buildGraph(app)
	v.Steps = stepRows(app)
	v.Matrix = healthMatrix(app)
	if res, err := appview.Resources(ctx, s.cl(ctx), app); err != nil {
		v.ResourcesError = err.Error()
	} else {
		v.Resources = groupResources(res)
	}
	if envs, err := appview.Environments(ctx, s.cl(ctx), app); err != nil {
		v.EnvironmentsError = err.Error()
	} else {
		for _, e := range envs {
			row := envRow{Environment: e}
			if e.Since != nil {
				row.Since = *e.Since
			}
			v.Environments = append(v.Environments, row)
		}
	}
	revs, err := appworkflow.Revisions(ctx, s.cl(ctx), key)
	if err == nil {
		for i, r := range revs {
			row := revisionRow{Name: r.Name, Revision: r.Spec.Revision, Hash: r.Spec.RevisionHash, Created: r.CreationTimestamp.Time,
				Latest: app.Status.LatestRevision != nil && r.Name == app.Status.LatestRevision.Name}
			if i+1 < len(revs) {
				row.Previous = revs[i+1].Name
			}
			v.Revisions = append(v.Revisions, row)
		}
	}
	v.Events, v.EventsError = s.events(ctx, app)
	v.Actions, v.ActionsRefused = s.actions(ctx, app, revs)
	return v, nil
}

func stepRows(app *v1beta1.Application) []stepRow {
	ws := app.Status.Workflow
	if ws == nil {
		return nil
	}
	var rows []stepRow
	add := func(st v1beta1.StepStatus, group string) {
		row := stepRow{Name: st.Name, Type: st.Type, Phase: st.Phase, Message: st.Message, Reason: st.Reason, Group: group, Attempts: st.Attempts,
			ResumedBy: st.ResumedBy}
		if st.FirstExecuteTime != nil {
			row.Started = st.FirstExecuteTime.Time
		}
		if st.LastExecuteTime != nil {
			row.Ended = st.LastExecuteTime.Time
		}
		if st.Progress != nil {
			row.Rollout, row.Metric = st.Progress.Rollout, st.Progress.Metric
		}
		if !row.Started.IsZero() && !row.Ended.IsZero() && !row.Ended.Before(row.Started) {
			row.Took = row.Ended.Sub(row.Started).Round(time.Millisecond).String()
		}
		rows = append(rows, row)
	}
	for _, st := range ws.Steps {
		add(st.StepStatus, "")
		for _, sub := range st.SubStepsStatus {
			add(sub, st.Name)
		}
	}
	return rows
}

// healthMatrix is the component × cluster health of the app's status.
func healthMatrix(app *v1beta1.Application) matrix {
	var m matrix
	clusters := map[string]bool{}
	cells := map[string]map[string]matrixCell{}
	var components []string
	for _, c := range app.Spec.Components {
		components = append(components, c.Name)
		cells[c.Name] = map[string]matrixCell{}
	}
	for _, svc := range app.Status.Services {
		cl := appview.ClusterName(svc.Cluster)
		clusters[cl] = true
		if cells[svc.Name] == nil {
			cells[svc.Name] = map[string]matrixCell{}
			components = append(components, svc.Name)
		}
		state := "healthy"
		if !svc.Healthy {
			state = "not healthy"
		}
		msg := svc.Message
		for _, t := range svc.Traits {
			if !t.Healthy {
				state = "not healthy"
				msg += fmt.Sprintf(" (trait %s: %s)", t.Type, t.Message)
			}
		}
		cells[svc.Name][cl] = matrixCell{State: state, Message: msg}
	}
	for cl := range clusters {
		m.Clusters = append(m.Clusters, cl)
	}
	sort.Strings(m.Clusters)
	for _, comp := range components {
		row := matrixRow{Component: comp}
		for _, cl := range m.Clusters {
			row.Cells = append(row.Cells, cells[comp][cl])
		}
		m.Rows = append(m.Rows, row)
	}
	return m
}

func groupResources(res []appview.Resource) []resourceGroup {
	var out []resourceGroup
	for _, r := range res {
		cl := appview.ClusterName(r.Cluster)
		if len(out) == 0 || out[len(out)-1].Cluster != cl {
			out = append(out, resourceGroup{Cluster: cl})
		}
		out[len(out)-1].Items = append(out[len(out)-1].Items, r)
	}
	return out
}

// events are the app's latest 20 events, newest first.
func (s *Server) events(ctx context.Context, app *v1beta1.Application) ([]eventRow, string) {
	var list corev1.EventList
	sel := fields.AndSelectors(fields.OneTermEqualSelector("involvedObject.name", app.Name),
		fields.OneTermEqualSelector("involvedObject.kind", "Application"))
	if err := s.cl(ctx).List(ctx, &list, client.InNamespace(app.Namespace), client.MatchingFieldsSelector{Selector: sel}); err != nil {
		return nil, err.Error()
	}
	var rows []eventRow
	for _, e := range list.Items {
		last := e.LastTimestamp.Time
		if last.IsZero() {
			last = e.EventTime.Time
		}
		if last.IsZero() {
			last = e.CreationTimestamp.Time
		}
		rows = append(rows, eventRow{Type: e.Type, Reason: e.Reason, Message: e.Message, Count: max(e.Count, 1), Last: last})
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Last.After(rows[j].Last) })
	if len(rows) > 20 {
		rows = rows[:20]
	}
	return rows, ""
}

func (s *Server) appPage(w http.ResponseWriter, r *http.Request) {
	key := s.appKey(r)
	v, err := s.appView(r.Context(), key)
	if err != nil {
		s.fail(w, r, statusOf(err), err)
		return
	}
	base := "/apps/" + key.Namespace + "/" + key.Name
	s.render(w, r, "app", page{Title: key.Namespace + "/" + key.Name, Nav: "apps", Watch: base + "/watch", Fragment: base + "/fragment", Body: v})
}

func (s *Server) appFragment(w http.ResponseWriter, r *http.Request) {
	v, err := s.appView(r.Context(), s.appKey(r))
	if err != nil {
		s.fail(w, r, statusOf(err), err)
		return
	}
	s.renderFragment(w, r, "app", "app-live", v)
}

// suspended reports whether a step status waits for a resume.
func suspended(st v1beta1.StepStatus) bool { return st.Phase == "suspending" }
