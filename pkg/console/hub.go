package console

import (
	"fmt"
	"net/http"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	clusterv1 "open-cluster-management.io/api/cluster/v1"

	"github.com/ferryhq/ferry/pkg/addon"
	"github.com/ferryhq/ferry/pkg/appview"
	"github.com/ferryhq/ferry/pkg/cue"
	"github.com/ferryhq/ferry/pkg/definition"
)

type clusterRow struct {
	Name      string
	Labels    map[string]string
	Available string
	Message   string
	Apps      []string
}

type clustersView struct {
	Clusters []clusterRow
	// NoOCM says the hub serves no ManagedClusters; Problem any other error.
	NoOCM   bool
	Problem string
}

// clustersPage lists managed clusters with their labels, availability and the apps on each
// (from the apps' component status), and the hub itself as "local".
func (s *Server) clustersPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v := &clustersView{}
	apps, _, _, err := s.listApps(ctx, "", nil)
	if err != nil {
		s.fail(w, r, statusOf(err), err)
		return
	}
	on := map[string]map[string]bool{}
	for _, a := range apps {
		for _, svc := range a.Status.Services {
			cl := appview.ClusterName(svc.Cluster)
			if on[cl] == nil {
				on[cl] = map[string]bool{}
			}
			on[cl][a.Namespace+"/"+a.Name] = true
		}
	}
	appsOn := func(cl string) []string {
		var out []string
		for k := range on[cl] {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	v.Clusters = append(v.Clusters, clusterRow{Name: "local", Available: "available", Message: "the hub itself", Apps: appsOn("local")})
	var list clusterv1.ManagedClusterList
	switch err := s.cl(ctx).List(ctx, &list); {
	case meta.IsNoMatchError(err) || apierrors.IsNotFound(err):
		v.NoOCM = true
	case err != nil:
		v.Problem = err.Error()
	}
	for _, mc := range list.Items {
		row := clusterRow{Name: mc.Name, Labels: mc.Labels, Available: "unknown", Apps: appsOn(mc.Name)}
		if c := meta.FindStatusCondition(mc.Status.Conditions, clusterv1.ManagedClusterConditionAvailable); c != nil {
			row.Available, row.Message = "unavailable", c.Message
			if c.Status == "True" {
				row.Available = "available"
			}
		}
		v.Clusters = append(v.Clusters, row)
	}
	s.render(w, r, "clusters", page{Title: "Clusters", Nav: "clusters", Body: v})
}

type definitionRow struct {
	Kind, Name, Description string
	// Source is built-in or NAMESPACE/NAME of the definition's object on the hub.
	Source string
	Link   string
}

type definitionsView struct {
	Definitions []definitionRow
	Problems    []string
}

// definitionsPage lists the built-in definitions and the definition objects on the hub.
func (s *Server) definitionsPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v := &definitionsView{}
	reg, err := definition.Builtin()
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	for _, k := range definition.Kinds {
		for _, d := range reg.List(k) {
			v.Definitions = append(v.Definitions, definitionRow{Kind: string(k), Name: d.Name, Description: firstLine(d.Description),
				Source: "built-in", Link: "/definitions/" + string(k) + "/" + d.Name})
		}
		objs, err := definition.ListObjects(ctx, s.cl(ctx), k, "")
		if err != nil {
			v.Problems = append(v.Problems, fmt.Sprintf("%s definitions on the hub: %v", k, err))
			continue
		}
		for _, o := range objs {
			v.Definitions = append(v.Definitions, definitionRow{Kind: string(k), Name: o.GetName(),
				Description: o.GetAnnotations()["definition.oam.dev/description"],
				Source:      o.GetNamespace() + "/" + o.GetName(), Link: "/definitions/" + string(k) + "/" + o.GetName() + "?namespace=" + o.GetNamespace()})
		}
	}
	s.render(w, r, "definitions", page{Title: "Definitions", Nav: "definitions", Body: v})
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

type definitionView struct {
	Kind, Name, Description, Source string
	Workload                        string
	AppliesTo, ConflictsWith        []string
	Parameters                      []cue.Parameter
	Problem                         string
}

// definitionPage documents one definition's parameters, as `ferry def show` does.
func (s *Server) definitionPage(w http.ResponseWriter, r *http.Request) {
	kind, err := definition.ParseKind(r.PathValue("kind"))
	if err != nil {
		s.fail(w, r, http.StatusBadRequest, err)
		return
	}
	name, ns := r.PathValue("name"), r.URL.Query().Get("namespace")
	var d *definition.Definition
	if ns == "" {
		reg, err := definition.Builtin()
		if err == nil {
			d, err = reg.Get(kind, name)
		}
		if err != nil {
			s.fail(w, r, http.StatusNotFound, err)
			return
		}
	} else {
		d, err = definition.NewClusterSource(s.cl(r.Context()), ns).Definition(r.Context(), ns, kind, name)
		if err != nil {
			s.fail(w, r, statusOf(err), err)
			return
		}
	}
	v := &definitionView{Kind: string(d.Kind), Name: d.Name, Description: strings.TrimSpace(d.Description), Source: "built-in",
		AppliesTo: d.AppliesToWorkloads, ConflictsWith: d.ConflictsWith}
	if !d.Builtin {
		v.Source = d.Filename
	}
	if d.Workload.Kind != "" {
		v.Workload = d.Workload.APIVersion + " " + d.Workload.Kind
	}
	if tmpl, err := s.o.Engine.Compile(d.Source()); err != nil {
		v.Problem = err.Error()
	} else {
		v.Parameters = tmpl.Parameters()
	}
	s.render(w, r, "definition", page{Title: string(d.Kind) + " " + d.Name, Nav: "definitions", Body: v})
}

type addonsView struct {
	Catalog *addon.CatalogView
	Problem string
}

// addonsPage shows the addon catalogue and what is enabled, as `ferry addon list` does, read
// with the request's identity (the registries are in the system namespace).
func (s *Server) addonsPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v := &addonsView{}
	regs, _, err := addon.OpenRegistries(ctx, s.cl(ctx), s.o.SystemNamespace)
	var m *addon.Manager
	if err == nil {
		m, err = addon.NewManager(addon.Options{Client: s.cl(ctx), Namespace: s.o.SystemNamespace, Registries: regs, Engine: s.o.Engine})
	}
	if err == nil {
		v.Catalog, err = m.Catalog(ctx)
	}
	if err != nil {
		v.Problem = err.Error()
	}
	s.render(w, r, "addons", page{Title: "Addons", Nav: "addons", Body: v})
}
