package addon

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// Candidate is one version of an addon that a registry offers.
type Candidate struct {
	Name         string       `json:"name"`
	Version      string       `json:"version"`
	Registry     string       `json:"registry"`
	Description  string       `json:"description,omitempty"`
	Dependencies []Dependency `json:"dependencies,omitempty"`
	System       System       `json:"system"`

	semver *semver.Version
}

// Ref is NAME@VERSION.
func (c Candidate) Ref() string { return c.Name + "@" + c.Version }

// Catalog answers which versions of an addon exist, newest first.
type Catalog interface {
	Candidates(ctx context.Context, name string) ([]Candidate, error)
}

// Request is what a user asks to enable.
type Request struct {
	Name string
	// Version is an exact version or a semver constraint; "" is the newest.
	Version string
}

// ResolveOptions are the state resolution starts from.
type ResolveOptions struct {
	// Enabled are the versions enabled now, by addon name: kept when they satisfy every
	// constraint, upgraded otherwise.
	Enabled map[string]string
}

// Resolution is a set of addon versions that satisfies every constraint, in install order:
// dependencies before what needs them; the requested addon is last.
type Resolution struct {
	Order []Candidate
	// RequiredBy says, for each addon, which chosen addons depend on it.
	RequiredBy map[string][]string
}

type ask struct {
	by         string
	constraint string
	c          *semver.Constraints
}

func (a ask) allows(v *semver.Version) bool { return a.c == nil || a.c.Check(v) }

type resolver struct {
	ctx     context.Context
	cat     Catalog
	opts    ResolveOptions
	known   map[string][]Candidate
	chosen  map[string]Candidate
	asks    map[string][]ask
	failure error
	steps   int
}

// maxResolveSteps bounds backtracking: past it resolution gives up and says so.
const maxResolveSteps = 100000

// Resolve picks, for req and everything it depends on, the newest version that satisfies
// every constraint (an enabled version that satisfies them is kept). It fails with one message
// naming who asks for what when no choice works, and with the chain when dependencies form a
// cycle.
func Resolve(ctx context.Context, cat Catalog, req Request, opts ResolveOptions) (*Resolution, error) {
	r := &resolver{ctx: ctx, cat: cat, opts: opts, known: map[string][]Candidate{}, chosen: map[string]Candidate{}, asks: map[string][]ask{}}
	root := ask{by: "you"}
	if req.Version != "" {
		c, err := semver.NewConstraint(exactOrRange(req.Version))
		if err != nil {
			return nil, fmt.Errorf("%s@%s: not a version or semver constraint: %w", req.Name, req.Version, err)
		}
		root.c, root.constraint = c, req.Version
	}
	r.asks[req.Name] = []ask{root}
	ok, err := r.solve([]string{req.Name})
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, r.failure
	}
	return r.order(req.Name)
}

// exactOrRange makes "1.2.0" mean exactly that version, as "=1.2.0".
func exactOrRange(v string) string {
	if _, err := semver.StrictNewVersion(strings.TrimPrefix(v, "v")); err == nil {
		return "=" + strings.TrimPrefix(v, "v")
	}
	return v
}

func (r *resolver) candidates(name string) ([]Candidate, error) {
	if c, ok := r.known[name]; ok {
		return c, nil
	}
	c, err := r.cat.Candidates(r.ctx, name)
	if err != nil {
		return nil, err
	}
	r.known[name] = c
	return c, nil
}

func (r *resolver) solve(queue []string) (bool, error) {
	if len(queue) == 0 {
		return true, nil
	}
	r.steps++
	if r.steps > maxResolveSteps {
		return false, fmt.Errorf("dependency resolution gave up after %d steps; pin versions with NAME@VERSION", maxResolveSteps)
	}
	name, rest := queue[0], queue[1:]
	if c, ok := r.chosen[name]; ok {
		for _, a := range r.asks[name] {
			if !a.allows(c.semver) {
				r.fail(name)
				return false, nil
			}
		}
		return r.solve(rest)
	}
	cands, err := r.candidates(name)
	if err != nil {
		return false, err
	}
	if len(cands) == 0 {
		r.failure = r.notFound(name)
		return false, nil
	}
	for _, c := range r.preferred(name, cands) {
		if !r.allowed(name, c) {
			continue
		}
		r.chosen[name] = c
		next := append([]string(nil), rest...)
		for _, d := range c.Dependencies {
			r.asks[d.Name] = append(r.asks[d.Name], ask{by: c.Ref(), constraint: d.Version, c: d.constraint})
			next = append(next, d.Name)
		}
		ok, err := r.solve(next)
		if err != nil || ok {
			return ok, err
		}
		for _, d := range c.Dependencies {
			r.asks[d.Name] = r.asks[d.Name][:len(r.asks[d.Name])-1]
		}
		delete(r.chosen, name)
	}
	if r.failure == nil {
		r.fail(name)
	}
	return false, nil
}

// preferred orders candidates: the enabled version first, then newest first.
func (r *resolver) preferred(name string, cands []Candidate) []Candidate {
	enabled := r.opts.Enabled[name]
	if enabled == "" {
		return cands
	}
	out := make([]Candidate, 0, len(cands))
	for _, c := range cands {
		if c.Version == enabled {
			out = append(out, c)
		}
	}
	for _, c := range cands {
		if c.Version != enabled {
			out = append(out, c)
		}
	}
	return out
}

func (r *resolver) allowed(name string, c Candidate) bool {
	for _, a := range r.asks[name] {
		if !a.allows(c.semver) {
			return false
		}
	}
	return true
}

func (r *resolver) notFound(name string) error {
	var who []string
	for _, a := range r.asks[name] {
		who = append(who, a.by)
	}
	return fmt.Errorf("addon %s is in no registry (asked for by %s); add its registry with ferry addon registry add", name, strings.Join(who, ", "))
}

// fail records why no version of name fits: who asks for what, and which versions exist.
func (r *resolver) fail(name string) {
	var asks []string
	for _, a := range r.asks[name] {
		c := a.constraint
		if c == "" {
			c = "any version"
		}
		asks = append(asks, fmt.Sprintf("%s asks for %s", a.by, c))
	}
	var versions []string
	for _, c := range r.known[name] {
		versions = append(versions, c.Version+" ("+c.Registry+")")
	}
	r.failure = fmt.Errorf("no version of addon %s satisfies every constraint: %s; available: %s",
		name, strings.Join(asks, ", "), strings.Join(versions, ", "))
}

// order sorts the chosen addons dependencies-first and reports a cycle with its chain.
func (r *resolver) order(root string) (*Resolution, error) {
	res := &Resolution{RequiredBy: map[string][]string{}}
	const (
		visiting = 1
		done     = 2
	)
	mark := map[string]int{}
	var stack []string
	var visit func(name string) error
	visit = func(name string) error {
		switch mark[name] {
		case done:
			return nil
		case visiting:
			i := indexOf(stack, name)
			chain := append(append([]string(nil), stack[i:]...), name)
			return fmt.Errorf("addon dependencies form a cycle: %s", strings.Join(chain, " -> "))
		}
		mark[name] = visiting
		stack = append(stack, name)
		c := r.chosen[name]
		for _, d := range c.Dependencies {
			res.RequiredBy[d.Name] = append(res.RequiredBy[d.Name], name)
			if err := visit(d.Name); err != nil {
				return err
			}
		}
		stack = stack[:len(stack)-1]
		mark[name] = done
		res.Order = append(res.Order, c)
		return nil
	}
	if err := visit(root); err != nil {
		return nil, err
	}
	for _, v := range res.RequiredBy {
		sort.Strings(v)
	}
	return res, nil
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return 0
}
