package cuestep

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/smtp"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/ferryhq/ferry/pkg/egress"
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
	// AllowedNetworks are the loopback, link-local, private, shared or multicast networks
	// requests may reach; every other address of those kinds is refused after the name is
	// resolved (see package egress).
	AllowedNetworks []netip.Prefix
	// NamespaceHosts, when set, returns the Application namespace's own host list (ok false
	// when it has none); a host must then be on both lists. It is asked once, at the first
	// request.
	NamespaceHosts func(ctx context.Context) (hosts []string, ok bool, err error)
	// Timeout bounds each call that sets no timeout of its own; 10s when zero. MaxTimeout bounds
	// the ones that do; 1m when zero.
	Timeout, MaxTimeout time.Duration
	// MaxBody bounds the response body kept; 1 MiB when zero.
	MaxBody int64
}

// Egress returns the outbound policy of the options, without the namespace's list.
func (o HTTPOptions) Egress() egress.Policy {
	return egress.Policy{Hosts: o.AllowedHosts, Networks: o.AllowedNetworks}
}

// NewHTTP returns an HTTP provider that only calls allowed hosts at allowed addresses, every
// redirect checked again, with bounded time and response size.
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
	p := &httpProvider{opts: opts}
	p.client = &http.Client{
		// No proxy from the environment: the address checked must be the one connected to.
		// One connection per request: nothing idles after the step.
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         opts.Egress().Dialer(opts.Timeout).DialContext,
			TLSHandshakeTimeout: opts.Timeout,
			DisableKeepAlives:   true,
			ForceAttemptHTTP2:   true,
		},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 10 {
				return errors.New("stopped after 10 redirects")
			}
			policy, err := p.policy(req.Context())
			if err != nil {
				return err
			}
			if err := policy.CheckHost(req.URL.Hostname()); err != nil {
				return fmt.Errorf("redirect to %s: %w", RedactURL(req.URL.String()), err)
			}
			return nil
		},
	}
	return p
}

type httpProvider struct {
	opts   HTTPOptions
	client *http.Client

	once      sync.Once
	egress    egress.Policy
	egressErr error
}

// policy is the controller's policy narrowed by the namespace's list, read once.
func (p *httpProvider) policy(ctx context.Context) (egress.Policy, error) {
	p.once.Do(func() { p.egress, p.egressErr = narrow(ctx, p.opts.Egress(), p.opts.NamespaceHosts) })
	return p.egress, p.egressErr
}

// narrow narrows a policy by the namespace's host list, when there is one.
func narrow(ctx context.Context, policy egress.Policy, namespaceHosts func(context.Context) ([]string, bool, error)) (egress.Policy, error) {
	if namespaceHosts == nil {
		return policy, nil
	}
	hosts, ok, err := namespaceHosts(ctx)
	switch {
	case err != nil:
		return policy, fmt.Errorf("read the namespace's outbound allow-list (ConfigMap %s): %w", egress.ConfigMapName, err)
	case ok:
		return policy.Narrow(hosts), nil
	}
	return policy, nil
}

// RedactURL shows where a URL points without what may be a secret in it: a webhook URL
// from a Secret usually carries its token in the path (Slack, DingTalk, Lark) or the query, so
// only the scheme and host are kept, e.g. https://hooks.slack.com/… for
// https://hooks.slack.com/services/T000/B000/XXXX.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(a URL)"
	}
	out := u.Scheme + "://" + u.Host
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		out += "/…"
	}
	return out
}

// ErrHostNotAllowed is returned for requests to hosts outside the allow-list.
var ErrHostNotAllowed = egress.ErrHostNotAllowed

func (p *httpProvider) Do(ctx context.Context, r HTTPRequest) (HTTPResponse, error) {
	u, err := url.Parse(r.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return HTTPResponse{}, fmt.Errorf("%s: need an http or https URL", RedactURL(r.URL))
	}
	policy, err := p.policy(ctx)
	if err != nil {
		return HTTPResponse{}, err
	}
	if err := policy.CheckHost(u.Hostname()); err != nil {
		return HTTPResponse{}, err
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
		// The client's error repeats the URL, whose path or query may be a secret (a Slack
		// webhook's token): say where without it.
		var ue *url.Error
		if errors.As(err, &ue) {
			return HTTPResponse{}, fmt.Errorf("%s %s: %w", ue.Op, RedactURL(ue.URL), ue.Err)
		}
		return HTTPResponse{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, p.opts.MaxBody))
	if err != nil {
		return HTTPResponse{}, err
	}
	return HTTPResponse{StatusCode: resp.StatusCode, Body: string(body), Header: resp.Header}, nil
}

// SMTPMailer sends mail with net/smtp, PLAIN authentication when a password is given, to
// hosts and addresses its policy allows (checked as for HTTP: the host on the allow-list, the
// address it resolves to when connecting).
type SMTPMailer struct {
	Egress egress.Policy
	// NamespaceHosts, when set, returns the Application namespace's own host list (ok false
	// when it has none); the mail host must then be on both lists.
	NamespaceHosts func(ctx context.Context) (hosts []string, ok bool, err error)
}

// smtpTimeout bounds a mail exchange whose context sets no deadline.
const smtpTimeout = 30 * time.Second

// Send sends one mail, within ctx's deadline (30s when it has none): a server that does not
// answer fails the step instead of holding a worker.
func (s SMTPMailer) Send(ctx context.Context, m Mail) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, smtpTimeout)
		defer cancel()
	}
	deadline, _ := ctx.Deadline()
	addr := net.JoinHostPort(m.Host, fmt.Sprint(m.Port))
	policy, err := narrow(ctx, s.Egress, s.NamespaceHosts)
	if err != nil {
		return err
	}
	conn, err := policy.DialContext(ctx, "tcp", addr)
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
