package appview

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	workv1 "open-cluster-management.io/api/work/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/appfile"
	"github.com/ferryhq/ferry/pkg/dispatch"
	"github.com/ferryhq/ferry/pkg/workflow"
	"github.com/ferryhq/ferry/pkg/workflow/appworkflow"
)

// Environment is one deploy step's delivery to one cluster: which revision runs there, how
// healthy it is, since when, and who approved it.
type Environment struct {
	// Step is the deploy step (the environment, e.g. deploy-prod).
	Step    string `json:"step"`
	Cluster string `json:"cluster"`
	// Revision is the ApplicationRevision whose objects the cluster has from this step; ""
	// when the step has delivered nothing there yet.
	Revision string `json:"revision,omitempty"`
	// Healthy and Components count the app's components on the cluster and the healthy ones.
	Healthy    int `json:"healthy"`
	Components int `json:"components"`
	// Since is when the step delivered that revision (the step's last run for the current
	// revision; the revision's creation for an older one).
	Since *time.Time `json:"since,omitempty"`
	// ApprovedBy is who resumed the last suspend step before this deploy step in the run that
	// delivered the current revision.
	ApprovedBy string `json:"approvedBy,omitempty"`
	// Phase is the step's phase in the current run.
	Phase string `json:"phase"`
}

// Environments answers "which revision runs in which environment and cluster, healthy since
// when, approved by whom" for an Application, from its status, ManifestWorks and resource
// trackers. A deploy step to managed clusters has a ManifestWork per cluster; the newest
// revision whose tracker records that ManifestWork is the one the cluster runs. A step to the
// hub is "local".
func Environments(ctx context.Context, c client.Client, app *v1beta1.Application) ([]Environment, error) {
	ws := app.Status.Workflow
	if ws == nil {
		return nil, nil
	}
	ref := dispatch.AppRef{Name: app.Name, Namespace: app.Namespace}
	trackers, err := (&dispatch.Trackers{Client: c}).List(ctx, ref, true)
	if err != nil {
		return nil, err
	}
	revs, err := appworkflow.Revisions(ctx, c, client.ObjectKeyFromObject(app))
	if err != nil {
		return nil, err
	}
	revName := map[int64]string{}
	revCreated := map[string]time.Time{}
	for _, r := range revs {
		revName[r.Spec.Revision] = r.Name
		revCreated[r.Name] = r.CreationTimestamp.Time
	}
	var works workv1.ManifestWorkList
	if err := c.List(ctx, &works, client.MatchingLabels{v1beta1.LabelAppName: app.Name, v1beta1.LabelAppNamespace: app.Namespace}); err != nil &&
		!meta.IsNoMatchError(err) {
		return nil, fmt.Errorf("list the ManifestWorks of %s/%s: %w", app.Namespace, app.Name, err)
	}
	// The newest revision recording each hub object (ManifestWorks included).
	newest := map[string]int64{}
	for _, rt := range trackers {
		for _, r := range rt.Spec.ManagedResources {
			if r.Cluster != "" && r.Cluster != appfile.LocalCluster {
				continue
			}
			key := r.Kind + "/" + r.Namespace + "/" + r.Name
			newest[key] = max(newest[key], rt.Spec.ApplicationRevision)
		}
	}
	health := map[string][2]int{}
	for _, s := range app.Status.Services {
		h := health[ClusterName(s.Cluster)]
		h[1]++
		if s.Healthy {
			h[0]++
		}
		health[ClusterName(s.Cluster)] = h
	}

	var out []Environment
	approver := ""
	visit := func(st v1beta1.StepStatus) {
		switch st.Type {
		case workflow.TypeSuspend:
			if st.ResumedBy != "" {
				approver = st.ResumedBy
			}
			return
		case workflow.TypeDeploy:
		default:
			return
		}
		clusters := map[string]string{} // cluster → revision
		numbers := map[string]int64{}
		for _, w := range works.Items {
			step := w.Labels[dispatch.LabelStep]
			if step == "" {
				step = appfile.DefaultStepName
			}
			if step != st.Name {
				continue
			}
			if rev := w.Annotations[v1beta1.AnnotationAppRevision]; rev != "" {
				// The ManifestWork says which revision it holds (a rollout may not have
				// reached the cluster yet, and the tracker records it already).
				clusters[w.Namespace], numbers[w.Namespace] = rev, math.MaxInt64
				continue
			}
			// Written by an older Ferry: the newest revision recording it. A step's objects
			// for one cluster may be split over several ManifestWorks.
			n := newest["ManifestWork/"+w.Namespace+"/"+w.Name]
			if cur, ok := numbers[w.Namespace]; !ok || n > cur {
				name, kept := revName[n]
				if !kept && n > 0 {
					name = fmt.Sprintf("revision %d (no longer kept)", n)
				}
				numbers[w.Namespace], clusters[w.Namespace] = n, name
			}
		}
		if len(clusters) == 0 && st.Phase == string(workflow.StepSucceeded) {
			clusters[appfile.LocalCluster] = ws.AppRevision // delivered to the hub in this run
		}
		names := make([]string, 0, len(clusters))
		for cl := range clusters {
			names = append(names, cl)
		}
		sort.Strings(names)
		for _, cl := range names {
			e := Environment{Step: st.Name, Cluster: cl, Revision: clusters[cl], Phase: orPending(st.Phase),
				Healthy: health[cl][0], Components: health[cl][1]}
			if c, ok := rolloutOf(st, cl); ok {
				// A progressive step: each cluster has its own phase and time.
				e.Phase = strings.ToLower(c.Phase)
				if c.Started != nil && e.Revision == ws.AppRevision {
					t := c.Started.Time
					e.Since, e.ApprovedBy = &t, approver
					out = append(out, e)
					continue
				}
			}
			switch {
			case e.Revision == ws.AppRevision && st.LastExecuteTime != nil:
				t := st.LastExecuteTime.Time
				e.Since, e.ApprovedBy = &t, approver
			case e.Revision != "":
				if t, ok := revCreated[e.Revision]; ok {
					e.Since = &t
				}
			}
			out = append(out, e)
		}
		if len(names) == 0 {
			out = append(out, Environment{Step: st.Name, Phase: orPending(st.Phase)})
		}
	}
	for _, st := range ws.Steps {
		visit(st.StepStatus)
		for _, sub := range st.SubStepsStatus {
			visit(sub)
		}
	}
	return out, nil
}

// rolloutOf finds a cluster's place in a progressive step's rollout.
func rolloutOf(st v1beta1.StepStatus, cluster string) (v1beta1.ClusterRollout, bool) {
	if st.Progress == nil {
		return v1beta1.ClusterRollout{}, false
	}
	for _, c := range st.Progress.Rollout {
		if c.Cluster == cluster {
			return c, true
		}
	}
	return v1beta1.ClusterRollout{}, false
}

// ClusterName is the cluster a status or tracker entry names: "" is the hub, "local".
func ClusterName(c string) string {
	if c == "" {
		return appfile.LocalCluster
	}
	return c
}

func orPending(p string) string {
	if p == "" {
		return string(workflow.StepPending)
	}
	return p
}
