package appfile

import (
	"fmt"
	"slices"
	"strings"
)

// checkTraitRules enforces the traits' appliesToWorkloads and conflictsWith against the
// component and its rendered workload. It reports problems and returns false on any.
func (r *run) checkTraitRules(c *component, workload map[string]any, subject string) bool {
	ok := true
	types := workloadTypes(c, workload)
	for i, tr := range c.traits {
		def, err := r.traitDefinition(tr)
		if err != nil {
			continue // reported when the trait is applied
		}
		if applies := def.AppliesToWorkloads; len(applies) > 0 && !slices.Contains(applies, "*") && !intersects(applies, types) {
			r.addError(r.af.Where(tr.path+".type"), fmt.Sprintf("%s: trait %q", subject, tr.typ),
				fmt.Sprintf("does not apply to this component (%s); it applies to %s", strings.Join(types, ", "), strings.Join(applies, ", ")))
			ok = false
		}
		for _, other := range c.traits[i+1:] {
			otherDef, err := r.traitDefinition(other)
			if err != nil {
				continue
			}
			if slices.Contains(def.ConflictsWith, other.typ) || slices.Contains(otherDef.ConflictsWith, tr.typ) {
				r.addError(r.af.Where(other.path+".type"), fmt.Sprintf("%s: trait %q", subject, other.typ),
					fmt.Sprintf("conflicts with trait %q on the same component; use one of them", tr.typ))
				ok = false
			}
		}
	}
	return ok
}

// workloadTypes are the names a trait's appliesToWorkloads may use for a component: its type,
// its definition's workload type (deployments.apps), and the resource of what it rendered.
func workloadTypes(c *component, workload map[string]any) []string {
	types := []string{c.typ}
	if t := c.def.Workload.Type; t != "" && t != "autodetects.core.oam.dev" {
		types = append(types, t)
	}
	if res := resourceOf(workload); res != "" && !slices.Contains(types, res) {
		types = append(types, res)
	}
	return types
}

// resourceOf is the resource.group of an object, e.g. deployments.apps.
func resourceOf(obj map[string]any) string {
	group, resource := GroupResource(obj)
	if resource == "" || group == "" {
		return resource
	}
	return resource + "." + group
}

// GroupResource guesses the API group and plural resource of an object from its apiVersion and
// kind, as Kubernetes pluralises built-in kinds (Deployment → apps, deployments; Ingress →
// networking.k8s.io, ingresses). With a cluster, a REST mapper knows better.
func GroupResource(obj map[string]any) (group, resource string) {
	kind, _ := obj["kind"].(string)
	apiVersion, _ := obj["apiVersion"].(string)
	if kind == "" {
		return "", ""
	}
	plural := strings.ToLower(kind)
	switch {
	case strings.HasSuffix(plural, "s"), strings.HasSuffix(plural, "x"), strings.HasSuffix(plural, "ch"):
		plural += "es"
	case strings.HasSuffix(plural, "y") && !strings.HasSuffix(plural, "ey"):
		plural = plural[:len(plural)-1] + "ies"
	default:
		plural += "s"
	}
	if i := strings.LastIndex(apiVersion, "/"); i >= 0 {
		group = apiVersion[:i]
	}
	return group, plural
}

func intersects(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}
