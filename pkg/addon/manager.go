package addon

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/Masterminds/semver/v3"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/cue"
	"github.com/ferryhq/ferry/pkg/definition"
)

// FieldManager is the server-side-apply field manager of what addons install.
const FieldManager = "ferry-addon"

// Options wire addon operations to a hub.
type Options struct {
	// Client reads and writes the hub.
	Client client.Client
	// Namespace is the system namespace that holds addons' Applications, definitions and records.
	Namespace string
	// Registries are searched in order.
	Registries *Registries
	// Artifacts say where upstream artifacts come from.
	Artifacts ArtifactOptions
	// Check plans an addon's Application on the hub as the admission webhook and controller
	// will, with defs (the definitions being enabled with it) in addition to the hub's, and
	// returns warnings (e.g. kinds the controller may not apply); nil skips the check.
	Check func(ctx context.Context, app *v1beta1.Application, defs []*definition.Definition) ([]string, error)
	// KubernetesVersion and FerryVersion are the hub's, for addons' system requirements; ""
	// (or a Ferry built from source, "dev") skips that check.
	KubernetesVersion string
	FerryVersion      string
	// Engine compiles the addons' definitions before anything is applied; a default engine
	// when nil.
	Engine *cue.Engine
	// ManagedClusters lists the managed clusters: where an addon that skips the hub goes when
	// no clusters are given.
	ManagedClusters func(ctx context.Context) ([]string, error)
}

// Manager enables, upgrades, disables and reports addons on a hub.
type Manager struct{ o Options }

// NewManager returns a Manager.
func NewManager(o Options) (*Manager, error) {
	if o.Client == nil || o.Namespace == "" || o.Registries == nil {
		return nil, errors.New("addon manager: Client, Namespace and Registries are required")
	}
	if o.Engine == nil {
		o.Engine = cue.NewEngine(cue.Options{})
	}
	return &Manager{o: o}, nil
}

// checkSystem checks an addon's requirements on the hub's versions.
func (m *Manager) checkSystem(c Candidate) error {
	check := func(what, constraint, have string) error {
		if constraint == "" || have == "" || have == "dev" {
			return nil
		}
		v, err := semver.NewVersion(strings.TrimPrefix(have, "v"))
		if err != nil {
			return nil //nolint:nilerr // a version we cannot read (a source build) is not checked
		}
		// Pre-release builds of the hub (v1.34.2-rc.1, git describe output) satisfy a
		// constraint their release would.
		if v.Prerelease() != "" {
			r, _ := v.SetPrerelease("")
			v = &r
		}
		cons, err := semver.NewConstraint(constraint)
		if err != nil {
			return fmt.Errorf("%s: system.%s %q is not a semver constraint", c.Ref(), what, constraint)
		}
		if !cons.Check(v) {
			return fmt.Errorf("addon %s needs %s %s; the hub has %s", c.Ref(), what, constraint, have)
		}
		return nil
	}
	return errors.Join(check("kubernetes", c.System.Kubernetes, m.o.KubernetesVersion),
		check("ferry", c.System.Ferry, m.o.FerryVersion))
}
