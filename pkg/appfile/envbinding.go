package appfile

import (
	"fmt"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/workflow"
)

// envBindingSpec are the properties of KubeVela's deprecated env-binding policy.
type envBindingSpec struct {
	Envs []struct {
		Name      string `json:"name"`
		Placement struct {
			ClusterSelector *struct {
				Name   string            `json:"name,omitempty"`
				Labels map[string]string `json:"labels,omitempty"`
			} `json:"clusterSelector,omitempty"`
			NamespaceSelector *struct {
				Name   string            `json:"name,omitempty"`
				Labels map[string]string `json:"labels,omitempty"`
			} `json:"namespaceSelector,omitempty"`
		} `json:"placement"`
		Selector struct {
			Components []string `json:"components,omitempty"`
		} `json:"selector"`
		Patch struct {
			Components []overrideComponent `json:"components,omitempty"`
		} `json:"patch"`
	} `json:"envs"`
}

// environment is one environment of an env-binding policy, as the topology and override
// policies it amounts to. A deploy2env step deploys it as a deploy step with those two
// policies. An environment that cannot be planned has none (its problem is reported).
type environment struct {
	name     string
	policies []*policy
}

// resolveEnvBinding turns an env-binding policy's environments into topology and override
// policies, reporting what cannot be planned at the field that says it.
func (r *run) resolveEnvBinding(pol *policy, props map[string]any, subject string) bool {
	var spec envBindingSpec
	if err := decodeInto(props, &spec); err != nil {
		r.addError(r.af.Where(pol.path+".properties"), subject, err.Error())
		return false
	}
	seen := map[string]bool{}
	ok := true
	for i, env := range spec.Envs {
		where := fmt.Sprintf("%s.properties.envs[%d]", pol.path, i)
		envSubject := fmt.Sprintf("%s, env %q", subject, env.Name)
		if seen[env.Name] {
			r.addError(r.af.Where(where+".name"), subject, fmt.Sprintf("env %q is given twice", env.Name))
			ok = false
			continue
		}
		seen[env.Name] = true
		topo := &topologySpec{Clusters: []string{LocalCluster}}
		if cs := env.Placement.ClusterSelector; cs != nil {
			if len(cs.Labels) > 0 {
				topo = &topologySpec{ClusterLabelSelector: cs.Labels}
			} else if cs.Name != "" {
				topo.Clusters = []string{cs.Name}
			}
		}
		if ns := env.Placement.NamespaceSelector; ns != nil {
			if len(ns.Labels) > 0 {
				r.addError(r.af.Where(where+".placement.namespaceSelector.labels"), envSubject,
					"selecting namespaces by labels is not supported: Ferry plans without reading the cluster; give the namespace's name")
				ok = false
				pol.envs = append(pol.envs, environment{name: env.Name})
				continue
			}
			topo.Namespace = ns.Name
		}
		topology := &policy{name: pol.name, typ: pol.typ, path: pol.path, topology: topo}
		r.checkTopology(topology, envSubject, where+".placement")
		override := &overrideSpec{Components: env.Patch.Components, Selector: env.Selector.Components}
		normalizeOverride(override)
		r.checkOverride(override, envSubject, where+".patch.components", where+".selector.components")
		pol.envs = append(pol.envs, environment{name: env.Name, policies: []*policy{topology,
			{name: pol.name, typ: pol.typ, path: pol.path, override: override}}})
	}
	return ok
}

// deploy2envStep plans a deploy2env step: the environment it names, of the env-binding policy it
// names or the first one.
func (r *run) deploy2envStep(s workflow.Step) (deployStep, bool) {
	var props struct {
		Policy string `json:"policy"`
		Env    string `json:"env"`
	}
	if err := decodeInto(s.Properties, &props); err != nil || props.Env == "" {
		return deployStep{}, false // the step's parameters are checked against its definition
	}
	subject := workflow.StepSubject(s.Name, s.Type)
	where := s.Path + ".properties"
	var pol *policy
	for i, ap := range r.app.Spec.Policies {
		if ap.Type != workflow.PolicyEnvBinding {
			continue
		}
		key := v1beta1.PolicyKey(i, ap)
		if props.Policy == "" || props.Policy == key {
			pol = r.policies[key]
			if pol == nil {
				return deployStep{}, false // the policy has problems, already reported
			}
			break
		}
	}
	if pol == nil {
		if s.Path == "" {
			return deployStep{}, false
		}
		if props.Policy == "" {
			r.addError(r.af.Where(where), subject, "the Application has no env-binding policy")
		} else {
			r.addError(r.af.Where(where+".policy"), subject, fmt.Sprintf("policy %q is not an env-binding policy of the Application", props.Policy))
		}
		return deployStep{}, false
	}
	for _, env := range pol.envs {
		if env.name == props.Env {
			return deployStep{name: s.Name, auto: true, policies: env.policies}, env.policies != nil
		}
	}
	if s.Path != "" {
		r.addError(r.af.Where(where+".env"), subject, fmt.Sprintf("policy %q has no env %q", pol.name, props.Env))
	}
	return deployStep{}, false
}
