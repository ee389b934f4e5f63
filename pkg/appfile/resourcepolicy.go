package appfile

import (
	"slices"
	"strings"
)

// Policy types that say how objects are applied and collected. They apply to the whole
// Application, not to a deploy step.
const (
	PolicyGarbageCollect = "garbage-collect"
	PolicyApplyOnce      = "apply-once"
	PolicySharedResource = "shared-resource"
	PolicyReadOnly       = "read-only"
	PolicyTakeOver       = "take-over"
	PolicyResourceUpdate = "resource-update"
)

// Garbage-collection strategies of a garbage-collect rule.
const (
	CollectOnAppUpdate = "onAppUpdate"
	CollectOnAppDelete = "onAppDelete"
	CollectNever       = "never"
)

// Selector picks objects by the component and trait that rendered them and by kind and name.
// Every list that is given must match; an empty selector matches everything.
type Selector struct {
	ComponentNames []string `json:"componentNames,omitempty"`
	ComponentTypes []string `json:"componentTypes,omitempty"`
	OAMTypes       []string `json:"oamTypes,omitempty"`
	TraitTypes     []string `json:"traitTypes,omitempty"`
	ResourceTypes  []string `json:"resourceTypes,omitempty"`
	ResourceNames  []string `json:"resourceNames,omitempty"`
}

// ObjectIdentity is what a Selector looks at.
type ObjectIdentity struct {
	Component, ComponentType, Trait, Kind, Name string
}

// Matches reports whether the selector picks the object.
func (s Selector) Matches(o ObjectIdentity) bool {
	oamType := "COMPONENT"
	if o.Trait != "" {
		oamType = "TRAIT"
	}
	return in(s.ComponentNames, o.Component) && in(s.ComponentTypes, o.ComponentType) &&
		in(s.OAMTypes, oamType) && in(s.TraitTypes, o.Trait) && in(s.ResourceTypes, o.Kind) &&
		in(s.ResourceNames, o.Name)
}

// in is true when list is empty or holds v (resource types compare without case).
func in(list []string, v string) bool {
	return len(list) == 0 || slices.ContainsFunc(list, func(s string) bool { return strings.EqualFold(s, v) })
}

type selectorRule struct {
	Selector Selector `json:"selector"`
}

// gcSpec is the garbage-collect policy.
type gcSpec struct {
	ApplicationRevisionLimit *int   `json:"applicationRevisionLimit,omitempty"`
	KeepLegacyResource       bool   `json:"keepLegacyResource,omitempty"`
	ContinueOnFailure        bool   `json:"continueOnFailure,omitempty"`
	Order                    string `json:"order,omitempty"`
	Rules                    []struct {
		Selector    Selector `json:"selector"`
		Strategy    string   `json:"strategy,omitempty"`
		Propagation string   `json:"propagation,omitempty"`
	} `json:"rules,omitempty"`
}

type applyOnceSpec struct {
	Enable bool `json:"enable,omitempty"`
	Rules  []struct {
		Selector Selector `json:"selector"`
		Strategy struct {
			Path   []string `json:"path"`
			Affect string   `json:"affect,omitempty"`
		} `json:"strategy"`
	} `json:"rules,omitempty"`
}

type resourceUpdateSpec struct {
	Rules []struct {
		Selector Selector `json:"selector"`
		Strategy struct {
			Op             string   `json:"op,omitempty"`
			RecreateFields []string `json:"recreateFields,omitempty"`
		} `json:"strategy"`
	} `json:"rules"`
}

// ResourcePolicies are the Application's policies about applying and collecting objects.
type ResourcePolicies struct {
	// RevisionLimit is garbage-collect's applicationRevisionLimit, nil when not set.
	RevisionLimit *int
	// KeepLegacyResource keeps objects an update no longer renders until the app is deleted.
	KeepLegacyResource bool
	// ContinueOnFailure goes on collecting other objects when one fails.
	ContinueOnFailure bool
	// DependencyOrder deletes in reverse dependsOn order.
	DependencyOrder bool

	gc             *gcSpec
	applyOnce      *applyOnceSpec
	shared         []selectorRule
	readOnly       []selectorRule
	takeOver       []selectorRule
	resourceUpdate *resourceUpdateSpec
}

// ObjectPolicy is what the resource policies say about one object.
type ObjectPolicy struct {
	// Collect is when the object is collected: onAppUpdate (default), onAppDelete or never.
	Collect string
	// Orphan leaves the object on the cluster when it is collected, only untracking it.
	Orphan bool
	// ApplyOnce: the object is created and then not updated, except for fields other than
	// IgnorePaths when IgnorePaths is not empty.
	ApplyOnce   bool
	IgnorePaths []string
	// Shared objects are owned by the first Application and read by the others.
	Shared bool
	// ReadOnly objects are never changed or deleted; they must exist.
	ReadOnly bool
	// TakeOver adopts the object when no Application owns it.
	TakeOver bool
	// Replace updates by replacing the whole object; RecreateFields are fields whose change
	// deletes and recreates it.
	Replace        bool
	RecreateFields []string
}

// For returns the policy for one object. Later rules of the same policy win.
func (p *ResourcePolicies) For(o ObjectIdentity) ObjectPolicy {
	out := ObjectPolicy{Collect: CollectOnAppUpdate}
	if p == nil {
		return out
	}
	if p.gc != nil {
		for _, r := range p.gc.Rules {
			if r.Selector.Matches(o) {
				out.Collect = orString(r.Strategy, CollectOnAppUpdate)
				out.Orphan = r.Propagation == "orphan"
			}
		}
	}
	if p.applyOnce != nil && p.applyOnce.Enable {
		out.ApplyOnce = true
		for _, r := range p.applyOnce.Rules {
			if r.Selector.Matches(o) {
				out.IgnorePaths = append(out.IgnorePaths, r.Strategy.Path...)
			}
		}
		if slices.Contains(out.IgnorePaths, "*") {
			out.IgnorePaths = nil
		}
	}
	out.Shared = anyMatch(p.shared, o)
	out.ReadOnly = anyMatch(p.readOnly, o)
	out.TakeOver = anyMatch(p.takeOver, o)
	if p.resourceUpdate != nil {
		for _, r := range p.resourceUpdate.Rules {
			if r.Selector.Matches(o) {
				out.Replace = r.Strategy.Op == "replace"
				out.RecreateFields = r.Strategy.RecreateFields
			}
		}
	}
	return out
}

func anyMatch(rules []selectorRule, o ObjectIdentity) bool {
	return slices.ContainsFunc(rules, func(r selectorRule) bool { return r.Selector.Matches(o) })
}

func orString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// addResourcePolicy decodes one of the resource policies into rp.
func addResourcePolicy(rp *ResourcePolicies, typ string, props map[string]any) error {
	switch typ {
	case PolicyGarbageCollect:
		gc := &gcSpec{}
		if err := decodeInto(props, gc); err != nil {
			return err
		}
		rp.gc, rp.RevisionLimit = gc, gc.ApplicationRevisionLimit
		rp.KeepLegacyResource, rp.ContinueOnFailure = gc.KeepLegacyResource, gc.ContinueOnFailure
		rp.DependencyOrder = gc.Order == "dependency"
	case PolicyApplyOnce:
		rp.applyOnce = &applyOnceSpec{}
		return decodeInto(props, rp.applyOnce)
	case PolicyResourceUpdate:
		rp.resourceUpdate = &resourceUpdateSpec{}
		return decodeInto(props, rp.resourceUpdate)
	case PolicySharedResource, PolicyReadOnly, PolicyTakeOver:
		var spec struct {
			Rules []selectorRule `json:"rules"`
		}
		if err := decodeInto(props, &spec); err != nil {
			return err
		}
		switch typ {
		case PolicySharedResource:
			rp.shared = append(rp.shared, spec.Rules...)
		case PolicyReadOnly:
			rp.readOnly = append(rp.readOnly, spec.Rules...)
		default:
			rp.takeOver = append(rp.takeOver, spec.Rules...)
		}
	}
	return nil
}
