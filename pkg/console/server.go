package console

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	ferryscheme "github.com/ferryhq/ferry/api/scheme"
	"github.com/ferryhq/ferry/pkg/addon"
	"github.com/ferryhq/ferry/pkg/cue"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// SessionCookie is the cookie that carries the session token after the first request.
const SessionCookie = "ferry_console"

// Options configure a console.
type Options struct {
	// Config is the identity every read and action uses.
	Config *rest.Config
	// Namespace is where to look when the identity may not list Applications in every
	// namespace nor list namespaces (the kubeconfig context's namespace).
	Namespace string
	// SystemNamespace holds the hub-wide definitions and Ferry's own objects.
	SystemNamespace string
	// Token is the session token; a random one when empty.
	Token string
	// Engine compiles definitions to document their parameters; a strict engine when nil.
	Engine *cue.Engine
	// Catalog lists the addons; the Addons page says addons are not available when nil.
	Catalog func(ctx context.Context) (*addon.CatalogView, error)
	// PageSize is the number of applications per page (50 when zero).
	PageSize int
	// Log receives one line per action taken (who acted is the identity itself).
	Log io.Writer
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Server serves the console.
type Server struct {
	o      Options
	c      client.WithWatch
	csrf   string
	pages  map[string]*template.Template
	static http.Handler

	accessMu sync.Mutex
	access   map[string]accessEntry
}

type accessEntry struct {
	allowed bool
	at      time.Time
}

// New returns a console that acts with o.Config's identity.
func New(o Options) (*Server, error) {
	if o.Config == nil {
		return nil, errors.New("console: no cluster connection")
	}
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	if o.PageSize <= 0 {
		o.PageSize = 50
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Engine == nil {
		o.Engine = cue.NewEngine(cue.Options{Validation: cue.ValidateStrict})
	}
	if o.Token == "" {
		o.Token = randomHex(24)
	}
	scheme, err := ferryscheme.New()
	if err != nil {
		return nil, err
	}
	c, err := client.NewWithWatch(o.Config, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", o.Config.Host, err)
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	return &Server{o: o, c: c, csrf: randomHex(24), pages: pages, static: http.StripPrefix("/static/", http.FileServerFS(sub)),
		access: map[string]accessEntry{}}, nil
}

// Token is the session token a URL must carry once.
func (s *Server) Token() string { return s.o.Token }

// URL is the address to open: base (http://HOST:PORT) with the session token.
func (s *Server) URL(base string) string {
	return strings.TrimSuffix(base, "/") + "/?token=" + url.QueryEscape(s.o.Token)
}

// Handler serves every page, the live-update streams and the actions.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /static/", s.static)
	mux.HandleFunc("GET /{$}", s.appsPage)
	mux.HandleFunc("GET /fragments/apps", s.appsFragment)
	mux.HandleFunc("GET /watch/apps", s.watchApps)
	mux.HandleFunc("GET /apps/{namespace}/{name}", s.appPage)
	mux.HandleFunc("GET /apps/{namespace}/{name}/fragment", s.appFragment)
	mux.HandleFunc("GET /apps/{namespace}/{name}/watch", s.watchApp)
	mux.HandleFunc("GET /apps/{namespace}/{name}/diff", s.diffPage)
	mux.HandleFunc("GET /apps/{namespace}/{name}/confirm/{action}", s.confirmPage)
	mux.HandleFunc("POST /apps/{namespace}/{name}/actions/{action}", s.action)
	mux.HandleFunc("GET /clusters", s.clustersPage)
	mux.HandleFunc("GET /definitions", s.definitionsPage)
	mux.HandleFunc("GET /definitions/{kind}/{name}", s.definitionPage)
	mux.HandleFunc("GET /addons", s.addonsPage)
	return s.secure(mux)
}

// secure sets the security headers on every response and lets only the session through.
func (s *Server) secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "+
			"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cache-Control", "no-store")
		if tok := r.URL.Query().Get("token"); tok != "" {
			if !equal(tok, s.o.Token) {
				s.fail(w, r, http.StatusUnauthorized, errors.New("this console link's token is not valid: open the URL `ferry ui` printed"))
				return
			}
			http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: s.o.Token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
			q := r.URL.Query()
			q.Del("token")
			u := *r.URL
			u.RawQuery = q.Encode()
			http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
			return
		}
		ck, err := r.Cookie(SessionCookie)
		if err != nil || !equal(ck.Value, s.o.Token) {
			s.fail(w, r, http.StatusUnauthorized, errors.New("no console session: open the URL `ferry ui` printed (it carries the session token)"))
			return
		}
		if r.Method == http.MethodPost {
			// The cookie is SameSite=Strict; the form must also carry the CSRF token, and a
			// browser's Origin, when sent, must be this console.
			if origin := r.Header.Get("Origin"); origin != "" && origin != "http://"+r.Host {
				s.fail(w, r, http.StatusForbidden, fmt.Errorf("refused: a request from %s, not from this console", origin))
				return
			}
			if !equal(r.PostFormValue("csrf"), s.csrf) {
				s.fail(w, r, http.StatusForbidden, errors.New("refused: the form has no valid CSRF token (reload the page and try again)"))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("console: no randomness: %v", err))
	}
	return hex.EncodeToString(b)
}

// allowed asks the API server whether the console's identity may do verb on resource
// (group/resource[/subresource]) in namespace. Answers are kept for 10 seconds.
func (s *Server) allowed(ctx context.Context, verb, group, resource, subresource, namespace string) bool {
	key := strings.Join([]string{verb, group, resource, subresource, namespace}, "/")
	now := s.o.Now()
	s.accessMu.Lock()
	e, ok := s.access[key]
	s.accessMu.Unlock()
	if ok && now.Sub(e.at) < 10*time.Second {
		return e.allowed
	}
	review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
		ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: verb, Group: group, Resource: resource, Subresource: subresource, Namespace: namespace}}}
	allowed := false
	if err := s.c.Create(ctx, review); err == nil {
		allowed = review.Status.Allowed
	}
	s.accessMu.Lock()
	s.access[key] = accessEntry{allowed: allowed, at: now}
	s.accessMu.Unlock()
	return allowed
}
