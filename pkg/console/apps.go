package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/appview"
)

// appsQuery is the list page's filter, from its URL.
type appsQuery struct {
	Namespace string
	Phase     string
	Label     string
	Search    string
	Page      int
}

func parseAppsQuery(r *http.Request) appsQuery {
	q := r.URL.Query()
	page, _ := strconv.Atoi(q.Get("page"))
	if page < 1 {
		page = 1
	}
	return appsQuery{Namespace: q.Get("namespace"), Phase: q.Get("phase"), Label: q.Get("label"), Search: strings.TrimSpace(q.Get("q")), Page: page}
}

// encode is the query string of a filter at another page.
func (q appsQuery) encode(page int) string {
	v := url.Values{}
	for k, s := range map[string]string{"namespace": q.Namespace, "phase": q.Phase, "label": q.Label, "q": q.Search} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	return v.Encode()
}

// appRow is one application in the list.
type appRow struct {
	Namespace, Name string
	Phase           string
	Revision        string
	Components      int
	Healthy, Total  int
	Clusters        []clusterHealth
	Changed         time.Time
	Shard           string
}

// clusterHealth is how many of an app's components are healthy on one cluster.
type clusterHealth struct {
	Cluster        string
	Healthy, Total int
}

type appsView struct {
	Query      appsQuery
	Rows       []appRow
	Matched    int
	Total      int
	Page       int
	Pages      int
	PrevURL    string
	NextURL    string
	Scope      string
	Namespaces []string
	Phases     []string
	Problems   []string
	Now        time.Time
}

// phases are the Application phases a filter can pick.
var phases = []v1beta1.ApplicationPhase{v1beta1.ApplicationRunning, v1beta1.ApplicationRunningWorkflow, v1beta1.ApplicationWorkflowSuspending,
	v1beta1.ApplicationWorkflowFailed, v1beta1.ApplicationWorkflowTerminated, v1beta1.ApplicationUnhealthy, v1beta1.ApplicationRendering,
	v1beta1.ApplicationStarting, v1beta1.ApplicationDeleting}

// scope is where the identity may list Applications: every namespace (nil), or these.
// Without the right to list them everywhere: the namespaces it may list them in, when it may
// list namespaces; else the one asked for (hint), its ServiceAccount's, and the default one.
func (s *Server) scope(ctx context.Context, hint string) ([]string, error) {
	var probe v1beta1.ApplicationList
	err := s.cl(ctx).List(ctx, &probe, client.Limit(1))
	if err == nil {
		return nil, nil
	}
	if !apierrors.IsForbidden(err) {
		return nil, fmt.Errorf("list applications: %w", err)
	}
	var candidates []string
	var nss corev1.NamespaceList
	if err := s.cl(ctx).List(ctx, &nss); err == nil {
		for _, ns := range nss.Items {
			candidates = append(candidates, ns.Name)
		}
	} else {
		candidates = append(candidates, hint)
		if user, err := s.id(ctx).whoAmI(ctx); err == nil && strings.HasPrefix(user, "system:serviceaccount:") {
			candidates = append(candidates, strings.Split(user, ":")[2])
		}
		candidates = append(candidates, s.o.Namespace)
	}
	var out []string
	seen := map[string]bool{}
	for _, ns := range candidates {
		if ns == "" || seen[ns] {
			continue
		}
		seen[ns] = true
		if s.allowed(ctx, "list", v1beta1.GroupVersion.Group, "applications", "", ns) {
			out = append(out, ns)
		}
	}
	if len(out) == 0 {
		return nil, &requestError{status: http.StatusForbidden, err: errors.New(
			"you may not list applications in any namespace the console knows of: choose one in the namespace filter")}
	}
	return out, nil
}

// listApps lists the Applications the identity may see, matching a label selector.
func (s *Server) listApps(ctx context.Context, hint string, selector labels.Selector) ([]v1beta1.Application, []string, []string, error) {
	namespaces, err := s.scope(ctx, hint)
	if err != nil {
		return nil, nil, nil, err
	}
	opts := []client.ListOption{}
	if selector != nil {
		opts = append(opts, client.MatchingLabelsSelector{Selector: selector})
	}
	if namespaces == nil {
		var list v1beta1.ApplicationList
		if err := s.cl(ctx).List(ctx, &list, opts...); err != nil {
			return nil, nil, nil, fmt.Errorf("list applications: %w", err)
		}
		return list.Items, nil, nil, nil
	}
	var apps []v1beta1.Application
	var problems []string
	for _, ns := range namespaces {
		var list v1beta1.ApplicationList
		if err := s.cl(ctx).List(ctx, &list, append(opts, client.InNamespace(ns))...); err != nil {
			problems = append(problems, fmt.Sprintf("namespace %s: %v", ns, err))
			continue
		}
		apps = append(apps, list.Items...)
	}
	return apps, namespaces, problems, nil
}

func (s *Server) appsView(ctx context.Context, q appsQuery) (*appsView, error) {
	v := &appsView{Query: q, Now: s.o.Now()}
	var selector labels.Selector
	if q.Label != "" {
		sel, err := labels.Parse(q.Label)
		if err != nil {
			return nil, badRequest(fmt.Errorf("label selector %q: %w", q.Label, err))
		}
		selector = sel
	}
	apps, namespaces, problems, err := s.listApps(ctx, q.Namespace, selector)
	if err != nil {
		return nil, err
	}
	v.Problems = problems
	v.Scope = "every namespace"
	if namespaces != nil {
		v.Scope = "namespace " + strings.Join(namespaces, ", ") + " (you may not list applications in every namespace)"
	}
	seenNS := map[string]bool{}
	for _, p := range phases {
		v.Phases = append(v.Phases, string(p))
	}
	sort.Slice(apps, func(i, j int) bool {
		if apps[i].Namespace != apps[j].Namespace {
			return apps[i].Namespace < apps[j].Namespace
		}
		return apps[i].Name < apps[j].Name
	})
	v.Total = len(apps)
	var matched []*v1beta1.Application
	for i := range apps {
		a := &apps[i]
		if !seenNS[a.Namespace] {
			seenNS[a.Namespace] = true
			v.Namespaces = append(v.Namespaces, a.Namespace)
		}
		if q.Namespace != "" && a.Namespace != q.Namespace {
			continue
		}
		if q.Phase != "" && string(a.Status.Phase) != q.Phase {
			continue
		}
		if q.Search != "" && !strings.Contains(strings.ToLower(a.Namespace+"/"+a.Name), strings.ToLower(q.Search)) {
			continue
		}
		matched = append(matched, a)
	}
	v.Matched = len(matched)
	size := s.o.PageSize
	v.Pages = max(1, (len(matched)+size-1)/size)
	v.Page = min(q.Page, v.Pages)
	from := (v.Page - 1) * size
	to := min(from+size, len(matched))
	for _, a := range matched[from:to] {
		v.Rows = append(v.Rows, rowOf(a))
	}
	if v.Page > 1 {
		v.PrevURL = "/?" + q.encode(v.Page-1)
	}
	if v.Page < v.Pages {
		v.NextURL = "/?" + q.encode(v.Page+1)
	}
	return v, nil
}

func rowOf(a *v1beta1.Application) appRow {
	row := appRow{Namespace: a.Namespace, Name: a.Name, Phase: string(a.Status.Phase), Components: len(a.Spec.Components),
		Changed: lastChange(a), Shard: a.Labels[v1beta1.LabelShardID]}
	if a.Status.LatestRevision != nil {
		row.Revision = a.Status.LatestRevision.Name
	}
	byCluster := map[string]*clusterHealth{}
	var order []string
	for _, svc := range a.Status.Services {
		cl := appview.ClusterName(svc.Cluster)
		h := byCluster[cl]
		if h == nil {
			h = &clusterHealth{Cluster: cl}
			byCluster[cl] = h
			order = append(order, cl)
		}
		h.Total++
		row.Total++
		if svc.Healthy {
			h.Healthy++
			row.Healthy++
		}
	}
	sort.Strings(order)
	for _, cl := range order {
		row.Clusters = append(row.Clusters, *byCluster[cl])
	}
	return row
}

// lastChange is when anything about the app last changed that its status records.
func lastChange(a *v1beta1.Application) time.Time {
	t := a.CreationTimestamp.Time
	later := func(u time.Time) {
		if u.After(t) {
			t = u
		}
	}
	for _, c := range a.Status.Conditions {
		later(c.LastTransitionTime.Time)
	}
	if ws := a.Status.Workflow; ws != nil {
		if ws.StartTime != nil {
			later(ws.StartTime.Time)
		}
		if ws.EndTime != nil {
			later(ws.EndTime.Time)
		}
		for _, st := range ws.Steps {
			if st.LastExecuteTime != nil {
				later(st.LastExecuteTime.Time)
			}
		}
	}
	return t
}

func (s *Server) appsPage(w http.ResponseWriter, r *http.Request) {
	q := parseAppsQuery(r)
	v, err := s.appsView(r.Context(), q)
	if err != nil {
		s.fail(w, r, statusOf(err), err)
		return
	}
	s.render(w, r, "apps", page{Title: "Applications", Nav: "apps", Watch: "/watch/apps?" + url.Values{"namespace": {q.Namespace}}.Encode(), Fragment: "/fragments/apps?" + q.encode(q.Page), Body: v})
}

func (s *Server) appsFragment(w http.ResponseWriter, r *http.Request) {
	v, err := s.appsView(r.Context(), parseAppsQuery(r))
	if err != nil {
		s.fail(w, r, statusOf(err), err)
		return
	}
	s.renderFragment(w, r, "apps", "apps-live", v)
}
