package cuestep

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ferryhq/ferry/pkg/cue"
	"github.com/ferryhq/ferry/pkg/workflow"
)

// fill puts a result into an action field. When the live object conflicts with what the
// template wrote (a server default, a normalised quantity) only its status is filled in.
func (r *run) fill(a cue.Action, field string, value any) {
	if r.returns[a.Path] {
		r.fillReturns(a, field, value)
		return
	}
	if err := r.ev.Fill(a, field, value); err == nil {
		return
	}
	if obj, ok := value.(map[string]any); ok {
		if status, ok := obj["status"]; ok {
			_ = r.ev.Fill(a, field, map[string]any{"status": status})
		}
	}
}

// fillReturns fills a result of a provider package's action into $returns, under the names
// those packages use: a list's objects are $returns.values, an HTTP response's fields are
// $returns itself.
func (r *run) fillReturns(a cue.Action, field string, value any) {
	var returns any
	switch field {
	case "list":
		returns = map[string]any{"values": value}
	case "response":
		returns = value
	default:
		returns = map[string]any{field: value}
	}
	if err := r.ev.Fill(a, returnsField, returns); err == nil {
		return
	}
	if obj, ok := value.(map[string]any); ok && field == "value" {
		if status, ok := obj["status"]; ok {
			_ = r.ev.Fill(a, returnsField, map[string]any{field: map[string]any{"status": status}})
		}
	}
}

func (r *run) kube(ctx context.Context, a cue.Action) (workflow.Result, bool) {
	kube := r.e.opts.Kube
	if kube == nil {
		return fail("%s: no cluster access configured for %q", a.Path, a.Do)
	}
	cluster, _ := a.Fields["cluster"].(string)
	obj, _ := a.Fields["value"].(map[string]any)
	switch a.Do {
	case "apply":
		live, err := kube.Apply(ctx, cluster, obj)
		if err != nil {
			return fail("%s: apply: %v", a.Path, err)
		}
		r.fill(a, "value", live)
	case "apply-in-parallel":
		items, _ := a.Fields["value"].([]any)
		var lives []any
		for _, it := range items {
			o, _ := it.(map[string]any)
			live, err := kube.Apply(ctx, cluster, o)
			if err != nil {
				return fail("%s: apply: %v", a.Path, err)
			}
			lives = append(lives, live)
		}
		r.fill(a, "value", lives)
	case "read":
		live, err := kube.Read(ctx, cluster, obj)
		if err != nil {
			r.fill(a, "err", err.Error())
			return workflow.Result{}, false
		}
		r.fill(a, "value", live)
	case "list":
		res, _ := a.Fields["resource"].(map[string]any)
		filter, _ := a.Fields["filter"].(map[string]any)
		apiVersion, _ := res["apiVersion"].(string)
		kind, _ := res["kind"].(string)
		ns, _ := filter["namespace"].(string)
		labels := map[string]string{}
		if ml, ok := filter["matchingLabels"].(map[string]any); ok {
			for k, v := range ml {
				labels[k] = fmt.Sprint(v)
			}
		}
		items, err := kube.List(ctx, cluster, apiVersion, kind, ns, labels)
		if err != nil {
			return fail("%s: list: %v", a.Path, err)
		}
		list := make([]any, len(items))
		for i, it := range items {
			list[i] = it
		}
		r.fill(a, "list", map[string]any{"items": list})
	case "delete":
		filter, _ := a.Fields["filter"].(map[string]any)
		if labels, ok := filter["matchingLabels"].(map[string]any); ok && len(labels) > 0 {
			return r.deleteMatching(ctx, a, cluster, obj, filter, labels)
		}
		if err := kube.Delete(ctx, cluster, obj); err != nil {
			return fail("%s: delete: %v", a.Path, err)
		}
	}
	return workflow.Result{}, false
}

// deleteMatching deletes every object of obj's kind that has the filter's labels, in the
// filter's namespace (obj's when the filter names none).
func (r *run) deleteMatching(ctx context.Context, a cue.Action, cluster string, obj, filter, labels map[string]any) (workflow.Result, bool) {
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	ns, _ := filter["namespace"].(string)
	if ns == "" {
		meta, _ := obj["metadata"].(map[string]any)
		ns, _ = meta["namespace"].(string)
	}
	selector := map[string]string{}
	for k, v := range labels {
		selector[k] = fmt.Sprint(v)
	}
	items, err := r.e.opts.Kube.List(ctx, cluster, apiVersion, kind, ns, selector)
	if err != nil {
		return fail("%s: list %s to delete: %v", a.Path, kind, err)
	}
	for _, it := range items {
		if err := r.e.opts.Kube.Delete(ctx, cluster, it); err != nil {
			return fail("%s: delete %s %s: %v", a.Path, kind, objectName(it), err)
		}
	}
	return workflow.Result{}, false
}

func (r *run) applyComponent(ctx context.Context, a cue.Action) (workflow.Result, bool) {
	if r.e.opts.Components == nil {
		return fail("%s: no component access configured", a.Path)
	}
	name, _ := a.Fields["component"].(string)
	cluster, _ := a.Fields["cluster"].(string)
	ns, _ := a.Fields["namespace"].(string)
	output, outputs, err := r.e.opts.Components.ApplyComponent(ctx, name, cluster, ns)
	if err != nil {
		return fail("%s: apply component %q: %v", a.Path, name, err)
	}
	r.fill(a, "output", output)
	if outputs != nil {
		r.fill(a, "outputs", outputs)
	}
	return workflow.Result{}, false
}

func (r *run) http(ctx context.Context, a cue.Action) (workflow.Result, bool) {
	if r.e.opts.HTTP == nil {
		return fail("%s: no HTTP access configured", a.Path)
	}
	req := HTTPRequest{Header: map[string][]string{}}
	req.Method, _ = a.Fields["method"].(string)
	req.URL, _ = a.Fields["url"].(string)
	if spec, ok := a.Fields["request"].(map[string]any); ok {
		req.Body, _ = spec["body"].(string)
		if t, _ := spec["timeout"].(string); t != "" {
			d, err := time.ParseDuration(t)
			if err != nil {
				return fail("%s: timeout %q: %v", a.Path, t, err)
			}
			req.Timeout = d
		}
		if h, ok := spec["header"].(map[string]any); ok {
			for k, v := range h {
				switch x := v.(type) {
				case string:
					req.Header[k] = []string{x}
				case []any:
					for _, s := range x {
						req.Header[k] = append(req.Header[k], fmt.Sprint(s))
					}
				}
			}
		}
	}
	// Receivers can de-duplicate on it too.
	req.Header["X-Ferry-Execution-Id"] = []string{r.in.ExecutionID}
	send := func() (any, error) {
		resp, err := r.e.opts.HTTP.Do(ctx, req)
		if err != nil {
			return nil, err
		}
		header := map[string]any{}
		for k, vs := range resp.Header {
			l := make([]any, len(vs))
			for i, v := range vs {
				l[i] = v
			}
			header[k] = l
		}
		return map[string]any{"statusCode": int64(resp.StatusCode), "body": resp.Body, "header": header}, nil
	}
	var out any
	var err error
	if req.Method == http.MethodGet || req.Method == http.MethodHead {
		out, err = send()
	} else {
		out, err = r.guarded(ctx, a, send)
	}
	if err != nil {
		return fail("%s: %s %s: %v", a.Path, req.Method, RedactURL(req.URL), err)
	}
	r.fill(a, "response", out)
	return workflow.Result{}, false
}

func (r *run) email(ctx context.Context, a cue.Action) (workflow.Result, bool) {
	if r.e.opts.Mailer == nil {
		return fail("%s: no mail server configured", a.Path)
	}
	from, _ := a.Fields["from"].(map[string]any)
	content, _ := a.Fields["content"].(map[string]any)
	m := Mail{}
	m.From, _ = from["address"].(string)
	m.FromAlias, _ = from["alias"].(string)
	m.Password, _ = from["password"].(string)
	m.Host, _ = from["host"].(string)
	if p, ok := from["port"].(int64); ok {
		m.Port = int(p)
	}
	if to, ok := a.Fields["to"].([]any); ok {
		for _, t := range to {
			m.To = append(m.To, fmt.Sprint(t))
		}
	}
	m.Subject, _ = content["subject"].(string)
	m.Body, _ = content["body"].(string)
	if _, err := r.guarded(ctx, a, func() (any, error) { return true, r.e.opts.Mailer.Send(ctx, m) }); err != nil {
		return fail("%s: send email: %v", a.Path, err)
	}
	return workflow.Result{}, false
}

// topology answers where the Application's topology policies place it (placements) and which
// managed clusters there are (list-clusters).
func (r *run) topology(a cue.Action) (workflow.Result, bool) {
	topo := r.e.opts.Topology
	if topo == nil {
		return fail("%s: no topology configured for %q", a.Path, a.Do)
	}
	if a.Do == "list-clusters" {
		clusters := []any{}
		for _, c := range topo.Clusters() {
			clusters = append(clusters, c)
		}
		if r.returns[a.Path] {
			r.fill(a, "clusters", clusters) // vela/multicluster: $returns.clusters
		} else {
			r.fill(a, "outputs", map[string]any{"clusters": clusters}) // vela/op: outputs.clusters
		}
		return workflow.Result{}, false
	}
	var policies []string
	if list, ok := a.Fields["policies"].([]any); ok {
		for _, p := range list {
			policies = append(policies, fmt.Sprint(p))
		}
	}
	placements, err := topo.Placements(policies)
	if err != nil {
		return fail("%s: %v", a.Path, err)
	}
	out := make([]any, len(placements))
	for i, p := range placements {
		out[i] = map[string]any{"cluster": p.Cluster, "namespace": p.Namespace}
	}
	r.fill(a, "placements", out)
	return workflow.Result{}, false
}

// deploy delivers the step's plan: the planner rendered the components for the targets of the
// action's policies under the step's name. Until they are healthy the step waits.
func (r *run) deploy(ctx context.Context, a cue.Action) (workflow.Result, bool) {
	if r.e.opts.Deployer == nil {
		return fail("%s: no deployer configured", a.Path)
	}
	parallelism := 5
	if p, ok := a.Fields["parallelism"].(int64); ok && p > 0 {
		parallelism = int(p)
	}
	var policies []string
	if list, ok := a.Fields["policies"].([]any); ok {
		for _, p := range list {
			policies = append(policies, fmt.Sprint(p))
		}
	}
	res, err := r.e.opts.Deployer.Deploy(ctx, workflow.DeployRequest{Step: r.in.Step.Name, Policies: policies, Parallelism: parallelism, Now: r.in.Now})
	switch {
	case err != nil:
		return fail("%s: deploy: %v", a.Path, err)
	case !res.Done:
		return workflow.Result{Outcome: workflow.OutcomeWait, Message: res.Message}, true
	}
	if res.Message != "" {
		r.messages = append(r.messages, res.Message)
	}
	return workflow.Result{}, false
}

// Restarter schedules the Application's workflow to run again once it has finished: value is an
// RFC 3339 time (once) or a duration such as 5m, 1h or 2d (every duration after each run).
type Restarter interface {
	ScheduleRestart(ctx context.Context, value string) error
}

// ParseScheduleDuration reads a restart interval: a number of minutes, hours or days (5m, 1h,
// 2d), or any Go duration.
func ParseScheduleDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, fmt.Errorf("duration %q: %w", s, err)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// scheduleRestart schedules the workflow to run again: at a time, after a duration from now, or
// every duration.
func (r *run) scheduleRestart(ctx context.Context, a cue.Action) (workflow.Result, bool) {
	if r.e.opts.Restarter == nil {
		return fail("%s: no restarts configured", a.Path)
	}
	now := r.in.Now
	if now.IsZero() {
		now = time.Now()
	}
	var value string
	switch at, after, every := a.Fields["at"], a.Fields["after"], a.Fields["every"]; {
	case at != nil:
		t, err := time.Parse(time.RFC3339, fmt.Sprint(at))
		if err != nil {
			return fail("%s: at %q: %v", a.Path, at, err)
		}
		value = t.UTC().Format(time.RFC3339)
	case after != nil:
		d, err := ParseScheduleDuration(fmt.Sprint(after))
		if err != nil {
			return fail("%s: after: %v", a.Path, err)
		}
		value = now.Add(d).UTC().Format(time.RFC3339)
	case every != nil:
		if _, err := ParseScheduleDuration(fmt.Sprint(every)); err != nil {
			return fail("%s: every: %v", a.Path, err)
		}
		value = fmt.Sprint(every)
	default:
		return fail("%s: give at, after or every", a.Path)
	}
	if err := r.e.opts.Restarter.ScheduleRestart(ctx, value); err != nil {
		return fail("%s: %v", a.Path, err)
	}
	r.messages = append(r.messages, "the workflow runs again: "+value)
	return workflow.Result{}, false
}
