package addon

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/definition"
)

// Users are what would break if an addon went away.
type Users struct {
	// Applications use one of its definitions, as NAMESPACE/NAME (TYPE).
	Applications []string
	// Addons depend on it.
	Addons []string
}

// Empty reports whether nothing uses the addon.
func (u Users) Empty() bool { return len(u.Applications) == 0 && len(u.Addons) == 0 }

func (u Users) String() string {
	var parts []string
	if len(u.Applications) > 0 {
		parts = append(parts, "applications "+strings.Join(u.Applications, ", "))
	}
	if len(u.Addons) > 0 {
		parts = append(parts, "addons "+strings.Join(u.Addons, ", "))
	}
	return strings.Join(parts, "; ")
}

// UsersOf lists the Applications that use the addon's definitions (its own Application aside)
// and the enabled addons that depend on it.
func (m *Manager) UsersOf(ctx context.Context, rec *Record) (Users, error) {
	var u Users
	records, err := Records(ctx, m.o.Client, m.o.Namespace)
	if err != nil {
		return u, err
	}
	for _, r := range records {
		for _, d := range r.Dependencies {
			if d == rec.Name {
				u.Addons = append(u.Addons, r.Name)
			}
		}
	}
	sort.Strings(u.Addons)
	types := map[string]bool{}
	for _, k := range rec.Definitions {
		types[k] = true
	}
	if len(types) == 0 {
		return u, nil
	}
	var apps v1beta1.ApplicationList
	if err := m.o.Client.List(ctx, &apps); err != nil {
		return u, fmt.Errorf("list applications: %w", err)
	}
	for i := range apps.Items {
		app := &apps.Items[i]
		if app.Namespace == m.o.Namespace && app.Name == rec.Application {
			continue
		}
		if used := usedTypes(app, types); len(used) > 0 {
			u.Applications = append(u.Applications, fmt.Sprintf("%s/%s (%s)", app.Namespace, app.Name, strings.Join(used, ", ")))
		}
	}
	sort.Strings(u.Applications)
	return u, nil
}

// usedTypes are the KIND/NAME keys in types that app uses.
func usedTypes(app *v1beta1.Application, types map[string]bool) []string {
	set := map[string]bool{}
	use := func(kind definition.Kind, name string) {
		if k := defKey(kind, name); types[k] {
			set[string(kind)+" "+name] = true
		}
	}
	for _, c := range app.Spec.Components {
		use(definition.KindComponent, c.Type)
		for _, t := range c.Traits {
			use(definition.KindTrait, t.Type)
		}
	}
	for _, p := range app.Spec.Policies {
		use(definition.KindPolicy, p.Type)
	}
	if app.Spec.Workflow != nil {
		for _, s := range app.Spec.Workflow.Steps {
			use(definition.KindWorkflowStep, s.Type)
			for _, sub := range s.SubSteps {
				use(definition.KindWorkflowStep, sub.Type)
			}
		}
	}
	return sortedKeys(set)
}

// DisableOptions say how to disable.
type DisableOptions struct {
	// Force disables even while Applications or addons use the addon.
	Force bool
	// Wait is how long to wait for the addon's Application and what it delivered to be gone.
	Wait time.Duration
}

// ErrInUse is returned when an addon is used and Force is not set.
var ErrInUse = errors.New("addon in use")

// Disable removes an addon: its Application (the controller deletes what it delivered,
// exactly what its resource trackers record), its definitions and its record. It refuses, with
// ErrInUse and the users' names, while Applications use its definitions or enabled addons
// depend on it, unless Force. It returns who was using it.
func (m *Manager) Disable(ctx context.Context, name string, o DisableOptions) (Users, error) {
	rec, err := GetRecord(ctx, m.o.Client, m.o.Namespace, name)
	if err != nil {
		return Users{}, err
	}
	if rec == nil {
		return Users{}, fmt.Errorf("addon %s is not enabled", name)
	}
	users, err := m.UsersOf(ctx, rec)
	if err != nil {
		return users, err
	}
	if !users.Empty() && !o.Force {
		return users, fmt.Errorf("%w: addon %s is used by %s; remove them first, or disable with --force (they will break)", ErrInUse, name, users)
	}
	if rec.Application != "" {
		if err := m.deleteApp(ctx, rec.Application); err != nil {
			return users, err
		}
		if o.Wait > 0 {
			if err := m.waitGone(ctx, rec.Application, o.Wait); err != nil {
				return users, err
			}
		}
	}
	if err := m.removeDefinitions(ctx, name, rec.Definitions); err != nil {
		return users, err
	}
	sec, err := rec.Secret(m.o.Namespace)
	if err != nil {
		return users, err
	}
	if err := m.o.Client.Delete(ctx, sec); err != nil && !apierrors.IsNotFound(err) {
		return users, fmt.Errorf("delete addon record %s: %w", sec.Name, err)
	}
	return users, nil
}

func (m *Manager) waitGone(ctx context.Context, app string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := m.o.Client.Get(ctx, client.ObjectKey{Namespace: m.o.Namespace, Name: app}, &v1beta1.Application{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("application %s/%s is still being deleted after %s (is the controller running? ferry status %s -n %s)", m.o.Namespace, app, timeout, app, m.o.Namespace)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func newDefinitionObject(kind string) (client.Object, error) {
	k, err := definition.ParseKind(kind)
	if err != nil {
		return nil, err
	}
	return definition.NewObject(k), nil
}
