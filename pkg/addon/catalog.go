package addon

import "context"

// CatalogEntry is one addon across the registries.
type CatalogEntry struct {
	Name        string
	Description string
	// Registry is the first registry that has it; Versions are its versions in all of them,
	// newest first, and ByRegistry each registry's, in search order.
	Registry   string
	Versions   []string
	ByRegistry []RegistryVersions
	// Status is the enabled addon's state; nil when it is not enabled.
	Status *Status
}

// RegistryVersions are the versions of an addon one registry has, newest first.
type RegistryVersions struct {
	Registry string
	Versions []string
}

// CatalogView is every addon the registries offer or the hub has enabled.
type CatalogView struct {
	Addons []CatalogEntry
	// Problems are registries that could not be read and addons that do not load.
	Problems []string
}

// Catalog lists every addon of every registry with the enabled version and its state.
func (m *Manager) Catalog(ctx context.Context) (*CatalogView, error) {
	statuses, err := m.Statuses(ctx)
	if err != nil {
		return nil, err
	}
	view := &CatalogView{}
	byName := map[string]*CatalogEntry{}
	for _, r := range m.o.Registries.List {
		ix, err := m.o.Registries.index(ctx, r)
		if err != nil {
			view.Problems = append(view.Problems, err.Error())
			continue
		}
		view.Problems = append(view.Problems, ix.Problems...)
		for _, name := range sortedKeys(ix.Entries) {
			e := byName[name]
			if e == nil {
				e = &CatalogEntry{Name: name, Registry: r.Name(), Description: ix.Entries[name][0].Description}
				byName[name] = e
			}
			rv := RegistryVersions{Registry: r.Name()}
			for _, v := range ix.Entries[name] {
				rv.Versions = append(rv.Versions, v.Version)
				if !contains(e.Versions, v.Version) {
					e.Versions = append(e.Versions, v.Version)
				}
			}
			e.ByRegistry = append(e.ByRegistry, rv)
		}
	}
	for name, st := range statuses {
		e := byName[name]
		if e == nil {
			e = &CatalogEntry{Name: name, Registry: st.Registry}
			byName[name] = e
		}
		e.Status = st
	}
	for _, name := range sortedKeys(byName) {
		e := byName[name]
		sortVersions(e.Versions)
		view.Addons = append(view.Addons, *e)
	}
	return view, nil
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func sortVersions(vs []string) {
	ix := &Index{Entries: map[string][]Entry{"x": nil}}
	for _, v := range vs {
		ix.Entries["x"] = append(ix.Entries["x"], Entry{Version: v})
	}
	ix.sort()
	for i, e := range ix.Entries["x"] {
		vs[i] = e.Version
	}
}
