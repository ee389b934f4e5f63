package dispatch

import (
	"regexp"
	"sort"
	"strings"

	workv1 "open-cluster-management.io/api/work/v1"

	"github.com/ferryhq/ferry/pkg/appfile"
)

// wellKnown are the kinds whose status the work agent reports without rules.
var wellKnown = map[string]bool{
	"apps/deployments": true, "apps/statefulsets": true, "apps/daemonsets": true, "batch/jobs": true, "/pods": true,
}

// outputRef matches the fields of context.output a healthPolicy reads.
var outputRef = regexp.MustCompile(`context\.output((?:\.[A-Za-z_][A-Za-z0-9_]*)+)`)

// FeedbackPaths lists the fields of the workload a healthPolicy reads, as JSON paths such as
// .status.readyReplicas: only the deepest of nested references, as feedback values must be
// scalars.
func FeedbackPaths(healthPolicy string) []string {
	seen := map[string]bool{}
	for _, m := range outputRef.FindAllStringSubmatch(healthPolicy, -1) {
		seen[m[1]] = true
	}
	var paths []string
	for p := range seen {
		prefix := false
		for q := range seen {
			if q != p && strings.HasPrefix(q, p+".") {
				prefix = true
				break
			}
		}
		if !prefix {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	return paths
}

func feedbackRules(m appfile.Manifest, healthPolicy func(appfile.Manifest) string) []workv1.FeedbackRule {
	var rules []workv1.FeedbackRule
	group, resource := appfile.GroupResource(m.Object)
	if wellKnown[group+"/"+resource] {
		rules = append(rules, workv1.FeedbackRule{Type: workv1.WellKnownStatusType})
	}
	if healthPolicy == nil || m.Trait != "" || m.Output != "" {
		return rules
	}
	var paths []workv1.JsonPath
	for _, p := range FeedbackPaths(healthPolicy(m)) {
		paths = append(paths, workv1.JsonPath{Name: strings.TrimPrefix(p, "."), Path: p})
	}
	if len(paths) > 0 {
		rules = append(rules, workv1.FeedbackRule{Type: workv1.JSONPathsType, JsonPaths: paths})
	}
	return rules
}

// ObjectFromFeedback rebuilds the part of an object that the JSONPaths feedback reported, so
// that a healthPolicy can be evaluated on the hub: a value named status.readyReplicas becomes
// {status: {readyReplicas: v}}.
func ObjectFromFeedback(values []workv1.FeedbackValue) map[string]any {
	obj := map[string]any{}
	for _, v := range values {
		if !strings.Contains(v.Name, ".") {
			continue // a WellKnownStatus value, e.g. ReadyReplicas
		}
		var value any
		switch {
		case v.Value.Integer != nil:
			value = *v.Value.Integer
		case v.Value.String != nil:
			value = *v.Value.String
		case v.Value.Boolean != nil:
			value = *v.Value.Boolean
		default:
			continue
		}
		parts := strings.Split(v.Name, ".")
		m := obj
		for _, p := range parts[:len(parts)-1] {
			next, ok := m[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[p] = next
			}
			m = next
		}
		m[parts[len(parts)-1]] = value
	}
	return obj
}
