package cuestep

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry/pkg/egress"
)

// TestHTTPRefusesInternalDestinations: with every host allowed, requests to loopback (the
// test server's own port), localhost, the cloud metadata address and a redirect to another
// loopback address are refused by default; the loopback server works once its network is
// allowed, and a redirect off it is checked again.
func TestHTTPRefusesInternalDestinations(t *testing.T) {
	var hits int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits++
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	other, err := net.Listen("tcp", "127.0.0.2:0")
	require.NoError(t, err)
	hidden := &httptest.Server{Listener: other, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits++
		_, _ = io.WriteString(w, "secret")
	})}}
	hidden.Start()
	t.Cleanup(hidden.Close)
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, hidden.URL+"/", http.StatusFound)
	}))
	t.Cleanup(redirect.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	open := NewHTTP(HTTPOptions{AllowedHosts: []string{"*"}})
	for _, u := range []string{srv.URL, "http://localhost:" + port + "/", "http://169.254.169.254/latest/meta-data/", "http://[::1]:" + port + "/"} {
		_, err := open.Do(context.Background(), HTTPRequest{Method: http.MethodGet, URL: u})
		require.ErrorIs(t, err, egress.ErrAddressNotAllowed, u)
	}
	require.Zero(t, hits)

	allowed := NewHTTP(HTTPOptions{AllowedHosts: []string{"*"}, AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	resp, err := allowed.Do(context.Background(), HTTPRequest{Method: http.MethodGet, URL: srv.URL})
	require.NoError(t, err)
	require.Equal(t, "ok", resp.Body)
	_, err = allowed.Do(context.Background(), HTTPRequest{Method: http.MethodGet, URL: redirect.URL})
	require.ErrorIs(t, err, egress.ErrAddressNotAllowed, "the redirect's connection is checked too")
	require.ErrorContains(t, err, "127.0.0.2 is loopback")
	require.Equal(t, 1, hits, "the hidden server was never reached")

	byName := NewHTTP(HTTPOptions{AllowedHosts: []string{"127.0.0.1"}, AllowedNetworks: loopback})
	_, err = byName.Do(context.Background(), HTTPRequest{Method: http.MethodGet, URL: redirect.URL})
	require.ErrorIs(t, err, egress.ErrHostNotAllowed, "a redirect to a host off the list")
}

// TestHTTPNamespaceList: the namespace's list narrows the controller's; it is read once.
func TestHTTPNamespaceList(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }))
	t.Cleanup(srv.Close)
	reads := 0
	list := func(hosts ...string) func(context.Context) ([]string, bool, error) {
		return func(context.Context) ([]string, bool, error) { reads++; return hosts, hosts != nil, nil }
	}
	narrowed := NewHTTP(HTTPOptions{AllowedHosts: []string{"127.0.0.1"}, AllowedNetworks: loopback, NamespaceHosts: list("hooks.example.com")})
	for range 2 {
		_, err := narrowed.Do(context.Background(), HTTPRequest{Method: http.MethodGet, URL: srv.URL})
		require.ErrorIs(t, err, egress.ErrHostNotAllowed)
		require.ErrorContains(t, err, "ferry-egress")
	}
	require.Equal(t, 1, reads)
	none := NewHTTP(HTTPOptions{AllowedHosts: []string{"127.0.0.1"}, AllowedNetworks: loopback, NamespaceHosts: list()})
	_, err := none.Do(context.Background(), HTTPRequest{Method: http.MethodGet, URL: srv.URL})
	require.NoError(t, err, "a namespace without a list keeps the controller's")
}

// TestSMTPRefusesInternalDestinations: mail goes through the same checks.
func TestSMTPRefusesInternalDestinations(t *testing.T) {
	host, port, _ := fakeSMTP(t)
	m := Mail{From: "ferry@example.com", Host: host, Port: port, To: []string{"ops@example.com"}, Subject: "s", Body: "b"}
	err := SMTPMailer{Egress: egress.Policy{Hosts: []string{"*"}}}.Send(context.Background(), m)
	require.ErrorIs(t, err, egress.ErrAddressNotAllowed)
	err = SMTPMailer{Egress: egress.Policy{Hosts: []string{"smtp.example.com"}, Networks: loopback}}.Send(context.Background(), m)
	require.ErrorIs(t, err, egress.ErrHostNotAllowed)
	err = SMTPMailer{Egress: egress.Policy{Hosts: []string{"*"}, Networks: loopback}, NamespaceHosts: func(context.Context) ([]string, bool, error) {
		return []string{"smtp.example.com"}, true, nil
	}}.Send(context.Background(), m)
	require.ErrorContains(t, err, "ferry-egress")
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://hooks.slack.com/services/T000/B000/XXXX":       "https://hooks.slack.com/…",
		"https://oapi.dingtalk.com/robot/send?access_token=abc": "https://oapi.dingtalk.com/…",
		"http://user:pass@example.com:8080/":                    "http://example.com:8080",
		"https://example.com":                                   "https://example.com",
		"not a url with a secret":                               "(a URL)",
	} {
		require.Equal(t, want, RedactURL(in), in)
	}
}

// TestHTTPErrorsDoNotRepeatTheURL: a failed request says where it went, not the path or
// query, which may hold a webhook's token.
func TestHTTPErrorsDoNotRepeatTheURL(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	l.Close() // nothing listens there now: the connection is refused
	p := NewHTTP(HTTPOptions{AllowedHosts: []string{"127.0.0.1"}, AllowedNetworks: loopback})
	_, err = p.Do(context.Background(), HTTPRequest{Method: http.MethodPost, URL: "http://" + addr + "/hooks/SECRET-TOKEN?key=SECRET-KEY"})
	require.Error(t, err)
	require.NotContains(t, err.Error(), "SECRET")
	require.Contains(t, err.Error(), "http://"+addr+"/…")
}
