package definition

import (
	"context"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/ferryhq/ferry/definitions"
	"github.com/ferryhq/ferry/pkg/suggest"
)

// Registry holds definitions by kind and name.
type Registry struct {
	defs map[Kind]map[string]*Definition
	// lazy are built-in definitions not asked for yet: a command that renders a few types
	// does not parse the whole library first.
	lazy map[Kind]map[string]*lazyDefinition
}

// lazyDefinition is a definition parsed when it is first asked for.
type lazyDefinition struct {
	once  sync.Once
	parse func() (*Definition, error)
	def   *Definition
	err   error
}

func (l *lazyDefinition) get() (*Definition, error) {
	l.once.Do(func() { l.def, l.err = l.parse() })
	return l.def, l.err
}

// New returns an empty registry.
func New() *Registry {
	return &Registry{defs: map[Kind]map[string]*Definition{}, lazy: map[Kind]map[string]*lazyDefinition{}}
}

// builtinAliases are older KubeVela names of built-in definitions, kept so that Applications
// written with them run: each is the definition in file, under the old name, marked deprecated.
var builtinAliases = []struct {
	kind       Kind
	name, file string
}{
	{KindWorkflowStep, "webhook-notification", "workflowsteps/notification.cue"},
}

// builtinFolders are the folders of the built-in library, one per kind.
var builtinFolders = []struct {
	kind   Kind
	folder string
}{
	{KindComponent, "components"}, {KindTrait, "traits"}, {KindPolicy, "policies"}, {KindWorkflowStep, "workflowsteps"},
}

// Builtin returns a registry holding Ferry's embedded definition library. A built-in file
// holds the definition its name says, of its folder's kind (TestBuiltinFiles checks them all),
// so the registry knows every name at once and parses a definition when it is first asked for
// (the whole library takes some 8 ms to parse; `ferry dry-run` of a typical app needs a few).
func Builtin() (*Registry, error) {
	r := New()
	for _, f := range builtinFolders {
		entries, err := fs.ReadDir(definitions.FS, f.folder)
		if err != nil {
			return nil, fmt.Errorf("load built-in definitions: %w", err)
		}
		for _, e := range entries {
			name, ok := strings.CutSuffix(e.Name(), ".cue")
			if !ok || e.IsDir() {
				continue
			}
			file := f.folder + "/" + e.Name()
			r.addLazy(f.kind, name, func() (*Definition, error) { return parseBuiltin(f.kind, name, file) })
		}
	}
	for _, a := range builtinAliases {
		target := strings.TrimSuffix(path.Base(a.file), ".cue")
		r.addLazy(a.kind, a.name, func() (*Definition, error) {
			d, err := parseBuiltin(a.kind, target, a.file)
			if err != nil {
				return nil, fmt.Errorf("alias %s: %w", a.name, err)
			}
			d.Name = a.name
			d.Description = fmt.Sprintf("Deprecated (use %s): %s", target, d.Description)
			d.Annotations = maps.Clone(d.Annotations)
			if d.Annotations == nil {
				d.Annotations = map[string]string{}
			}
			d.Annotations["definition.oam.dev/deprecated"] = target
			return d, nil
		})
	}
	return r, nil
}

// parseBuiltin parses a built-in definition file, which must hold the one definition named.
func parseBuiltin(kind Kind, name, file string) (*Definition, error) {
	data, err := fs.ReadFile(definitions.FS, file)
	if err != nil {
		return nil, fmt.Errorf("load built-in definition %s: %w", name, err)
	}
	defs, err := Parse(path.Join("definitions", file), data)
	if err != nil {
		return nil, fmt.Errorf("load built-in definition %s: %w", name, err)
	}
	if len(defs) != 1 || defs[0].Kind != kind || defs[0].Name != name {
		return nil, fmt.Errorf("load built-in definition %s: definitions/%s must hold one %s named %s", name, file, kind, name)
	}
	defs[0].Builtin = true
	return defs[0], nil
}

func (r *Registry) addLazy(kind Kind, name string, parse func() (*Definition, error)) {
	if r.lazy[kind] == nil {
		r.lazy[kind] = map[string]*lazyDefinition{}
	}
	r.lazy[kind][name] = &lazyDefinition{parse: parse}
	delete(r.defs[kind], name)
}

// Add adds a definition, replacing one of the same kind and name.
func (r *Registry) Add(d *Definition) {
	if r.defs[d.Kind] == nil {
		r.defs[d.Kind] = map[string]*Definition{}
	}
	r.defs[d.Kind][d.Name] = d
	delete(r.lazy[d.Kind], d.Name)
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
	if l, ok := r.lazy[kind][name]; ok {
		return l.get()
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
		if l, ok := r.lazy[k][name]; ok {
			if d, err := l.get(); err == nil {
				return d, true
			}
		}
	}
	return nil, false
}

// List returns the definitions of a kind sorted by name. A built-in definition that does not
// parse (a defect TestBuiltinFiles catches) is left out; Get reports its error.
func (r *Registry) List(kind Kind) []*Definition {
	out := make([]*Definition, 0, len(r.defs[kind])+len(r.lazy[kind]))
	for _, d := range r.defs[kind] {
		out = append(out, d)
	}
	for _, l := range r.lazy[kind] {
		if d, err := l.get(); err == nil {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (r *Registry) names(kind Kind) []string {
	names := make([]string, 0, len(r.defs[kind])+len(r.lazy[kind]))
	for name := range r.defs[kind] {
		names = append(names, name)
	}
	for name := range r.lazy[kind] {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
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
	var files []definitionFile
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
		files = append(files, definitionFile{name: p, data: data})
		return nil
	})
	if err != nil {
		return fmt.Errorf("load definitions from %s: %w", dir, err)
	}
	return r.addFiles(files, false)
}

// definitionFile is a definition file read for parsing: its name in errors and its content.
type definitionFile struct {
	name string
	data []byte
}

// addFiles parses files on every core (parsing is most of loading a library: the built-in
// one takes some 8 ms on one core) and adds their definitions in the files' order, so a later
// file overrides an earlier one as when they are read one by one. Every file's problems are
// reported together.
func (r *Registry) addFiles(files []definitionFile, builtin bool) error {
	parsed := make([][]*Definition, len(files))
	errs := make([]error, len(files))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(files)) {
		wg.Go(func() {
			for i := range next {
				parsed[i], errs[i] = Parse(files[i].name, files[i].data)
			}
		})
	}
	for i := range files {
		next <- i
	}
	close(next)
	wg.Wait()
	var problems []string
	for i, defs := range parsed {
		if errs[i] != nil {
			problems = append(problems, errs[i].Error())
			continue
		}
		for _, def := range defs {
			def.Builtin = builtin
			r.Add(def)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "\n"))
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
