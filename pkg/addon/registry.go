package addon

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// Registry is a place addons come from: a directory, the built-ins, a Git repository or an
// HTTP index.
type Registry interface {
	// Name is the registry's name, as given to `ferry addon registry add`.
	Name() string
	// Index lists every addon version the registry holds.
	Index(ctx context.Context) (*Index, error)
	// Fetch loads one version of an addon.
	Fetch(ctx context.Context, name, version string) (*Addon, error)
}

// Registries search several registries in order: for the same version of an addon, the first
// registry that has it wins.
type Registries struct {
	List []Registry
	// indexes caches each registry's index for the life of the value (one CLI command).
	indexes map[string]*Index
	errs    map[string]error
}

// NewRegistries searches list in order.
func NewRegistries(list ...Registry) *Registries {
	return &Registries{List: list, indexes: map[string]*Index{}, errs: map[string]error{}}
}

// index returns a registry's index, once per Registries.
func (rs *Registries) index(ctx context.Context, r Registry) (*Index, error) {
	if ix, ok := rs.indexes[r.Name()]; ok {
		return ix, rs.errs[r.Name()]
	}
	ix, err := r.Index(ctx)
	if err != nil {
		err = fmt.Errorf("registry %s: %w", r.Name(), err)
	}
	rs.indexes[r.Name()], rs.errs[r.Name()] = ix, err
	return ix, err
}

// Candidates implements Catalog: every version of name, newest first. A registry that cannot
// be read is skipped when another has the addon, else its error is returned.
func (rs *Registries) Candidates(ctx context.Context, name string) ([]Candidate, error) {
	seen := map[string]bool{}
	var out []Candidate
	var errs []error
	for _, r := range rs.List {
		ix, err := rs.index(ctx, r)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, e := range ix.Entries[name] {
			if seen[e.Version] {
				continue
			}
			c, err := e.candidate(r.Name())
			if err != nil {
				continue // Index reports broken entries when it is read
			}
			seen[e.Version] = true
			out = append(out, c)
		}
	}
	if len(out) == 0 && len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].semver.GreaterThan(out[j].semver) })
	return out, nil
}

// Fetch loads the version a Candidate names from its registry.
func (rs *Registries) Fetch(ctx context.Context, c Candidate) (*Addon, error) {
	for _, r := range rs.List {
		if r.Name() == c.Registry {
			a, err := r.Fetch(ctx, c.Name, c.Version)
			if err != nil {
				return nil, fmt.Errorf("fetch %s from registry %s: %w", c.Ref(), r.Name(), err)
			}
			if a.Name() != c.Name || a.Version() != c.Version {
				return nil, fmt.Errorf("registry %s: %s's package holds %s", r.Name(), c.Ref(), a.Ref())
			}
			return a, nil
		}
	}
	return nil, fmt.Errorf("no registry named %s", c.Registry)
}

// Entry is one addon version in an index.
type Entry struct {
	Name         string       `json:"name"`
	Version      string       `json:"version"`
	Description  string       `json:"description,omitempty"`
	Icon         string       `json:"icon,omitempty"`
	Tags         []string     `json:"tags,omitempty"`
	Dependencies []Dependency `json:"dependencies,omitempty"`
	System       System       `json:"system"`
	DeployTo     DeployTo     `json:"deployTo"`
	// URLs locate the package (HTTP indexes), relative to the index or absolute.
	URLs []string `json:"urls,omitempty"`
	// Digest is the package's sha256 (HTTP indexes).
	Digest string `json:"digest,omitempty"`
	// path is where a directory registry found the addon.
	path string
}

func (e Entry) candidate(registry string) (Candidate, error) {
	v, err := semver.StrictNewVersion(strings.TrimPrefix(e.Version, "v"))
	if err != nil {
		return Candidate{}, fmt.Errorf("%s@%s: version is not semver: %w", e.Name, e.Version, err)
	}
	deps := make([]Dependency, len(e.Dependencies))
	for i, d := range e.Dependencies {
		deps[i] = d
		if d.Version != "" {
			c, err := semver.NewConstraint(d.Version)
			if err != nil {
				return Candidate{}, fmt.Errorf("%s@%s: dependency %s: %q is not a semver constraint", e.Name, e.Version, d.Name, d.Version)
			}
			deps[i].constraint = c
		}
	}
	return Candidate{Name: e.Name, Version: e.Version, Registry: registry, Description: e.Description, Dependencies: deps, System: e.System, semver: v}, nil
}

// entryOf is the index entry of loaded metadata.
func entryOf(m *Metadata) Entry {
	return Entry{Name: m.Name, Version: m.Version, Description: m.Description, Icon: m.Icon, Tags: m.Tags,
		Dependencies: m.Dependencies, System: m.System, DeployTo: m.DeployTo}
}

// Index is an addon registry's index.yaml: every version of every addon, newest first.
type Index struct {
	APIVersion string             `json:"apiVersion"`
	Generated  string             `json:"generated,omitempty"`
	Entries    map[string][]Entry `json:"entries"`
	// Problems are addons the registry holds that do not load; they are left out of Entries.
	Problems []string `json:"-"`
}

// IndexAPIVersion is the apiVersion of index.yaml files.
const IndexAPIVersion = "addons.ferry.dev/v1"

func (ix *Index) add(e Entry) {
	if ix.Entries == nil {
		ix.Entries = map[string][]Entry{}
	}
	ix.Entries[e.Name] = append(ix.Entries[e.Name], e)
}

// sort orders each addon's versions newest first.
func (ix *Index) sort() {
	for _, es := range ix.Entries {
		sort.SliceStable(es, func(i, j int) bool {
			a, errA := semver.NewVersion(es[i].Version)
			b, errB := semver.NewVersion(es[j].Version)
			if errA != nil || errB != nil {
				return es[i].Version > es[j].Version
			}
			return a.GreaterThan(b)
		})
	}
}

// find returns the entry of name at version.
func (ix *Index) find(name, version string) (Entry, bool) {
	for _, e := range ix.Entries[name] {
		if e.Version == version {
			return e, true
		}
	}
	return Entry{}, false
}
