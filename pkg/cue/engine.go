package cue

import (
	"crypto/sha256"
	"encoding/hex"
	"sync"

	"fmt"
	"strings"

	cuelang "cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/cuecontext"
	cueerrors "cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/parser"
)

// Options configure an Engine.
type Options struct {
	// MaxTemplates bounds the compiled-template cache; 0 means unbounded. When the bound is
	// reached the cache is cleared, which only costs recompilation.
	MaxTemplates int
	// MaxResults bounds the memo of render results keyed by template and inputs; 0 means
	// 4096, a negative value turns the memo off.
	MaxResults int
}

// Engine compiles templates once and renders them many times. It is safe for concurrent use:
// CUE values of one runtime must not be evaluated concurrently, so evaluation is serialised.
type Engine struct {
	opts Options

	mu        sync.Mutex
	ctx       *cuelang.Context
	templates map[string]*Template
	results   map[[32]byte]*Result
	stats     Stats
}

// Stats count the work an Engine did; tests use them to prove that caching works.
type Stats struct {
	// Compiles is how many templates were parsed and compiled.
	Compiles int
	// CacheHits is how many Compile calls were answered from the cache.
	CacheHits int
	// Evaluations is how many renders evaluated CUE; MemoHits how many were answered from
	// the render memo.
	Evaluations int
	MemoHits    int
}

// NewEngine returns an Engine with an empty cache.
func NewEngine(opts Options) *Engine {
	return &Engine{opts: opts, ctx: cuecontext.New(), templates: map[string]*Template{}, results: map[[32]byte]*Result{}}
}

// Stats returns a snapshot of the engine's counters.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stats
}

// Source is a template to compile.
type Source struct {
	// Name identifies the template in errors, e.g. `component definition "webservice"`.
	Name string
	// Filename is where the source came from; CUE positions in errors refer to it.
	Filename string
	// Text is the CUE source.
	Text string
	// Snippet marks a status snippet, which reads `parameter` without declaring it.
	Snippet bool
	// Key is the cache key, Hash() of the rest; computed on every Compile when empty, so a
	// caller that compiles the same source often sets it once.
	Key string
}

// Hash returns the content hash that keys the compiled-template cache.
func (s Source) Hash() string {
	h := sha256.New()
	h.Write([]byte(s.Filename))
	h.Write([]byte{0})
	h.Write([]byte(s.Text))
	if s.Snippet {
		h.Write([]byte{1})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Compile parses and compiles a template, or returns the cached one with the same content.
func (e *Engine) Compile(src Source) (*Template, error) {
	key := src.Key
	if key == "" {
		key = src.Hash()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if t, ok := e.templates[key]; ok {
		e.stats.CacheHits++
		return t, nil
	}
	t, err := e.compileLocked(src, key)
	if err != nil {
		return nil, err
	}
	if e.opts.MaxTemplates > 0 && len(e.templates) >= e.opts.MaxTemplates {
		e.templates = map[string]*Template{}
	}
	e.templates[key] = t
	return t, nil
}

func (e *Engine) compileLocked(src Source, key string) (*Template, error) {
	e.stats.Compiles++
	file, err := parser.ParseFile(src.Filename, src.Text, parser.ParseComments)
	if err != nil {
		return nil, newTemplateError(src.Name, "parse template", err)
	}
	for imp := range file.ImportSpecs() {
		// The tool/* packages (exec, file, http, os) are how CUE scripts reach the world; a
		// template must not.
		if path := strings.Trim(imp.Path.Value, `"`); strings.HasPrefix(path, "tool/") {
			pos := imp.Pos()
			return nil, &TemplateError{Template: src.Name, Op: "compile template",
				Details: []string{fmt.Sprintf("%s:%d:%d: import %q is not allowed: templates have no file, process or network access", pos.Filename(), pos.Line(), pos.Column(), path)}}
		}
	}
	// Templates read `context` (and snippets `parameter`) without declaring them; declare them
	// open so they resolve. Lines are appended, so positions in the user's source stay valid.
	var extra string
	if !declares(file, "context") {
		extra += "\ncontext: _"
	}
	if src.Snippet && !declares(file, "parameter") {
		extra += "\nparameter: _"
	}
	if extra != "" {
		file, err = parser.ParseFile(src.Filename, src.Text+extra+"\n", parser.ParseComments)
		if err != nil {
			return nil, newTemplateError(src.Name, "parse template", err)
		}
	}
	value := e.ctx.BuildFile(file, cuelang.Filename(src.Filename))
	if err := value.Err(); err != nil && isStaticError(err) {
		return nil, newTemplateError(src.Name, "compile template", err)
	}
	return &Template{
		engine:      e,
		name:        src.Name,
		hash:        key,
		value:       value,
		annotations: collectPatchAnnotations(file),
		closed:      map[string]cuelang.Value{},
		reads:       scanContextReads(src.Text),
	}, nil
}

// isStaticError reports whether an error found before `parameter` and `context` are filled is
// the template's own fault (an unknown reference or import, a conflict between constants),
// rather than a value that only exists once context is known, e.g. a condition on
// context.output in a trait. The latter are reported at render time with their positions.
func isStaticError(err error) bool {
	for _, ce := range cueerrors.Errors(err) {
		format, args := ce.Msg()
		msg := fmt.Sprintf(format, args...)
		for _, static := range []string{"not found", "cannot call", "conflicting values", "import failed", "builtin package"} {
			if strings.Contains(msg, static) {
				return true
			}
		}
	}
	return false
}

// declares reports whether a file declares a top-level field with the given name.
func declares(f *ast.File, name string) bool {
	for _, d := range f.Decls {
		if field, ok := d.(*ast.Field); ok {
			if label, _, _ := ast.LabelName(field.Label); label == name {
				return true
			}
		}
	}
	return false
}

// CompileExpr compiles a small CUE snippet such as a status policy. It is cached like a template.
func (e *Engine) CompileExpr(name, text string) (*Template, error) {
	return e.Compile(Source{Name: name, Filename: name, Text: text, Snippet: true})
}
