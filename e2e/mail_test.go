package e2e

import (
	"errors"
	"io"
	"net"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"
)

// delivered is one message a mail server accepted, with the credentials it was sent with.
type delivered struct {
	username, password, from string
	to                       []string
	data                     []byte
}

// mailServer runs an SMTP server (go-smtp) on loopback that takes PLAIN authentication without
// TLS (allowed on loopback) from the one user given, and reports each message it accepts.
func mailServer(t *testing.T, username, password string) (port int, got chan delivered) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	got = make(chan delivered, 4)
	s := smtp.NewServer(mailBackend{username: username, password: password, got: got})
	s.Domain, s.AllowInsecureAuth = "localhost", true
	go func() { _ = s.Serve(l) }()
	t.Cleanup(func() { _ = s.Close() })
	return l.Addr().(*net.TCPAddr).Port, got
}

type mailBackend struct {
	username, password string
	got                chan delivered
}

func (b mailBackend) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &mailSession{b: b}, nil
}

type mailSession struct {
	b      mailBackend
	msg    delivered
	authed bool
}

func (s *mailSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *mailSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != s.b.username || password != s.b.password {
			return errors.New("invalid credentials")
		}
		s.authed, s.msg.username, s.msg.password = true, username, password
		return nil
	}), nil
}

func (s *mailSession) Mail(from string, _ *smtp.MailOptions) error {
	if !s.authed {
		return smtp.ErrAuthRequired
	}
	s.msg.from = from
	return nil
}

func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.msg.to = append(s.msg.to, to)
	return nil
}

func (s *mailSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.msg.data = data
	s.b.got <- s.msg
	return nil
}

func (s *mailSession) Reset()        { s.msg = delivered{username: s.msg.username, password: s.msg.password} }
func (s *mailSession) Logout() error { return nil }
