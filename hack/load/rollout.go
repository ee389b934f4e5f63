package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	workv1 "open-cluster-management.io/api/work/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/api/v1beta1"
)

// groupOf is the rollout group label of the load tool's clusters (-rollout-groups).
const groupOf = "load-group"

// rolloutPolicies makes an app roll out group by group: one topology policy per cluster group
// and a deploy step with OCM's ProgressivePerGroup strategy.
func rolloutPolicies(app *v1beta1.Application, groups int) {
	raw := func(s string) *runtime.RawExtension { return &runtime.RawExtension{Raw: []byte(s)} }
	app.Spec.Policies = nil
	var names []string
	for g := range groups {
		name := fmt.Sprintf("g%02d", g)
		names = append(names, `"`+name+`"`)
		app.Spec.Policies = append(app.Spec.Policies, v1beta1.AppPolicy{Name: name, Type: "topology",
			Properties: raw(fmt.Sprintf(`{"clusterLabelSelector":{%q:%q}}`, groupOf, name))})
	}
	app.Spec.Workflow = &v1beta1.Workflow{Steps: []v1beta1.WorkflowStep{{WorkflowStepBase: v1beta1.WorkflowStepBase{Name: "roll-out", Type: "deploy",
		Properties: raw(`{"policies":[` + strings.Join(names, ",") + `],"rolloutStrategy":{"type":"ProgressivePerGroup"}}`)}}}}
}

// measureRollout plays every cluster's work agent — a ManifestWork is reported applied, and its
// workloads ready, as soon as it appears or changes — and measures, for each app and each group
// after the first, how long the hub takes from the moment the last cluster of the app's group
// before is reported healthy to the moment the app's first ManifestWork of the group is written. It ends with the
// controller's API requests per cluster.
func measureRollout(ctx context.Context, cfg *rest.Config, c client.Client, o options, start time.Time, metricsAddr string) error {
	perGroup := o.clusters / o.rolloutGroups
	groupOfCluster := func(ns string) int {
		var i int
		_, _ = fmt.Sscanf(ns, "cluster-%03d", &i)
		return i / perGroup
	}
	req0, _ := scrape(metricsAddr, "rest_client_requests_total")
	type appGroup struct {
		app   string
		group int
	}
	firstWrite := map[appGroup]time.Time{}
	lastHealthy := map[appGroup]time.Time{}
	reported := map[string]int64{} // work → generation reported
	// A watch, as an agent has: polling 1,000 ManifestWorks would take the cores the controller
	// is measured on.
	wc, err := client.NewWithWatch(cfg, client.Options{Scheme: c.Scheme()})
	if err != nil {
		return err
	}
	watcher, err := wc.Watch(ctx, &workv1.ManifestWorkList{})
	if err != nil {
		return err
	}
	defer watcher.Stop()
	want := o.apps * o.clusters
	check := time.NewTicker(250 * time.Millisecond)
	defer check.Stop()
	for finished := false; !finished; {
		select {
		case ev, ok := <-watcher.ResultChan():
			if !ok {
				return errors.New("the ManifestWork watch ended")
			}
			w, isWork := ev.Object.(*workv1.ManifestWork)
			if !isWork || (ev.Type != watch.Added && ev.Type != watch.Modified) {
				continue
			}
			g := appGroup{app: w.Labels[v1beta1.LabelAppName], group: groupOfCluster(w.Namespace)}
			if _, ok := firstWrite[g]; !ok {
				firstWrite[g] = time.Now()
			}
			key := w.Namespace + "/" + w.Name
			if reported[key] == w.Generation {
				continue
			}
			err := reportApplied(ctx, c, w)
			if apierrors.IsConflict(err) {
				continue // a newer version is on its way
			}
			if err != nil {
				return fmt.Errorf("report %s: %w", key, err)
			}
			reported[key] = w.Generation
			lastHealthy[g] = time.Now()
		case <-check.C:
			finished = len(reported) == want && done(ctx, c)
		case <-ctx.Done():
			return fmt.Errorf("the rollout did not finish: %d of %d ManifestWorks reported after %s; %s", len(reported), want,
				time.Since(start), stepMessages(context.WithoutCancel(ctx), c))
		}
	}
	total := time.Since(start)
	req1, _ := scrape(metricsAddr, "rest_client_requests_total")
	var gaps []time.Duration
	for g := range firstWrite {
		if g.group > 0 {
			gaps = append(gaps, firstWrite[g].Sub(lastHealthy[appGroup{app: g.app, group: g.group - 1}]))
		}
	}
	sort.Slice(gaps, func(i, j int) bool { return gaps[i] < gaps[j] })
	var sum time.Duration
	for _, d := range gaps {
		sum += d
	}
	fmt.Printf("rollout of %d app(s) to %d clusters in %d groups of %d (ProgressivePerGroup): done after %s\n",
		o.apps, o.clusters, o.rolloutGroups, perGroup, total.Round(time.Millisecond))
	if len(gaps) > 0 {
		fmt.Printf("hub-side group transition (last cluster of a group reported healthy -> first ManifestWork of the next written): median %s, mean %s, max %s\n",
			gaps[len(gaps)/2].Round(time.Millisecond), (sum / time.Duration(len(gaps))).Round(time.Millisecond), gaps[len(gaps)-1].Round(time.Millisecond))
	}
	fmt.Printf("controller API requests: %.0f, %.1f per cluster\n", req1-req0, (req1-req0)/float64(o.clusters*o.apps))
	return nil
}

// done reports whether every app's workflow succeeded.
func done(ctx context.Context, c client.Client) bool {
	var apps v1beta1.ApplicationList
	if err := c.List(ctx, &apps); err != nil {
		return false
	}
	for _, a := range apps.Items {
		if a.Status.Workflow == nil || a.Status.Workflow.Phase != "succeeded" {
			return false
		}
	}
	return len(apps.Items) > 0
}

// reportApplied writes what a work agent would: the work applied at its generation, every
// manifest applied, and a workload's status fields (the feedback rules' JSON paths) ready.
func reportApplied(ctx context.Context, c client.Client, w *workv1.ManifestWork) error {
	w.Status.Conditions = nil
	meta.SetStatusCondition(&w.Status.Conditions, metav1.Condition{Type: workv1.WorkApplied, Status: metav1.ConditionTrue,
		Reason: "AppliedManifestWorkComplete", ObservedGeneration: w.Generation})
	meta.SetStatusCondition(&w.Status.Conditions, metav1.Condition{Type: workv1.WorkAvailable, Status: metav1.ConditionTrue,
		Reason: "ResourcesAvailable", ObservedGeneration: w.Generation})
	w.Status.ResourceStatus.Manifests = nil
	for i, m := range w.Spec.Workload.Manifests {
		var obj struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name, Namespace string
			} `json:"metadata"`
			Spec struct {
				Replicas *int64 `json:"replicas"`
			} `json:"spec"`
		}
		if err := json.Unmarshal(m.Raw, &obj); err != nil {
			return err
		}
		group, version, _ := strings.Cut(obj.APIVersion, "/")
		if version == "" {
			group, version = "", obj.APIVersion
		}
		replicas := int64(1)
		if obj.Spec.Replicas != nil {
			replicas = *obj.Spec.Replicas
		}
		values := map[string]int64{"status.readyReplicas": replicas, "status.updatedReplicas": replicas, "status.replicas": replicas,
			"status.availableReplicas": replicas, "status.observedGeneration": 1, "metadata.generation": 1}
		var feedback []workv1.FeedbackValue
		for _, cfg := range w.Spec.ManifestConfigs {
			if cfg.ResourceIdentifier.Name != obj.Metadata.Name || cfg.ResourceIdentifier.Group != group {
				continue
			}
			for _, rule := range cfg.FeedbackRules {
				for _, p := range rule.JsonPaths {
					if v, ok := values[p.Name]; ok {
						feedback = append(feedback, workv1.FeedbackValue{Name: p.Name, Value: workv1.FieldValue{Type: workv1.Integer, Integer: &v}})
					}
					if p.Name == "metadata.uid" { // the object exists
						uid := fmt.Sprintf("%s-%s-%d", w.Namespace, obj.Metadata.Name, i)
						feedback = append(feedback, workv1.FeedbackValue{Name: p.Name, Value: workv1.FieldValue{Type: workv1.String, String: &uid}})
					}
				}
			}
		}
		w.Status.ResourceStatus.Manifests = append(w.Status.ResourceStatus.Manifests, workv1.ManifestCondition{
			ResourceMeta: workv1.ManifestResourceMeta{Ordinal: int32(i), Group: group, Version: version, Kind: obj.Kind,
				Name: obj.Metadata.Name, Namespace: obj.Metadata.Namespace},
			StatusFeedbacks: workv1.StatusFeedbackResult{Values: feedback},
			Conditions: []metav1.Condition{{Type: workv1.ManifestApplied, Status: metav1.ConditionTrue, Reason: "AppliedManifestComplete",
				LastTransitionTime: metav1.Now()}},
		})
	}
	return c.Status().Update(ctx, w)
}

// stepMessages says where the apps' workflows are (for a rollout that does not finish).
func stepMessages(ctx context.Context, c client.Client) string {
	var apps v1beta1.ApplicationList
	if err := c.List(ctx, &apps); err != nil {
		return err.Error()
	}
	var out []string
	for _, a := range apps.Items {
		if ws := a.Status.Workflow; ws != nil {
			for _, s := range ws.Steps {
				out = append(out, fmt.Sprintf("%s step %s: %s %s", a.Name, s.Name, s.Phase, s.Message))
			}
		}
	}
	return strings.Join(out, "; ")
}
