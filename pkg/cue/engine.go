package cue

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	goruntime "runtime"
	"sort"
	"strings"
	"sync"

	cuelang "cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/build"
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
	// Runtimes is how many CUE runtimes render at the same time; 0 means GOMAXPROCS, at most
	// DefaultMaxRuntimes. Each runtime compiles the templates it renders once, so memory for
	// compiled templates grows with this number.
	Runtimes int
	// Budget bounds each evaluation; see Budget.
	Budget Budget
	// Sandbox, when set, evaluates in other processes, where the budget is enforced by
	// ending them; see Sandbox.
	Sandbox Sandbox
	// Prerender lets Prerender send whole chains to the Sandbox. It saves round trips, and a
	// chain with a template past its budget costs the budget twice the first time (the chain,
	// then the render that finds the template): an engine that must answer within a deadline,
	// such as admission's, leaves it off.
	Prerender bool
	// Validation says what an unknown parameter (a property the definition does not declare)
	// is: an error (ValidateStrict, the default), a warning in Result.Warnings
	// (ValidateWarn), or nothing (ValidateIgnore). KubeVela ignores such properties, and old
	// Applications carry them; Kubernetes' field validation has the same three levels.
	Validation Validation
}

// Validation is how unknown parameters are treated, as kubectl's --validate.
type Validation string

// The levels of Validation.
const (
	ValidateStrict Validation = "strict"
	ValidateWarn   Validation = "warn"
	ValidateIgnore Validation = "ignore"
)

// ParseValidation reads a --validate value; empty means strict.
func ParseValidation(s string) (Validation, error) {
	switch v := Validation(s); v {
	case "", ValidateStrict:
		return ValidateStrict, nil
	case ValidateWarn, ValidateIgnore:
		return v, nil
	}
	return "", fmt.Errorf("unknown validation %q: use strict, warn or ignore", s)
}

// DefaultMaxRuntimes bounds the runtimes of an engine whose Options.Runtimes is 0.
const DefaultMaxRuntimes = 4

// Engine compiles templates once and renders them many times. It is safe for concurrent use.
// CUE values of one runtime must not be evaluated concurrently, so the engine keeps a pool of
// runtimes (Options.Runtimes): a render takes one for its duration, and renders on different
// runtimes run in parallel. A template is compiled on a runtime the first time it renders
// there.
type Engine struct {
	opts Options
	pool chan *runtime

	mu        sync.Mutex // guards templates, compiling, results and stats
	templates map[string]*Template
	compiling map[string]*compileCall
	results   map[[32]byte]*Result
	// exceeded remembers renders that exceeded their budget, by memo key, for a while: they
	// would again.
	exceeded map[[32]byte]exceededRender
	// prerendered are renders a sandbox did ahead (see Prerender), by memo key;
	// exceededChains the chains that exceeded their budget, by their first render's key.
	prerendered    map[[32]byte]*WireResult
	exceededChains map[[32]byte]bool
	stats          Stats

	memory memoryWatch
}

// compileCall is a compilation in progress; others asking for the same source wait for it.
type compileCall struct {
	done chan struct{}
	t    *Template
	err  error
}

// runtime is one CUE runtime and the templates compiled on it. It is used by one goroutine at
// a time: whoever holds mu.
type runtime struct {
	mu       sync.Mutex
	ctx      *cuelang.Context
	compiled map[string]*instance
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
	n := opts.Runtimes
	if n <= 0 {
		// A controller without a CPU limit sees every core of its node; a runtime per core
		// there would hold dozens of copies of the compiled templates.
		n = min(goruntime.GOMAXPROCS(0), DefaultMaxRuntimes)
	}
	e := &Engine{opts: opts, pool: make(chan *runtime, n), templates: map[string]*Template{},
		compiling: map[string]*compileCall{}, results: map[[32]byte]*Result{},
		exceeded: map[[32]byte]exceededRender{}, prerendered: map[[32]byte]*WireResult{}, exceededChains: map[[32]byte]bool{}}
	for range n {
		// Runtimes are created when first needed: most CLI commands render on one.
		e.pool <- nil
	}
	return e
}

// Runtimes is how many renders can run at the same time.
func (e *Engine) Runtimes() int { return cap(e.pool) }

// acquire takes a runtime from the pool, waiting until one is free, and locks it.
func (e *Engine) acquire() *runtime {
	rt := <-e.pool
	if rt == nil {
		rt = &runtime{ctx: cuecontext.New(), compiled: map[string]*instance{}}
	}
	rt.mu.Lock()
	return rt
}

// release unlocks a runtime and returns it to the pool.
func (e *Engine) release(rt *runtime) {
	rt.mu.Unlock()
	e.pool <- rt
}

func (e *Engine) count(f func(*Stats)) {
	e.mu.Lock()
	f(&e.stats)
	e.mu.Unlock()
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
	// Packages are the CUE packages the template imports besides CUE's standard library,
	// e.g. vela/kube: what `import "vela/kube"` resolves to.
	Packages []Package
	// Key is the cache key, Hash() of the rest; computed on every Compile when empty, so a
	// caller that compiles the same source often sets it once.
	Key string
}

// Package is a CUE package a template can import.
type Package struct {
	// ImportPath is what the template imports, e.g. "vela/kube".
	ImportPath string
	// Filename names the package's source in errors.
	Filename string
	// Text is the package's source, starting with its package clause.
	Text string
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
	for _, p := range s.Packages {
		h.Write([]byte{2})
		h.Write([]byte(p.ImportPath))
		h.Write([]byte{0})
		h.Write([]byte(p.Text))
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
	if t, ok := e.templates[key]; ok {
		e.stats.CacheHits++
		e.mu.Unlock()
		return t, nil
	}
	if call, ok := e.compiling[key]; ok {
		// Workers that start together ask for the same templates: compile each once.
		e.stats.CacheHits++
		e.mu.Unlock()
		<-call.done
		return call.t, call.err
	}
	call := &compileCall{done: make(chan struct{})}
	e.compiling[key] = call
	e.stats.Compiles++
	e.mu.Unlock()

	call.t, call.err = e.compile(src, key)

	e.mu.Lock()
	delete(e.compiling, key)
	if call.err == nil {
		if e.opts.MaxTemplates > 0 && len(e.templates) >= e.opts.MaxTemplates {
			e.templates = map[string]*Template{}
		}
		e.templates[key] = call.t
	}
	e.mu.Unlock()
	close(call.done)
	return call.t, call.err
}

func (e *Engine) compile(src Source, key string) (*Template, error) {
	t, file, err := e.parse(src, key)
	if err != nil {
		return nil, err
	}
	if e.opts.Sandbox != nil {
		// Building evaluates the template: the sandbox does it. This process compiles it
		// only if asked for what a render does not need (Parameters, ObjectProblems).
		if _, err := e.remote(src.Name, &Request{Op: OpCompile, Source: t.source}); err != nil {
			return nil, err
		}
		return t, nil
	}
	err = e.bounded(src.Name, func(rt *runtime) error {
		_, err := t.build(rt, file)
		return err
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// parse parses a template and checks what can be checked without a runtime.
func (e *Engine) parse(src Source, key string) (*Template, *ast.File, error) {
	file, err := parser.ParseFile(src.Filename, src.Text, parser.ParseComments)
	if err != nil {
		return nil, nil, newTemplateError(src.Name, "parse template", err)
	}
	for imp := range file.ImportSpecs() {
		// The tool/* packages (exec, file, http, os) are how CUE scripts reach the world; a
		// template must not.
		if path := strings.Trim(imp.Path.Value, `"`); strings.HasPrefix(path, "tool/") {
			pos := imp.Pos()
			return nil, nil, &TemplateError{Template: src.Name, Op: "compile template",
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
	text := src.Text
	if extra != "" {
		text += extra + "\n"
		file, err = parser.ParseFile(src.Filename, text, parser.ParseComments)
		if err != nil {
			return nil, nil, newTemplateError(src.Name, "parse template", err)
		}
	}
	annotations := collectPatchAnnotations(file)
	patchAnnotations := annotations.under("patch")
	var eachPaths []string
	for path, an := range patchAnnotations {
		if an.each && path != "" && !strings.Contains(path, "[]") {
			eachPaths = append(eachPaths, path)
		}
	}
	sort.Strings(eachPaths)
	src.Key = key
	return &Template{
		engine:           e,
		source:           src,
		name:             src.Name,
		hash:             key,
		filename:         src.Filename,
		text:             text,
		packages:         src.Packages,
		annotations:      annotations,
		patchAnnotations: patchAnnotations,
		eachPaths:        eachPaths,
		reads:            scanContextReads(src.Text),
	}, file, nil
}

// build compiles a parsed template on a runtime the caller holds and remembers it there.
func (t *Template) build(rt *runtime, file *ast.File) (*instance, error) {
	var value cuelang.Value
	if len(t.packages) == 0 {
		value = rt.ctx.BuildFile(file, cuelang.Filename(t.filename))
	} else {
		inst, err := t.buildInstance(file)
		if err != nil {
			return nil, newTemplateError(t.name, "compile template", err)
		}
		value = rt.ctx.BuildInstance(inst)
	}
	if err := value.Err(); err != nil && isStaticError(err) {
		return nil, newTemplateError(t.name, "compile template", err)
	}
	in := &instance{Template: t, rt: rt, value: value, closed: map[string]cuelang.Value{},
		schema: value.LookupPath(pathParameter), unknown: map[string][]FieldError{}}
	if max := t.engine.opts.MaxTemplates; max > 0 && len(rt.compiled) >= max {
		rt.compiled = map[string]*instance{}
	}
	rt.compiled[t.hash] = in
	return in, nil
}

// buildInstance makes the template a CUE instance that imports its packages. Each build parses
// the packages anew: CUE's compiler writes into the syntax trees it compiles, so two runtimes
// must not share them.
func (t *Template) buildInstance(file *ast.File) (*build.Instance, error) {
	ctx := build.NewContext()
	inst := ctx.NewInstance("", nil)
	if err := inst.AddSyntax(file); err != nil {
		return nil, err
	}
	for _, p := range t.packages {
		f, err := parser.ParseFile(p.Filename, p.Text, parser.ParseComments)
		if err != nil {
			return nil, fmt.Errorf("package %s: %w", p.ImportPath, err)
		}
		pkg := ctx.NewInstance(p.ImportPath, nil)
		pkg.ImportPath = p.ImportPath
		pkg.PkgName = f.PackageName()
		if err := pkg.AddSyntax(f); err != nil {
			return nil, fmt.Errorf("package %s: %w", p.ImportPath, err)
		}
		inst.Imports = append(inst.Imports, pkg)
	}
	return inst, nil
}

// on returns the template compiled on a runtime the caller holds, compiling it there the first
// time. The source compiled once already, so it compiles again.
func (t *Template) on(rt *runtime) (*instance, error) {
	if in, ok := rt.compiled[t.hash]; ok && in.Template == t {
		return in, nil
	}
	file, err := parser.ParseFile(t.filename, t.text, parser.ParseComments)
	if err != nil {
		return nil, newTemplateError(t.name, "parse template", err)
	}
	return t.build(rt, file)
}

// use runs f with the template compiled on a runtime from the pool, within the engine's
// budget.
func (t *Template) use(f func(*instance) error) error {
	return t.engine.bounded(t.name, func(rt *runtime) error {
		in, err := t.on(rt)
		if err != nil {
			return err
		}
		return f(in)
	})
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
