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
	conditions := conditionTypes(healthPolicy)
	for p := range seen {
		if len(conditions) > 0 && (p == ".status.conditions" || strings.HasPrefix(p, ".status.conditions.")) {
			continue // a list: its conditions are reported one by one below
		}
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
	for _, typ := range conditions {
		for _, field := range conditionFields {
			paths = append(paths, ".status.conditions["+typ+"]."+field)
		}
	}
	sort.Strings(paths)
	return paths
}

// conditionTypeRef matches a healthPolicy's test of a condition's type, e.g. c.type == "Ready".
var conditionTypeRef = regexp.MustCompile(`\.type\s*==\s*"([A-Za-z0-9_.-]+)"`)

// conditionFields are the fields of a condition fed back for each type a healthPolicy reads.
var conditionFields = []string{"status", "reason", "message"}

// conditionTypes are the condition types a healthPolicy that reads context.output.status.
// conditions looks for: status.conditions is a list, and feedback values are scalars, so each
// such condition is fed back field by field (KubeVela #5207: a HelmRelease's Ready condition
// must reach the hub for its component to become healthy).
func conditionTypes(healthPolicy string) []string {
	if !strings.Contains(healthPolicy, "context.output.status.conditions") {
		return nil
	}
	set := map[string]bool{}
	for _, m := range conditionTypeRef.FindAllStringSubmatch(healthPolicy, -1) {
		set[m[1]] = true
	}
	out := make([]string, 0, len(set))
	for t := range set {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// jsonPath is the work agent's JSONPath for a feedback path: a condition's field is selected
// by its type with a filter.
func jsonPath(p string) string {
	if m := conditionPath.FindStringSubmatch(p); m != nil {
		return `.status.conditions[?(@.type=="` + m[1] + `")].` + m[2]
	}
	return p
}

var conditionPath = regexp.MustCompile(`^\.?status\.conditions\[([A-Za-z0-9_.-]+)\]\.([a-z]+)$`)

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
		paths = append(paths, workv1.JsonPath{Name: strings.TrimPrefix(p, "."), Path: jsonPath(p)})
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
		if c := conditionPath.FindStringSubmatch(v.Name); c != nil {
			setCondition(obj, c[1], c[2], value)
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

// setCondition sets field of the condition of type typ in obj.status.conditions.
func setCondition(obj map[string]any, typ, field string, value any) {
	status, ok := obj["status"].(map[string]any)
	if !ok {
		status = map[string]any{}
		obj["status"] = status
	}
	list, _ := status["conditions"].([]any)
	for _, c := range list {
		if cm, ok := c.(map[string]any); ok && cm["type"] == typ {
			cm[field] = value
			return
		}
	}
	status["conditions"] = append(list, map[string]any{"type": typ, field: value})
}
