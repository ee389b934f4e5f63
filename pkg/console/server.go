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
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"

	ferryscheme "github.com/ferryhq/ferry/api/scheme"
	"github.com/ferryhq/ferry/pkg/cue"
	"github.com/ferryhq/ferry/pkg/install"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// SessionCookie is the cookie that carries the session token after the first request.
const SessionCookie = "ferry_console"

// Options configure a console.
type Options struct {
	// Mode says whose identity reads and acts: Config's (ModeLocal) or each user's own
	// bearer token on Config's API server (ModeUser).
	Mode Mode
	// Config is the API server, and in ModeLocal the identity every read and action uses.
	Config *rest.Config
	// Namespace is where to look when the identity may not list Applications in every
	// namespace nor list namespaces (the kubeconfig context's namespace).
	Namespace string
	// SystemNamespace holds the hub-wide definitions and Ferry's own objects.
	SystemNamespace string
	// Token is ModeLocal's session token; a random one when empty.
	Token string
	// Engine compiles definitions to document their parameters; a strict engine when nil.
	Engine *cue.Engine
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
	scheme *runtime.Scheme
	// key derives each identity's CSRF token.
	key    []byte
	local  *identity
	pages  map[string]*template.Template
	static http.Handler

	usersMu sync.Mutex
	users   map[string]*identity
}

// New returns a console; o.Mode says whose identity it acts with.
func New(o Options) (*Server, error) {
	if o.Config == nil {
		return nil, errors.New("console: no cluster connection")
	}
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	if o.SystemNamespace == "" {
		o.SystemNamespace = install.DefaultNamespace
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
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	s := &Server{o: o, scheme: scheme, key: []byte(randomHex(32)), pages: pages, static: http.StripPrefix("/static/", http.FileServerFS(sub)),
		users: map[string]*identity{}}
	if o.Mode == ModeLocal {
		if s.local, err = s.newIdentity(o.Config, o.Token); err != nil {
			return nil, err
		}
	}
	return s, nil
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
	mux.HandleFunc("POST /logout", s.logout)
	return s.secure(mux)
}

// secure sets the security headers on every response, finds the request's identity (the
// session in ModeLocal, the bearer token in ModeUser) and checks an action's CSRF token.
func (s *Server) secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "+
			"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cache-Control", "no-store")
		if strings.HasPrefix(r.URL.Path, "/static/") {
			next.ServeHTTP(w, r)
			return
		}
		var id *identity
		switch s.o.Mode {
		case ModeLocal:
			if !s.localSession(w, r) {
				return
			}
			id = s.local
		case ModeUser:
			if r.URL.Path == "/login" {
				s.login(w, r)
				return
			}
			token := bearer(r)
			if token == "" {
				s.loginPage(w, r, http.StatusUnauthorized, "")
				return
			}
			var err error
			if id, err = s.userIdentity(token); err != nil {
				s.fail(w, r, http.StatusInternalServerError, err)
				return
			}
		}
		r = r.WithContext(context.WithValue(r.Context(), identityKey{}, id))
		if r.Method == http.MethodPost {
			// The cookies are SameSite=Strict; the form must also carry the identity's CSRF
			// token, and a browser's Origin, when sent, must be this console.
			if origin := r.Header.Get("Origin"); origin != "" && origin != "http://"+r.Host && origin != "https://"+r.Host {
				s.fail(w, r, http.StatusForbidden, fmt.Errorf("refused: a request from %s, not from this console", origin))
				return
			}
			if !equal(r.PostFormValue("csrf"), id.csrf) {
				s.fail(w, r, http.StatusForbidden, errors.New("refused: the form has no valid CSRF token (reload the page and try again)"))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// localSession trades the printed URL's token for a cookie, and lets only that cookie in.
func (s *Server) localSession(w http.ResponseWriter, r *http.Request) bool {
	if tok := r.URL.Query().Get("token"); tok != "" {
		if !equal(tok, s.o.Token) {
			s.fail(w, r, http.StatusUnauthorized, errors.New("this console link's token is not valid: open the URL `ferry ui` printed"))
			return false
		}
		http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: s.o.Token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
		q := r.URL.Query()
		q.Del("token")
		u := *r.URL
		u.RawQuery = q.Encode()
		http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
		return false
	}
	ck, err := r.Cookie(SessionCookie)
	if err != nil || !equal(ck.Value, s.o.Token) {
		s.fail(w, r, http.StatusUnauthorized, errors.New("no console session: open the URL `ferry ui` printed (it carries the session token)"))
		return false
	}
	return true
}

type loginView struct {
	Problem string
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request, status int, problem string) {
	if wantsJSON(r) {
		writeJSON(w, status, map[string]any{"ok": false, "message": "sign in: no bearer token"})
		return
	}
	w.WriteHeader(status)
	s.render(w, r, "login", page{Title: "Sign in", Body: loginView{Problem: problem}})
}

// login checks a pasted token with the API server (who is it?) and keeps it in an HttpOnly
// cookie; every later request passes it through.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		s.loginPage(w, r, http.StatusOK, "")
		return
	}
	if origin := r.Header.Get("Origin"); origin != "" && origin != "http://"+r.Host && origin != "https://"+r.Host {
		s.fail(w, r, http.StatusForbidden, fmt.Errorf("refused: a request from %s, not from this console", origin))
		return
	}
	token := strings.TrimSpace(r.PostFormValue("token"))
	if token == "" {
		s.loginPage(w, r, http.StatusBadRequest, "Paste a token: a ServiceAccount token or your OIDC ID token.")
		return
	}
	id, err := s.userIdentity(token)
	if err == nil {
		_, err = id.whoAmI(r.Context())
	}
	if err != nil {
		s.loginPage(w, r, http.StatusUnauthorized, "The API server did not accept this token: "+err.Error())
		return
	}
	http.SetCookie(w, &http.Cookie{Name: TokenCookie, Value: token, Path: "/", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, MaxAge: int(signedInFor / time.Second)})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// logout forgets the signed-in token.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: TokenCookie, Value: "", Path: "/", HttpOnly: true, MaxAge: -1, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("console: no randomness: %v", err))
	}
	return hex.EncodeToString(b)
}

// Serve serves the console on ln until ctx ends, then stops it (open event streams are
// closed; they do not end by themselves).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(shutdown)
		_ = hs.Close()
	}()
	err := hs.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		<-stopped
		return nil
	}
	return fmt.Errorf("console: %w", err)
}
