package definition

import (
	_ "embed"
	"fmt"
	"strconv"
	"strings"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/parser"
)

// OpImportPath is the import path of the action library.
const OpImportPath = "vela/op"

//go:embed op.cue
var opLibrary string

// withLibrary replaces `import "vela/op"` — the action library workflow steps use, see
// pkg/workflow/cuestep — by the library, bound to the import's name with a
// top-level let. The import is blanked out rather than removed, so CUE positions in errors are
// still those of the definition file.
func withLibrary(filename, text string) (string, error) {
	f, err := parser.ParseFile(filename, text, parser.ImportsOnly)
	if err != nil {
		return "", err
	}
	var name string
	blank := []byte(text)
	for _, decl := range f.Decls {
		imp, ok := decl.(*ast.ImportDecl)
		if !ok {
			continue
		}
		for _, spec := range imp.Specs {
			path, err := strconv.Unquote(spec.Path.Value)
			if err != nil || path != OpImportPath {
				continue
			}
			name = "op"
			if spec.Name != nil {
				name = spec.Name.Name
			}
			from, to := spec.Pos().Offset(), spec.End().Offset()
			if len(imp.Specs) == 1 {
				from, to = imp.Pos().Offset(), imp.End().Offset()
			}
			for i := from; i < to; i++ {
				if blank[i] != '\n' {
					blank[i] = ' '
				}
			}
		}
	}
	if name == "" {
		return text, nil
	}
	return fmt.Sprintf("%s\nlet %s = {\n%s\n}\n", strings.TrimRight(string(blank), "\n"), name, opLibrary), nil
}
