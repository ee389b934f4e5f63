package addon

import (
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/build"
	"cuelang.org/go/cue/cuecontext"
	cueerrors "cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/parser"
	"cuelang.org/go/cue/token"

	"github.com/ferryhq/ferry/pkg/definition"
)

// cueFiles are the addon's CUE files evaluated together as one package: parameter.cue,
// template.cue and resources/*.cue, as in KubeVela.
func (a *Addon) cueFiles() []string {
	var out []string
	for _, p := range sortedKeys(a.Files) {
		switch {
		case p == ParameterFile, p == TemplateCUEFile:
			out = append(out, p)
		case strings.HasPrefix(p, ResourcesDir+"/") && strings.HasSuffix(p, ".cue"):
			out = append(out, p)
		}
	}
	return out
}

// compile builds the addon's CUE package. Package clauses are dropped, so files that name
// different packages (or none) still form one instance; positions keep each file's name.
func (a *Addon) compile(cctx *cue.Context) (cue.Value, error) {
	inst := build.NewContext().NewInstance("addon", nil)
	// context is filled in at render; declaring it (and parameter, for addons without
	// parameter.cue) lets templates refer to both.
	decl, err := parser.ParseFile("ferry-addon-context.cue", "package addon\ncontext: _\nparameter: _\n")
	if err != nil {
		return cue.Value{}, err
	}
	if err := inst.AddSyntax(decl); err != nil {
		return cue.Value{}, err
	}
	var errs []error
	for _, p := range a.cueFiles() {
		text, _ := definition.RewriteListAddition(a.at(p), string(a.Files[p]))
		f, err := parser.ParseFile(a.at(p), text, parser.ParseComments)
		if err != nil {
			errs = append(errs, errors.New(formatCUE(err)))
			continue
		}
		f.Decls = append([]ast.Decl{&ast.Package{Name: ast.NewIdent("addon")}}, dropPackage(f.Decls)...)
		if err := inst.AddSyntax(f); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", a.at(p), err))
		}
	}
	if len(errs) > 0 {
		return cue.Value{}, errors.Join(errs...)
	}
	v := cctx.BuildInstance(inst)
	if err := v.Err(); err != nil {
		return cue.Value{}, errors.New(formatCUE(err))
	}
	return v, nil
}

func dropPackage(decls []ast.Decl) []ast.Decl {
	out := decls[:0]
	for _, d := range decls {
		if _, ok := d.(*ast.Package); ok {
			continue
		}
		out = append(out, d)
	}
	return out
}

// formatCUE lists each CUE error as file:line:col: path: message, one per line.
func formatCUE(err error) string {
	var lines []string
	seen := map[string]bool{}
	for _, e := range cueerrors.Errors(err) {
		format, args := e.Msg()
		msg := fmt.Sprintf(format, args...)
		if p := e.Path(); len(p) > 0 {
			msg = strings.Join(p, ".") + ": " + msg
		}
		if pos := firstPosition(e); pos.IsValid() {
			msg = fmt.Sprintf("%s:%d:%d: %s", pos.Filename(), pos.Line(), pos.Column(), msg)
		}
		if !seen[msg] {
			seen[msg] = true
			lines = append(lines, msg)
		}
	}
	if len(lines) == 0 {
		return err.Error()
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func firstPosition(e cueerrors.Error) token.Pos {
	if p := e.Position(); p.IsValid() {
		return p
	}
	for _, p := range e.InputPositions() {
		if p.IsValid() {
			return p
		}
	}
	return token.NoPos
}

// newCUEContext returns a fresh CUE context: values from one are not mixed with another's.
func newCUEContext() *cue.Context { return cuecontext.New() }

// base is a file's name without directory and extension.
func base(p string) string {
	b := path.Base(p)
	return strings.TrimSuffix(b, path.Ext(b))
}
