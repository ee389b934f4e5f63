package definition

import (
	"embed"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	"cuelang.org/go/cue/parser"

	ferrycue "github.com/ferryhq/ferry/pkg/cue"
)

// OpImportPath is the import path of the action library.
const OpImportPath = "vela/op"

//go:embed op.cue
var opLibrary string

//go:embed pkgs/vela/*.cue pkgs/ferry/*.cue
var providerPackages embed.FS

// libraries are the CUE packages definitions import by KubeVela's import paths, without their
// package clause: vela/op, the action library, and the provider packages (vela/kube, vela/builtin, vela/http, vela/email,
// vela/util, vela/config, vela/metrics, vela/multicluster, vela/query) with KubeVela's names and
// $params/$returns field shapes, mapped onto the same actions (see pkg/workflow/cuestep); and
// ferry/..., helpers Ferry's own definitions share.
var libraries = func() map[string]string {
	libs := map[string]string{OpImportPath: opLibrary}
	for _, dir := range []string{"vela", "ferry"} {
		entries, err := providerPackages.ReadDir("pkgs/" + dir)
		if err != nil {
			panic(err) // embedded at build time
		}
		for _, e := range entries {
			data, err := providerPackages.ReadFile("pkgs/" + dir + "/" + e.Name())
			if err != nil {
				panic(err)
			}
			libs[dir+"/"+strings.TrimSuffix(e.Name(), ".cue")] = string(data)
		}
	}
	return libs
}()

// LibraryImportPaths lists the import paths definitions may use besides CUE's standard library.
func LibraryImportPaths() []string {
	paths := make([]string, 0, len(libraries))
	for p := range libraries {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	return paths
}

// libraryPackages returns the packages of the libraries above that a template imports, for
// CUE to resolve its imports with: the template's text is compiled as written.
func libraryPackages(filename, text string) ([]ferrycue.Package, error) {
	f, err := parser.ParseFile(filename, text, parser.ImportsOnly)
	if err != nil {
		return nil, err
	}
	var pkgs []ferrycue.Package
	seen := map[string]bool{}
	for spec := range f.ImportSpecs() {
		p, err := strconv.Unquote(spec.Path.Value)
		if err != nil || seen[p] {
			continue
		}
		lib, known := libraries[p]
		if !known {
			continue
		}
		seen[p] = true
		pkgs = append(pkgs, ferrycue.Package{ImportPath: p, Filename: p + ".cue",
			Text: fmt.Sprintf("package %s\n\n%s", path.Base(p), lib)})
	}
	return pkgs, nil
}
