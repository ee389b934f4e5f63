package appfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v4"
	k8sjson "sigs.k8s.io/json"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/cue"
)

// Position is a line and column in a file, both 1-based.
type Position struct {
	Line, Column int
}

// Appfile is an Application and where each of its fields was written.
type Appfile struct {
	// App is the Application.
	App *v1beta1.Application
	// File is the file it came from; empty for an Application read from the cluster.
	File string
	// positions maps field paths such as spec.components[0].properties.image to positions.
	positions map[string]Position
	// budget bounds the nodes visited while converting, so alias bombs cannot blow up.
	budget int
	// Warnings are what parsing let pass: fields the Application's schema does not have, when
	// parsed with ValidateWarn (they are dropped, as the API server prunes them).
	Warnings []string
}

// ParseOptions say how strictly to parse.
type ParseOptions struct {
	// Validation says what a field the Application's schema does not have is, as kubectl's
	// --validate: an error (strict, the default), a warning (warn) or nothing (ignore). Either
	// way it is dropped.
	Validation cue.Validation
}

// maxNodes bounds the size of a document after alias expansion.
const maxNodes = 1 << 18

// FromApplication wraps an Application that has no source file, e.g. one read from the cluster.
func FromApplication(app *v1beta1.Application) *Appfile {
	return &Appfile{App: app}
}

// Where names the place of a field path as file:line:column, falling back to the nearest
// enclosing field that has a position, then to the file name. An Application that came from
// no file (e.g. through the API server) is located by the field path itself.
func (a *Appfile) Where(path string) string {
	if a.File == "" {
		return path
	}
	for p := path; ; {
		if pos, ok := a.positions[p]; ok && a.File != "" {
			return fmt.Sprintf("%s:%d:%d", a.File, pos.Line, pos.Column)
		}
		cut := strings.LastIndexAny(p, ".[")
		if cut <= 0 {
			break
		}
		p = p[:cut]
	}
	return a.File
}

// Parse reads every Application of a YAML stream, strictly.
func Parse(filename string, data []byte) ([]*Appfile, error) {
	return ParseWith(filename, data, ParseOptions{})
}

// ParseWith reads every Application of a YAML stream as opts say.
func ParseWith(filename string, data []byte, opts ParseOptions) ([]*Appfile, error) {
	var out []*Appfile
	err := eachDocument(filename, data, func(_ int, root *yaml.Node) error {
		af, err := parseDocument(filename, root, opts)
		if err == nil {
			out = append(out, af)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no Application found", filename)
	}
	return out, nil
}

// eachDocument calls fn with the root node of every non-empty document of a YAML stream,
// numbered from 1.
func eachDocument(filename string, data []byte, fn func(index int, root *yaml.Node) error) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for i := 1; ; i++ {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return yamlError(filename, err)
		}
		root := &doc
		if root.Kind == yaml.DocumentNode {
			if len(root.Content) == 0 {
				continue
			}
			root = root.Content[0]
		}
		if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
			continue
		}
		if err := fn(i, root); err != nil {
			return err
		}
	}
}

func yamlError(filename string, err error) error {
	var le *yaml.LoadError
	if errors.As(err, &le) && le.Mark.Line > 0 {
		return fmt.Errorf("%s:%d:%d: invalid YAML: %s", filename, le.Mark.Line, max(le.Mark.Column, 1), le.Message)
	}
	return fmt.Errorf("%s: invalid YAML: %w", filename, err)
}

func parseDocument(filename string, root *yaml.Node, opts ParseOptions) (*Appfile, error) {
	af := &Appfile{File: filename, positions: map[string]Position{}, budget: maxNodes}
	value, err := af.toValue(root, "", 0)
	if err != nil {
		return nil, err
	}
	obj, ok := value.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s:%d:%d: expected an Application object, got %s", filename, root.Line, root.Column, kindOf(value))
	}
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	var warnings []string
	if apiVersion == "" && kind == v1beta1.ApplicationKind && opts.Validation != "" && opts.Validation != cue.ValidateStrict {
		// An Application whose apiVersion was left out, as some of KubeVela's examples do.
		apiVersion = v1beta1.GroupVersion.String()
		obj["apiVersion"] = apiVersion
		if opts.Validation == cue.ValidateWarn {
			warnings = append(warnings, fmt.Sprintf("%s: apiVersion is missing; read as %s", af.Where(""), apiVersion))
		}
	}
	if kind != v1beta1.ApplicationKind || apiVersion != v1beta1.GroupVersion.String() {
		return nil, fmt.Errorf("%s: expected apiVersion %s and kind Application, got apiVersion %q and kind %q",
			af.Where(""), v1beta1.GroupVersion, apiVersion, kind)
	}
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filename, err)
	}
	app := &v1beta1.Application{}
	strict, err := k8sjson.UnmarshalStrict(data, app, k8sjson.DisallowDuplicateFields, k8sjson.DisallowUnknownFields)
	if err != nil {
		return nil, af.decodeError(err)
	}
	if len(strict) > 0 {
		var msgs []string
		for _, e := range strict {
			msgs = append(msgs, af.strictError(e))
		}
		switch opts.Validation {
		case cue.ValidateWarn:
			for _, m := range msgs {
				af.Warnings = append(af.Warnings, m+", ignored")
			}
		case cue.ValidateIgnore:
		default:
			return nil, errors.New(strings.Join(msgs, "\n"))
		}
	}
	af.App = app
	af.Warnings = append(warnings, af.Warnings...)
	return af, nil
}

// strictError turns `unknown field "spec.components[0].trait"` into a positioned message.
func (a *Appfile) strictError(err error) string {
	msg := err.Error()
	if start, end := strings.Index(msg, `"`), strings.LastIndex(msg, `"`); start >= 0 && end > start {
		path := msg[start+1 : end]
		return fmt.Sprintf("%s: %s", a.Where(path), msg)
	}
	return fmt.Sprintf("%s: %s", a.File, msg)
}

// decodeError positions a JSON type error such as a string where a list was expected.
func (a *Appfile) decodeError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		path := a.indexedPath(te.Field)
		return fmt.Errorf("%s: %s: expected %s, got %s", a.Where(path), path, te.Type.String(), te.Value)
	}
	return fmt.Errorf("%s: %w", a.File, err)
}

// indexedPath finds the written path for a path without list indices, as encoding/json reports
// it (spec.components.dependsOn for spec.components[1].dependsOn): the first one in the file.
func (a *Appfile) indexedPath(field string) string {
	best, bestPos := field, Position{}
	for p, pos := range a.positions {
		if stripIndices(p) != field {
			continue
		}
		if bestPos.Line == 0 || pos.Line < bestPos.Line || (pos.Line == bestPos.Line && pos.Column < bestPos.Column) {
			best, bestPos = p, pos
		}
	}
	return best
}

func stripIndices(p string) string {
	var b strings.Builder
	depth := 0
	for _, c := range p {
		switch {
		case c == '[':
			depth++
		case c == ']':
			depth--
		case depth == 0:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// toValue converts a YAML node to plain Go data, recording the position of every field.
func (a *Appfile) toValue(n *yaml.Node, path string, depth int) (any, error) {
	if depth > 100 {
		return nil, fmt.Errorf("%s:%d:%d: document nested too deeply", a.File, n.Line, n.Column)
	}
	if a.budget--; a.budget < 0 {
		return nil, fmt.Errorf("%s:%d:%d: document too large after expanding aliases", a.File, n.Line, n.Column)
	}
	a.positions[path] = Position{Line: n.Line, Column: n.Column}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return a.toValue(n.Content[0], path, depth+1)
	case yaml.AliasNode:
		return a.toValue(n.Alias, path, depth+1)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Tag == "!!merge" {
				merged, err := a.toValue(v, path, depth+1)
				if err != nil {
					return nil, err
				}
				if mm, ok := merged.(map[string]any); ok {
					for mk, mv := range mm {
						if _, set := m[mk]; !set {
							m[mk] = mv
						}
					}
				}
				continue
			}
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("%s:%d:%d: mapping keys must be strings", a.File, k.Line, k.Column)
			}
			if _, dup := m[k.Value]; dup {
				return nil, fmt.Errorf("%s:%d:%d: duplicate field %q", a.File, k.Line, k.Column, k.Value)
			}
			child := k.Value
			if path != "" {
				child = path + "." + k.Value
			}
			val, err := a.toValue(v, child, depth+1)
			if err != nil {
				return nil, err
			}
			m[k.Value] = val
		}
		return m, nil
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for i, c := range n.Content {
			val, err := a.toValue(c, path+"["+strconv.Itoa(i)+"]", depth+1)
			if err != nil {
				return nil, err
			}
			l = append(l, val)
		}
		return l, nil
	default:
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("%s:%d:%d: %w", a.File, n.Line, n.Column, err)
		}
		switch x := v.(type) {
		case int:
			return int64(x), nil
		case uint64:
			return float64(x), nil
		}
		return v, nil
	}
}

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	case string:
		return "a string"
	default:
		return fmt.Sprintf("%T", v)
	}
}
