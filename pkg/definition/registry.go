package definition

import (
	"context"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ferryhq/ferry/definitions"
	"github.com/ferryhq/ferry/pkg/suggest"
)

// Registry holds definitions by kind and name.
type Registry struct {
	defs map[Kind]map[string]*Definition
}

// New returns an empty registry.
func New() *Registry {
	return &Registry{defs: map[Kind]map[string]*Definition{}}
}

// builtinAliases are older KubeVela names of built-in definitions, kept so that Applications
// written with them run: each is the definition in file, under the old name, marked deprecated.
var builtinAliases = []struct {
	kind       Kind
	name, file string
}{
	{KindWorkflowStep, "webhook-notification", "workflowsteps/notification.cue"},
}

// Builtin returns a registry holding Ferry's embedded definition library.
func Builtin() (*Registry, error) {
	r := New()
	if err := r.LoadFS(definitions.FS, true); err != nil {
		return nil, fmt.Errorf("load built-in definitions: %w", err)
	}
	for _, a := range builtinAliases {
		data, err := fs.ReadFile(definitions.FS, a.file)
		if err != nil {
			return nil, fmt.Errorf("load built-in definitions: alias %s: %w", a.name, err)
		}
		defs, err := Parse(path.Join("definitions", a.file), data)
		if err != nil {
			return nil, fmt.Errorf("load built-in definitions: alias %s of %s: %w", a.name, a.file, err)
		}
		if len(defs) != 1 || defs[0].Kind != a.kind {
			return nil, fmt.Errorf("load built-in definitions: alias %s: %s does not hold one %s", a.name, a.file, a.kind)
		}
		d := defs[0]
		target := d.Name
		d.Name, d.Builtin = a.name, true
		d.Description = fmt.Sprintf("Deprecated (use %s): %s", target, d.Description)
		d.Annotations = maps.Clone(d.Annotations)
		if d.Annotations == nil {
			d.Annotations = map[string]string{}
		}
		d.Annotations["definition.oam.dev/deprecated"] = target
		r.Add(d)
	}
	return r, nil
}

// Add adds a definition, replacing one of the same kind and name.
func (r *Registry) Add(d *Definition) {
	if r.defs[d.Kind] == nil {
		r.defs[d.Kind] = map[string]*Definition{}
	}
	r.defs[d.Kind][d.Name] = d
}

// NotFoundError says a type name is unknown, with the closest known name.
type NotFoundError struct {
	Kind  Kind
	Name  string
	Known []string
}

func (e *NotFoundError) Error() string {
	msg := fmt.Sprintf("unknown %s type %q", e.Kind, e.Name)
	if hint := suggest.Hint(e.Name, e.Known); hint != "" {
		return msg + hint
	}
	if len(e.Known) > 0 {
		return msg + "; known types: " + strings.Join(e.Known, ", ")
	}
	return msg
}

// Get resolves a type name.
func (r *Registry) Get(kind Kind, name string) (*Definition, error) {
	if d, ok := r.defs[kind][name]; ok {
		return d, nil
	}
	return nil, &NotFoundError{Kind: kind, Name: name, Known: r.names(kind)}
}

// Definition implements the planner's definition source: a registry holds the same
// definitions for every namespace.
func (r *Registry) Definition(_ context.Context, _ string, kind Kind, name string) (*Definition, error) {
	return r.Get(kind, name)
}

// Lookup finds a definition by name in any kind, components first.
func (r *Registry) Lookup(name string) (*Definition, bool) {
	for _, k := range Kinds {
		if d, ok := r.defs[k][name]; ok {
			return d, true
		}
	}
	return nil, false
}

// List returns the definitions of a kind sorted by name.
func (r *Registry) List(kind Kind) []*Definition {
	out := make([]*Definition, 0, len(r.defs[kind]))
	for _, d := range r.defs[kind] {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (r *Registry) names(kind Kind) []string {
	var names []string
	for _, d := range r.List(kind) {
		names = append(names, d.Name)
	}
	return names
}

// LoadFS loads every .cue, .yaml and .yml file of a file system, recursively.
func (r *Registry) LoadFS(fsys fs.FS, builtin bool) error {
	var errs []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !isDefinitionFile(p) {
			return nil
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		name := p
		if builtin {
			name = path.Join("definitions", p)
		}
		defs, err := Parse(name, data)
		if err != nil {
			errs = append(errs, err.Error())
			return nil
		}
		for _, def := range defs {
			def.Builtin = builtin
			r.Add(def)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return nil
}

// LoadDir loads the definitions of a directory (recursively) or of a single file. They override
// definitions already in the registry.
func (r *Registry) LoadDir(dir string) error {
	info, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("load definitions: %w", err)
	}
	if !info.IsDir() {
		data, err := os.ReadFile(dir)
		if err != nil {
			return fmt.Errorf("load definitions: %w", err)
		}
		defs, err := Parse(dir, data)
		if err != nil {
			return err
		}
		for _, d := range defs {
			r.Add(d)
		}
		return nil
	}
	var errs []string
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !isDefinitionFile(p) {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		defs, err := Parse(p, data)
		if err != nil {
			errs = append(errs, err.Error())
			return nil
		}
		for _, def := range defs {
			r.Add(def)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("load definitions from %s: %w", dir, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	return nil
}

// isDefinitionFile reports whether a file holds definitions: .cue and YAML files, but not the
// golden test files `ferry def test` reads (NAME.test.yaml).
func isDefinitionFile(p string) bool {
	if strings.HasSuffix(p, ".test.yaml") || strings.HasSuffix(p, ".test.yml") {
		return false
	}
	switch path.Ext(p) {
	case ".cue", ".yaml", ".yml":
		return true
	}
	return false
}

// Parse reads one definition file: a CUE definition file (.cue) or definition CRs (YAML).
func Parse(filename string, data []byte) ([]*Definition, error) {
	if strings.HasSuffix(filename, ".cue") {
		d, err := ParseCUE(filename, data)
		if err != nil {
			return nil, err
		}
		return []*Definition{d}, nil
	}
	return ParseYAML(filename, data)
}
