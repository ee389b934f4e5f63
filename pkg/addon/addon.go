package addon

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/ferryhq/ferry/pkg/definition"
)

// Files an addon may hold besides metadata.yaml.
const (
	ParameterFile    = "parameter.cue"
	TemplateCUEFile  = "template.cue"
	TemplateYAMLFile = "template.yaml"
	ReadmeFile       = "README.md"
	ResourcesDir     = "resources"
	DefinitionsDir   = "definitions"
)

// ignoredDirs hold KubeVela UI extensions Ferry has no use for; they load with a warning.
var ignoredDirs = map[string]bool{"schemas": true, "views": true, "config-templates": true, "ui-schemas": true}

// Addon is one version of an addon, loaded and checked.
type Addon struct {
	Metadata *Metadata
	// Origin says where the addon came from (a directory, a registry and URL).
	Origin string
	// Files are all of the addon's files by slash-separated path: what a package holds.
	Files map[string][]byte
	// Definitions are the definitions under definitions/, in file order.
	Definitions []*definition.Definition
	// Warnings are things Ferry accepts but ignores (KubeVela UI files, vela system constraints).
	Warnings []string
}

// Name is the addon's name.
func (a *Addon) Name() string { return a.Metadata.Name }

// Version is the addon's version as written.
func (a *Addon) Version() string { return a.Metadata.Version }

// Readme is the addon's README.md, or "".
func (a *Addon) Readme() string { return string(a.Files[ReadmeFile]) }

// Ref is NAME@VERSION.
func (a *Addon) Ref() string { return a.Name() + "@" + a.Version() }

// Load reads an addon from the root of fsys. origin names it in errors and in the enable record
// (a directory path, or registry/url). Every problem is reported at once, each with its file.
func Load(fsys fs.FS, origin string) (*Addon, error) {
	a := &Addon{Origin: origin, Files: map[string][]byte{}}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != "." && strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir
			}
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		a.Files[p] = data
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read addon %s: %w", origin, err)
	}
	return fromFiles(a)
}

// at names a file of the addon in errors: the origin directory joined with the file.
func (a *Addon) at(file string) string {
	if a.Origin == "" {
		return file
	}
	return path.Join(a.Origin, file)
}

// fromFiles checks the files of a and fills in the rest.
func fromFiles(a *Addon) (*Addon, error) {
	var errs []error
	data, ok := a.Files[MetadataFile]
	if !ok {
		return nil, fmt.Errorf("%s: not an addon: it has no %s", a.Origin, MetadataFile)
	}
	m, err := ParseMetadata(a.at(MetadataFile), data)
	if err != nil {
		errs = append(errs, err)
	}
	a.Metadata = m
	if m != nil && m.System.Vela != "" {
		a.Warnings = append(a.Warnings, fmt.Sprintf("%s: system.vela (%s) is KubeVela's version and is ignored; use system.ferry", a.at(MetadataFile), m.System.Vela))
	}
	if _, yamlT := a.Files[TemplateYAMLFile]; yamlT {
		if _, cueT := a.Files[TemplateCUEFile]; cueT {
			errs = append(errs, fmt.Errorf("%s: give template.cue or template.yaml, not both", a.at(TemplateYAMLFile)))
		}
	}
	for _, p := range sortedKeys(a.Files) {
		dir, _, nested := strings.Cut(p, "/")
		switch {
		case !nested:
			switch p {
			case MetadataFile, ParameterFile, TemplateCUEFile, TemplateYAMLFile, ReadmeFile:
			default:
				if strings.HasSuffix(p, ".cue") {
					errs = append(errs, fmt.Errorf("%s: unknown file; CUE goes in %s, %s, %s/ or %s/", a.at(p), ParameterFile, TemplateCUEFile, ResourcesDir, DefinitionsDir))
				}
			}
		case dir == DefinitionsDir:
			if !strings.HasSuffix(p, ".cue") && !strings.HasSuffix(p, ".yaml") && !strings.HasSuffix(p, ".yml") {
				a.Warnings = append(a.Warnings, fmt.Sprintf("%s: ignored: definitions are .cue or .yaml files", a.at(p)))
				continue
			}
			defs, err := definition.Parse(a.at(p), a.Files[p])
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if len(defs) == 0 {
				errs = append(errs, fmt.Errorf("%s: holds no definition", a.at(p)))
			}
			a.Definitions = append(a.Definitions, defs...)
		case dir == ResourcesDir:
			if !strings.HasSuffix(p, ".cue") && !strings.HasSuffix(p, ".yaml") && !strings.HasSuffix(p, ".yml") {
				a.Warnings = append(a.Warnings, fmt.Sprintf("%s: ignored: resources are .cue or .yaml files", a.at(p)))
			}
		case ignoredDirs[dir]:
			a.Warnings = append(a.Warnings, fmt.Sprintf("%s: ignored: %s/ is a KubeVela UI extension", a.at(p), dir))
		}
	}
	seen := map[string]string{}
	for _, d := range a.Definitions {
		key := string(d.Kind) + "/" + d.Name
		if prev, dup := seen[key]; dup {
			errs = append(errs, fmt.Errorf("%s: %s is defined twice (also in %s)", d.Filename, d.DisplayName(), prev))
		}
		seen[key] = d.Filename
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return a, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// templateFile names where the addon's Application comes from, for errors.
func (a *Addon) templateFile() string {
	switch {
	case a.Files[TemplateCUEFile] != nil:
		return a.at(TemplateCUEFile)
	case a.Files[TemplateYAMLFile] != nil:
		return a.at(TemplateYAMLFile)
	}
	return a.at(ResourcesDir + "/")
}
