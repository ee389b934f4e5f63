package addon

import (
	"context"
	"fmt"
	"testing"

	"github.com/Masterminds/semver/v3"
	"github.com/stretchr/testify/require"
)

// staticCatalog is a catalog written as name -> version -> dependencies ("name constraint").
type staticCatalog map[string]map[string][]Dependency

func (s staticCatalog) Candidates(_ context.Context, name string) ([]Candidate, error) {
	var out []Candidate
	for v, deps := range s[name] {
		sv := semver.MustParse(v)
		for i := range deps {
			if deps[i].Version != "" {
				deps[i].constraint = mustConstraint(deps[i].Version)
			}
		}
		out = append(out, Candidate{Name: name, Version: v, Registry: "test", Dependencies: deps, semver: sv})
	}
	sortCandidates(out)
	return out, nil
}

func sortCandidates(c []Candidate) {
	for i := range c {
		for j := i + 1; j < len(c); j++ {
			if c[j].semver.GreaterThan(c[i].semver) {
				c[i], c[j] = c[j], c[i]
			}
		}
	}
}

func mustConstraint(s string) *semver.Constraints {
	c, err := semver.NewConstraint(s)
	if err != nil {
		panic(err)
	}
	return c
}

func dep(name, version string) Dependency { return Dependency{Name: name, Version: version} }

func order(res *Resolution) []string {
	var out []string
	for _, c := range res.Order {
		out = append(out, c.Ref())
	}
	return out
}

func TestResolve(t *testing.T) {
	issue := staticCatalog{
		"a": {"1.0.0": {dep("b", ">=1.2 <2"), dep("c", "")}},
		"c": {"1.0.0": {dep("b", "^1.3")}},
		"b": {"1.1.0": nil, "1.3.0": nil, "2.0.0": nil},
	}
	tests := []struct {
		name    string
		cat     staticCatalog
		req     Request
		enabled map[string]string
		want    []string
		wantErr string
	}{
		{name: "the issue's graph: b 1.3.0, dependencies first", cat: issue, req: Request{Name: "a"},
			want: []string{"b@1.3.0", "c@1.0.0", "a@1.0.0"}},
		{name: "an exact version", cat: issue, req: Request{Name: "b", Version: "1.1.0"}, want: []string{"b@1.1.0"}},
		{name: "newest without constraints", cat: issue, req: Request{Name: "b"}, want: []string{"b@2.0.0"}},
		{name: "an enabled version that fits is kept", cat: staticCatalog{
			"a": {"1.0.0": {dep("b", ">=1.0.0")}}, "b": {"1.0.0": nil, "1.5.0": nil}},
			req: Request{Name: "a"}, enabled: map[string]string{"b": "1.0.0"}, want: []string{"b@1.0.0", "a@1.0.0"}},
		{name: "an enabled version that does not fit is upgraded", cat: issue, req: Request{Name: "a"},
			enabled: map[string]string{"b": "1.1.0"}, want: []string{"b@1.3.0", "c@1.0.0", "a@1.0.0"}},
		{name: "backtracks to an older dependent", cat: staticCatalog{
			"a": {"2.0.0": {dep("b", ">=3")}, "1.0.0": {dep("b", "^1")}}, "b": {"1.2.0": nil}},
			req: Request{Name: "a"}, want: []string{"b@1.2.0", "a@1.0.0"}},
		{name: "unsatisfiable names who asks for what", cat: staticCatalog{
			"a": {"1.0.0": {dep("b", ">=1.2 <2"), dep("c", "")}}, "c": {"1.0.0": {dep("b", ">=2")}}, "b": {"1.1.0": nil, "1.3.0": nil, "2.0.0": nil}},
			req:     Request{Name: "a"},
			wantErr: "no version of addon b satisfies every constraint: a@1.0.0 asks for >=1.2 <2, c@1.0.0 asks for >=2; available: 2.0.0 (test), 1.3.0 (test), 1.1.0 (test)"},
		{name: "a cycle is reported with its chain", cat: staticCatalog{
			"a": {"1.0.0": {dep("b", "")}}, "b": {"1.0.0": {dep("c", "")}}, "c": {"1.0.0": {dep("a", "")}}},
			req: Request{Name: "a"}, wantErr: "addon dependencies form a cycle: a -> b -> c -> a"},
		{name: "a missing dependency", cat: staticCatalog{"a": {"1.0.0": {dep("ghost", "^1")}}},
			req: Request{Name: "a"}, wantErr: "addon ghost is in no registry (asked for by a@1.0.0)"},
		{name: "a version that does not exist", cat: issue, req: Request{Name: "b", Version: "0.3.0"},
			wantErr: "no version of addon b satisfies every constraint: you asks for 0.3.0; available: 2.0.0 (test), 1.3.0 (test), 1.1.0 (test)"},
		{name: "a bad constraint", cat: issue, req: Request{Name: "b", Version: "latest!"}, wantErr: "b@latest!: not a version or semver constraint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Resolve(context.Background(), tt.cat, tt.req, ResolveOptions{Enabled: tt.enabled})
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, order(res))
		})
	}
}

// chainCatalog is n addons, each depending on the next with a range, each in several versions.
func chainCatalog(n, versions int) staticCatalog {
	cat := staticCatalog{}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("addon-%02d", i)
		cat[name] = map[string][]Dependency{}
		for v := 0; v < versions; v++ {
			var deps []Dependency
			if i+1 < n {
				deps = []Dependency{dep(fmt.Sprintf("addon-%02d", i+1), ">=1.0.0 <2")}
			}
			cat[name][fmt.Sprintf("1.%d.0", v)] = deps
		}
	}
	return cat
}

func TestResolveDeepChain(t *testing.T) {
	res, err := Resolve(context.Background(), chainCatalog(10, 5), Request{Name: "addon-00"}, ResolveOptions{})
	require.NoError(t, err)
	require.Len(t, res.Order, 10)
	require.Equal(t, "addon-09@1.4.0", res.Order[0].Ref())
	require.Equal(t, "addon-00@1.4.0", res.Order[9].Ref())
}

// BenchmarkResolveChain10 resolves a 10-deep chain of addons with 5 versions each.
func BenchmarkResolveChain10(b *testing.B) {
	cat := chainCatalog(10, 5)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Resolve(context.Background(), cat, Request{Name: "addon-00"}, ResolveOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
