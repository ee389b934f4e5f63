package definition

import (
	"fmt"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/cue/parser"

	ferrycue "github.com/ferryhq/ferry/pkg/cue"
)

// cueMetadata is the `name: {...}` block of a CUE definition file.
type cueMetadata struct {
	Type        string            `json:"type"`
	Description string            `json:"description"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	Attributes  struct {
		Workload *struct {
			Definition struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
			} `json:"definition"`
			Type string `json:"type"`
		} `json:"workload"`
		Status *struct {
			HealthPolicy string `json:"healthPolicy"`
			CustomStatus string `json:"customStatus"`
			Details      string `json:"details"`
		} `json:"status"`
		AppliesToWorkloads []string `json:"appliesToWorkloads"`
		ConflictsWith      []string `json:"conflictsWith"`
		PodDisruptive      bool     `json:"podDisruptive"`
		Stage              string   `json:"stage"`
	} `json:"attributes"`
}

// ParseCUE reads a CUE definition file: one `name: {type: ..., attributes: ...}` block and one
// `template: {...}` block, with optional imports.
func ParseCUE(filename string, data []byte) (*Definition, error) {
	file, err := parser.ParseFile(filename, data, parser.ParseComments)
	if err != nil {
		return nil, fmt.Errorf("%s", ferrycue.FormatError(err))
	}
	var (
		template *ast.Field
		meta     *ast.Field
		metaName string
	)
	for _, decl := range file.Decls {
		field, ok := decl.(*ast.Field)
		if !ok {
			continue
		}
		name, _, err := ast.LabelName(field.Label)
		if err != nil {
			return nil, fmt.Errorf("%s:%s: a definition file's top-level labels must be plain names", filename, field.Pos())
		}
		switch {
		case name == "template":
			template = field
		case meta == nil:
			meta, metaName = field, name
		default:
			return nil, fmt.Errorf("%s:%d: unexpected top-level field %q: a definition file holds one `<name>: {type: ...}` block and one `template: {...}`",
				filename, field.Pos().Line(), name)
		}
	}
	if meta == nil {
		return nil, fmt.Errorf("%s: missing the `<name>: {type: \"component\"|\"trait\"|\"policy\"|\"workflow-step\", ...}` block", filename)
	}
	if template == nil {
		return nil, fmt.Errorf("%s: definition %q has no `template: {...}` block", filename, metaName)
	}
	body, ok := template.Value.(*ast.StructLit)
	if !ok || !body.Lbrace.IsValid() || !body.Rbrace.IsValid() {
		return nil, fmt.Errorf("%s:%d: `template` must be a struct literal `{...}`", filename, template.Pos().Line())
	}

	md, err := decodeMetadata(filename, meta)
	if err != nil {
		return nil, err
	}
	kind, err := ParseKind(md.Type)
	if err != nil {
		return nil, fmt.Errorf("%s:%d: definition %q: %w", filename, meta.Pos().Line(), metaName, err)
	}
	d := &Definition{
		Name:        metaName,
		Kind:        kind,
		Description: md.Description,
		Labels:      md.Labels,
		Annotations: md.Annotations,
		Template:    templateText(file, data, body),
		Filename:    filename,
		Line:        template.Pos().Line(),
	}
	a := md.Attributes
	if a.Workload != nil {
		d.Workload = WorkloadType{APIVersion: a.Workload.Definition.APIVersion, Kind: a.Workload.Definition.Kind, Type: a.Workload.Type}
	}
	if a.Status != nil {
		d.Status = ferrycue.StatusTemplates{HealthPolicy: a.Status.HealthPolicy, CustomStatus: a.Status.CustomStatus, Details: a.Status.Details}
	}
	d.AppliesToWorkloads, d.ConflictsWith, d.PodDisruptive, d.Stage = a.AppliesToWorkloads, a.ConflictsWith, a.PodDisruptive, a.Stage
	return d, nil
}

// decodeMetadata evaluates the metadata block alone: it is plain data. CUE can panic decoding
// odd values (a builtin function where a string belongs): that is an error too.
func decodeMetadata(filename string, meta *ast.Field) (md *cueMetadata, err error) {
	defer func() {
		if r := recover(); r != nil {
			md, err = nil, fmt.Errorf("%s:%d: definition metadata: %v", filename, meta.Pos().Line(), r)
		}
	}()
	v := cuecontext.New().BuildExpr(meta.Value)
	if err := v.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: definition metadata: %s", filename, meta.Pos().Line(), ferrycue.FormatError(err))
	}
	md = &cueMetadata{}
	if err := v.Decode(md); err != nil {
		return nil, fmt.Errorf("%s:%d: definition metadata: %w", filename, meta.Pos().Line(), err)
	}
	return md, nil
}

// templateText cuts the template body out of the file. Everything before the body is blanked
// out except the imports, so the template's line and column positions are those of the file.
func templateText(file *ast.File, data []byte, body *ast.StructLit) string {
	start, end := body.Lbrace.Offset()+1, body.Rbrace.Offset()
	prefix := make([]byte, start)
	for i := range prefix {
		if data[i] == '\n' {
			prefix[i] = '\n'
		} else {
			prefix[i] = ' '
		}
	}
	for _, decl := range file.Decls {
		if imp, ok := decl.(*ast.ImportDecl); ok {
			from, to := imp.Pos().Offset(), imp.End().Offset()
			if to <= start {
				copy(prefix[from:to], data[from:to])
			}
		}
	}
	return string(prefix) + string(data[start:end])
}
