package console

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	"sigs.k8s.io/yaml"

	"github.com/ferryhq/ferry/api/v1beta1"
	"github.com/ferryhq/ferry/pkg/workflow/appworkflow"
)

type diffView struct {
	Namespace, Name string
	From, To        string
	Revisions       []string
	Lines           []diffLine
	Same            bool
}

type diffLine struct {
	// Kind is add, del, hunk or "" for context.
	Kind, Text string
}

// diffPage shows the difference between the specs of two kept revisions (the two newest
// when none are chosen).
func (s *Server) diffPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	key := s.appKey(r)
	revs, err := appworkflow.Revisions(ctx, s.cl(ctx), key)
	if err != nil {
		s.fail(w, r, statusOf(err), err)
		return
	}
	v := &diffView{Namespace: key.Namespace, Name: key.Name, From: r.URL.Query().Get("from"), To: r.URL.Query().Get("to")}
	byName := map[string]*v1beta1.ApplicationRevision{}
	for i := range revs {
		byName[revs[i].Name] = &revs[i]
		v.Revisions = append(v.Revisions, revs[i].Name)
	}
	if len(revs) == 0 {
		s.fail(w, r, http.StatusNotFound, fmt.Errorf("%s has no revisions yet", key))
		return
	}
	if v.To == "" {
		v.To = revs[0].Name
	}
	if v.From == "" {
		v.From = v.To
		if len(revs) > 1 {
			v.From = revs[1].Name
		}
	}
	from, to := byName[v.From], byName[v.To]
	if from == nil || to == nil {
		s.fail(w, r, http.StatusNotFound, fmt.Errorf("%s keeps no revision %q", key, map[bool]string{true: v.From, false: v.To}[from == nil]))
		return
	}
	a, err := yaml.Marshal(from.Spec.Application)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	b, err := yaml.Marshal(to.Spec.Application)
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	text, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{A: difflib.SplitLines(string(a)), B: difflib.SplitLines(string(b)),
		FromFile: v.From, ToFile: v.To, Context: 3})
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	v.Same = text == ""
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if line == "" {
			continue
		}
		kind := ""
		switch {
		case strings.HasPrefix(line, "+++"), strings.HasPrefix(line, "---"), strings.HasPrefix(line, "@@"):
			kind = "hunk"
		case strings.HasPrefix(line, "+"):
			kind = "add"
		case strings.HasPrefix(line, "-"):
			kind = "del"
		}
		v.Lines = append(v.Lines, diffLine{Kind: kind, Text: line})
	}
	s.render(w, r, "diff", page{Title: "Revisions of " + key.String(), Nav: "apps", Body: v})
}
