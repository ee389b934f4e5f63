package addon

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/api/v1beta1"
)

// States of an enabled addon, from its Application's real phase and health.
const (
	StateEnabling = "enabling"
	StateEnabled  = "enabled"
	StateDegraded = "degraded"
	StateFailed   = "failed"
	StateDisabled = "disabled"
)

// ComponentHealth is one component of the addon on one cluster.
type ComponentHealth struct {
	Component string `json:"component"`
	Cluster   string `json:"cluster"`
	Healthy   bool   `json:"healthy"`
	Message   string `json:"message,omitempty"`
}

// Status is an enabled addon as the hub shows it.
type Status struct {
	Name     string `json:"name"`
	Version  string `json:"version"`
	Registry string `json:"registry"`
	State    string `json:"state"`
	// Reason says why the addon is not enabled yet, degraded or failed.
	Reason string `json:"reason,omitempty"`
	// Parameters are the recorded parameters with secret-looking values masked.
	Parameters   map[string]any    `json:"parameters,omitempty"`
	Clusters     []string          `json:"clusters,omitempty"`
	Selector     map[string]string `json:"clusterSelector,omitempty"`
	Dependencies []string          `json:"dependencies,omitempty"`
	Definitions  []string          `json:"definitions,omitempty"`
	Components   []ComponentHealth `json:"components,omitempty"`
	AsDependency bool              `json:"asDependency,omitempty"`
	// Retrying is set on a failed addon whose Application the controller keeps trying to
	// apply (e.g. a CRD the same Application brings is not served yet): it may still succeed.
	Retrying bool `json:"retrying,omitempty"`
}

// Status reports one enabled addon; State is StateDisabled when it is not enabled.
func (m *Manager) Status(ctx context.Context, name string) (*Status, error) {
	rec, err := GetRecord(ctx, m.o.Client, m.o.Namespace, name)
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return &Status{Name: name, State: StateDisabled}, nil
	}
	return m.status(ctx, rec)
}

// Statuses reports every enabled addon, by name.
func (m *Manager) Statuses(ctx context.Context) (map[string]*Status, error) {
	records, err := Records(ctx, m.o.Client, m.o.Namespace)
	if err != nil {
		return nil, err
	}
	out := map[string]*Status{}
	for name, rec := range records {
		if out[name], err = m.status(ctx, rec); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (m *Manager) status(ctx context.Context, rec *Record) (*Status, error) {
	s := &Status{Name: rec.Name, Version: rec.Version, Registry: rec.Registry, Parameters: Mask(rec.Parameters),
		Clusters: rec.Clusters, Selector: rec.ClusterSelector, Dependencies: rec.Dependencies, Definitions: rec.Definitions,
		AsDependency: rec.AsDependency}
	var missing []string
	for _, k := range rec.Definitions {
		if ok, err := m.definitionExists(ctx, k); err != nil {
			return nil, err
		} else if !ok {
			missing = append(missing, k)
		}
	}
	if rec.Application == "" {
		s.State = StateEnabled
		if len(missing) > 0 {
			s.State, s.Reason = StateFailed, "definitions missing: "+strings.Join(missing, ", ")
		}
		return s, nil
	}
	app := &v1beta1.Application{}
	err := m.o.Client.Get(ctx, client.ObjectKey{Namespace: m.o.Namespace, Name: rec.Application}, app)
	if apierrors.IsNotFound(err) {
		s.State, s.Reason = StateFailed, fmt.Sprintf("its application %s/%s is missing", m.o.Namespace, rec.Application)
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read application %s: %w", rec.Application, err)
	}
	for _, svc := range app.Status.Services {
		cluster := svc.Cluster
		if cluster == "" {
			cluster = "local"
		}
		s.Components = append(s.Components, ComponentHealth{Component: svc.Name, Cluster: cluster, Healthy: svc.Healthy, Message: svc.Message})
	}
	sort.Slice(s.Components, func(i, j int) bool {
		if s.Components[i].Cluster != s.Components[j].Cluster {
			return s.Components[i].Cluster < s.Components[j].Cluster
		}
		return s.Components[i].Component < s.Components[j].Component
	})
	s.State, s.Reason = appState(app)
	s.Retrying = s.State == StateFailed && app.Status.Phase == v1beta1.ApplicationRunningWorkflow
	if len(missing) > 0 && s.State != StateFailed {
		s.State, s.Reason = StateDegraded, "definitions missing: "+strings.Join(missing, ", ")
	}
	return s, nil
}

// appState maps an Application's phase, conditions and health to an addon state; "enabled"
// only when the app's current generation runs and every component is healthy.
func appState(app *v1beta1.Application) (string, string) {
	for _, cond := range []string{v1beta1.ConditionRendered, v1beta1.ConditionApplied} {
		if c := meta.FindStatusCondition(app.Status.Conditions, cond); c != nil && c.Status == "False" &&
			c.ObservedGeneration == app.Generation {
			return StateFailed, c.Message
		}
	}
	switch app.Status.Phase {
	case v1beta1.ApplicationWorkflowFailed, v1beta1.ApplicationWorkflowTerminated:
		return StateFailed, workflowReason(app)
	case v1beta1.ApplicationUnhealthy:
		return StateDegraded, unhealthyReason(app)
	case v1beta1.ApplicationRunning:
		if app.Status.ObservedGeneration != app.Generation {
			return StateEnabling, "the controller has not seen the latest change yet"
		}
		if r := unhealthyReason(app); r != "" {
			return StateDegraded, r
		}
		return StateEnabled, ""
	case "":
		return StateEnabling, "the controller has not picked the application up yet"
	}
	reason := fmt.Sprintf("application is %s", app.Status.Phase)
	if r := workflowReason(app); r != "" {
		reason += ": " + r
	}
	return StateEnabling, reason
}

func workflowReason(app *v1beta1.Application) string {
	if app.Status.Workflow == nil {
		return string(app.Status.Phase)
	}
	for _, st := range app.Status.Workflow.Steps {
		if st.Phase == "failed" || (st.Message != "" && st.Phase != "succeeded") {
			return fmt.Sprintf("step %s %s: %s", st.Name, st.Phase, st.Message)
		}
	}
	if app.Status.Workflow.Message != "" {
		return app.Status.Workflow.Message
	}
	return string(app.Status.Phase)
}

func unhealthyReason(app *v1beta1.Application) string {
	var bad []string
	for _, svc := range app.Status.Services {
		if !svc.Healthy {
			msg := svc.Name + " on " + svc.Cluster
			if svc.Message != "" {
				msg += ": " + svc.Message
			}
			bad = append(bad, msg)
		}
	}
	sort.Strings(bad)
	if len(bad) == 0 {
		return ""
	}
	return "unhealthy: " + strings.Join(bad, "; ")
}

func (m *Manager) definitionExists(ctx context.Context, key string) (bool, error) {
	kind, name, _ := strings.Cut(key, "/")
	obj, err := newDefinitionObject(kind)
	if err != nil {
		return false, nil //nolint:nilerr // a record from a newer Ferry with a kind this one lacks
	}
	err = m.o.Client.Get(ctx, client.ObjectKey{Namespace: m.o.Namespace, Name: name}, obj)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

var secretName = regexp.MustCompile(`(?i)(password|passwd|secret|token|apikey|api_key|privatekey|private_key|credential)`)

// Mask returns params with the values of secret-looking keys (password, token, secret, ...)
// replaced by "******".
func Mask(params map[string]any) map[string]any {
	if params == nil {
		return nil
	}
	out := map[string]any{}
	for k, v := range params {
		switch {
		case secretName.MatchString(k):
			out[k] = "******"
		default:
			if sub, ok := v.(map[string]any); ok {
				out[k] = Mask(sub)
			} else {
				out[k] = v
			}
		}
	}
	return out
}
