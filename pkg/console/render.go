package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/duration"
)

// page is what the layout needs around a page's body.
type page struct {
	Title string
	// Nav is the navigation entry this page belongs to.
	Nav string
	// Watch is the server-sent events stream that says the page changed; Fragment is the
	// part the script fetches again then.
	Watch, Fragment string
	CSRF            string
	// User is who the console acts as; SignOut offers signing out (ModeUser).
	User    string
	SignOut bool
	Body    any
}

// pageNames are the templates/NAME.html files; each defines "content", and some a "NAME-live"
// fragment.
var pageNames = []string{"apps", "app", "diff", "confirm", "result", "clusters", "definitions", "definition", "addons", "error", "login"}

var funcs = template.FuncMap{
	"ago": func(now, t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return duration.HumanDuration(now.Sub(t)) + " ago"
	},
	"stamp": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	},
	"phaseClass": phaseClass,
	"orDash":     orDash,
	"sortedKeys": func(m map[string]string) []string {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return keys
	},
	"join": strings.Join,
	"add":  func(a, b int) int { return a + b },
}

// phaseClass is the CSS class for a phase or state: ok, wait, bad or none. Colour is never
// the only sign: the phase is always written out too.
func phaseClass(phase string) string {
	switch phase {
	case "Succeeded":
		return "ok"
	case "Failed", "RolledBack":
		return "bad"
	case "Progressing", "Pending":
		return "wait"
	case "running", "succeeded", "healthy", "enabled", "available", "exists", "applied":
		return "ok"
	case "workflowFailed", "failed", "unhealthy", "workflowTerminated", "terminated", "not healthy", "degraded", "unavailable", "missing", "not applied":
		return "bad"
	case "workflowSuspending", "suspending", "runningWorkflow", "executing", "rendering", "starting", "enabling", "generatingPolicy", "pending":
		return "wait"
	}
	return "none"
}

func parsePages() (map[string]*template.Template, error) {
	pages := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// render writes a whole page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, name string, p page) {
	if id := s.id(r.Context()); id != nil {
		p.CSRF = id.csrf
		p.User, _ = id.whoAmI(r.Context())
		p.SignOut = s.o.Mode == ModeUser
	}
	var buf bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		http.Error(w, "render "+name+": "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(buf.Bytes())
}

// renderFragment writes the named part of a page, which the script swaps in.
func (s *Server) renderFragment(w http.ResponseWriter, r *http.Request, pageName, fragment string, body any) {
	var buf bytes.Buffer
	if err := s.pages[pageName].ExecuteTemplate(&buf, fragment, page{CSRF: s.id(r.Context()).csrf, Body: body}); err != nil {
		http.Error(w, "render "+fragment+": "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(buf.Bytes())
}

type errorView struct {
	Status  int
	Message string
}

// fail answers with an error page (or JSON, when the script asked for it).
func (s *Server) fail(w http.ResponseWriter, r *http.Request, status int, err error) {
	if wantsJSON(r) {
		writeJSON(w, status, map[string]any{"ok": false, "message": err.Error()})
		return
	}
	w.WriteHeader(status)
	s.render(w, r, "error", page{Title: http.StatusText(status), Body: errorView{Status: status, Message: err.Error()}})
}

func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// requestError is a problem with the request itself.
type requestError struct {
	status int
	err    error
}

func (e *requestError) Error() string { return e.err.Error() }
func (e *requestError) Unwrap() error { return e.err }

func badRequest(err error) error { return &requestError{status: http.StatusBadRequest, err: err} }

// statusOf maps an error to the HTTP status to answer with: the API server's own for its
// refusals (403 for RBAC, 404 for a missing app).
func statusOf(err error) int {
	var re *requestError
	if errors.As(err, &re) {
		return re.status
	}
	var se apierrors.APIStatus
	if errors.As(err, &se) && se.Status().Code >= 400 {
		return int(se.Status().Code)
	}
	return http.StatusInternalServerError
}
