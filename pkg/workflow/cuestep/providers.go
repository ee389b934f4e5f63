package cuestep

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/smtp"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Kube applies, reads, lists and deletes objects on a cluster ("" is the hub).
type Kube interface {
	Apply(ctx context.Context, cluster string, obj map[string]any) (map[string]any, error)
	Read(ctx context.Context, cluster string, obj map[string]any) (map[string]any, error)
	List(ctx context.Context, cluster, apiVersion, kind, namespace string, labels map[string]string) ([]map[string]any, error)
	Delete(ctx context.Context, cluster string, obj map[string]any) error
}

// Components applies one component of the Application the workflow belongs to.
type Components interface {
	ApplyComponent(ctx context.Context, component, cluster, namespace string) (output map[string]any, outputs map[string]any, err error)
}

// Placement is a cluster and a namespace ("" for the Application's) a topology policy places
// the Application in.
type Placement struct {
	Cluster, Namespace string
}

// Topology says where the Application's topology policies place it, as the plan resolved them.
type Topology interface {
	// Placements of the named topology policies, in order; of all of them when none is named;
	// the hub when the Application has none.
	Placements(policies []string) ([]Placement, error)
	// Clusters lists the managed clusters, the hub excluded.
	Clusters() []string
}

// HTTPRequest is what #HTTPDo sends.
type HTTPRequest struct {
	Method, URL string
	Body        string
	Header      map[string][]string
	Timeout     time.Duration
}

// HTTPResponse is what #HTTPDo gets back.
type HTTPResponse struct {
	StatusCode int
	Body       string
	Header     map[string][]string
}

// HTTP sends requests.
type HTTP interface {
	Do(ctx context.Context, req HTTPRequest) (HTTPResponse, error)
}

// Mail is what #SendEmail sends.
type Mail struct {
	From, FromAlias, Password, Host string
	Port                            int
	To                              []string
	Subject, Body                   string
}

// Mailer sends mail.
type Mailer interface {
	Send(ctx context.Context, m Mail) error
}

// Ledger remembers what sending actions did, by key, so that an execution repeated after a
// crash does not send again but sees the same result. The controller keeps it in the
// workflow's context ConfigMap.
type Ledger interface {
	Get(ctx context.Context, key string) (value string, ok bool, err error)
	Put(ctx context.Context, key, value string) error
}

// MemoryLedger is a Ledger in memory, for tests and offline runs.
type MemoryLedger struct {
	mu      sync.Mutex
	entries map[string]string
}

// Get returns what was recorded under key.
func (l *MemoryLedger) Get(_ context.Context, key string) (string, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	v, ok := l.entries[key]
	return v, ok, nil
}

// Put records value under key.
func (l *MemoryLedger) Put(_ context.Context, key, value string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.entries == nil {
		l.entries = map[string]string{}
	}
	l.entries[key] = value
	return nil
}

// HTTPOptions configure the HTTP provider.
type HTTPOptions struct {
	// AllowedHosts are host names (or *.suffix patterns) requests may go to; none allows none.
	AllowedHosts []string
	// Timeout bounds each call that sets no timeout of its own; 10s when zero. MaxTimeout bounds
	// the ones that do; 1m when zero.
	Timeout, MaxTimeout time.Duration
	// MaxBody bounds the response body kept; 1 MiB when zero.
	MaxBody int64
}

// NewHTTP returns an HTTP provider that only calls allowed hosts.
func NewHTTP(opts HTTPOptions) HTTP {
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.MaxTimeout == 0 {
		opts.MaxTimeout = time.Minute
	}
	if opts.MaxBody == 0 {
		opts.MaxBody = 1 << 20
	}
	return &httpProvider{opts: opts, client: &http.Client{CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if !hostAllowed(opts.AllowedHosts, req.URL.Hostname()) {
			return fmt.Errorf("redirect to %s: host not allowed", req.URL.Hostname())
		}
		return nil
	}}}
}

type httpProvider struct {
	opts   HTTPOptions
	client *http.Client
}

// ErrHostNotAllowed is returned for requests to hosts outside the allow-list.
var ErrHostNotAllowed = errors.New("host is not in the workflow HTTP allow-list")

func (p *httpProvider) Do(ctx context.Context, r HTTPRequest) (HTTPResponse, error) {
	u, err := url.Parse(r.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return HTTPResponse{}, fmt.Errorf("url %q: need an http or https URL", r.URL)
	}
	if !hostAllowed(p.opts.AllowedHosts, u.Hostname()) {
		return HTTPResponse{}, fmt.Errorf("%s: %w", u.Hostname(), ErrHostNotAllowed)
	}
	timeout := r.Timeout
	if timeout == 0 {
		timeout = p.opts.Timeout
	}
	ctx, cancel := context.WithTimeout(ctx, min(timeout, p.opts.MaxTimeout))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, strings.NewReader(r.Body))
	if err != nil {
		return HTTPResponse{}, err
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return HTTPResponse{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, p.opts.MaxBody))
	if err != nil {
		return HTTPResponse{}, err
	}
	return HTTPResponse{StatusCode: resp.StatusCode, Body: string(body), Header: resp.Header}, nil
}

func hostAllowed(allowed []string, host string) bool {
	for _, a := range allowed {
		if a == "*" || strings.EqualFold(a, host) {
			return true
		}
		if suffix, ok := strings.CutPrefix(a, "*."); ok && strings.HasSuffix(strings.ToLower(host), "."+strings.ToLower(suffix)) {
			return true
		}
	}
	return false
}

// SMTPMailer sends mail with net/smtp, PLAIN authentication when a password is given.
type SMTPMailer struct{}

// smtpTimeout bounds a mail exchange whose context sets no deadline.
const smtpTimeout = 30 * time.Second

// Send sends one mail, within ctx's deadline (30s when it has none): a server that does not
// answer fails the step instead of holding a worker.
func (SMTPMailer) Send(ctx context.Context, m Mail) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, smtpTimeout)
		defer cancel()
	}
	deadline, _ := ctx.Deadline()
	addr := net.JoinHostPort(m.Host, fmt.Sprint(m.Port))
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", addr, err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(deadline); err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) }) // cancellation too
	defer stop()
	c, err := smtp.NewClient(conn, m.Host)
	if err != nil {
		return fmt.Errorf("smtp %s: %w", addr, err)
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(&tls.Config{ServerName: m.Host, MinVersion: tls.VersionTLS12}); err != nil {
			return fmt.Errorf("smtp %s: start TLS: %w", addr, err)
		}
	}
	if m.Password != "" {
		if err := c.Auth(smtp.PlainAuth("", m.From, m.Password, m.Host)); err != nil {
			return fmt.Errorf("smtp %s: authenticate: %w", addr, err)
		}
	}
	if err := c.Mail(m.From); err != nil {
		return fmt.Errorf("smtp %s: %w", addr, err)
	}
	for _, to := range m.To {
		if err := c.Rcpt(to); err != nil {
			return fmt.Errorf("smtp %s: recipient %s: %w", addr, to, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp %s: %w", addr, err)
	}
	from := m.From
	if m.FromAlias != "" {
		from = fmt.Sprintf("%s <%s>", m.FromAlias, m.From)
	}
	if _, err := fmt.Fprintf(w, "From: %s\r\nTo: %s\r\nSubject: %s\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n%s\r\n",
		from, strings.Join(m.To, ", "), m.Subject, m.Body); err != nil {
		return fmt.Errorf("smtp %s: %w", addr, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp %s: %w", addr, err)
	}
	return c.Quit()
}
