package cuestep

import (
	"bufio"
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ferryhq/ferry/pkg/egress"
)

// loopback lets tests reach their servers on 127.0.0.1, which the egress policy refuses by
// default.
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

// loopbackMailer sends to the tests' SMTP servers on loopback.
var loopbackMailer = SMTPMailer{Egress: egress.Policy{Hosts: []string{"127.0.0.1"}, Networks: loopback}}

// fakeSMTP accepts one plain SMTP session on loopback and returns what it was sent.
func fakeSMTP(t *testing.T) (host string, port int, got chan string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	got = make(chan string, 1)
	go func() {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		r, w := bufio.NewReader(conn), bufio.NewWriter(conn)
		say := func(s string) { _, _ = w.WriteString(s + "\r\n"); _ = w.Flush() }
		say("220 fake ESMTP")
		var transcript strings.Builder
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			cmd := strings.ToUpper(strings.TrimSpace(line))
			transcript.WriteString(strings.TrimSpace(line) + "\n")
			switch {
			case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
				say("250 fake")
			case strings.HasPrefix(cmd, "DATA"):
				say("354 go ahead")
				for {
					l, err := r.ReadString('\n')
					if err != nil || l == ".\r\n" {
						break
					}
					transcript.WriteString(l)
				}
				say("250 queued")
			case strings.HasPrefix(cmd, "QUIT"):
				say("221 bye")
				got <- transcript.String()
				return
			default:
				say("250 ok")
			}
		}
	}()
	addr := l.Addr().(*net.TCPAddr)
	return addr.IP.String(), addr.Port, got
}

func TestSMTPMailerSendsOverSMTP(t *testing.T) {
	host, port, got := fakeSMTP(t)
	err := loopbackMailer.Send(context.Background(), Mail{From: "ferry@example.com", FromAlias: "Ferry", Host: host, Port: port,
		To: []string{"ops@example.com"}, Subject: "shop is live", Body: "all green"})
	require.NoError(t, err)
	transcript := <-got
	require.Contains(t, transcript, "MAIL FROM:<ferry@example.com>")
	require.Contains(t, transcript, "RCPT TO:<ops@example.com>")
	require.Contains(t, transcript, "Subject: shop is live")
	require.Contains(t, transcript, "From: Ferry <ferry@example.com>")
	require.Contains(t, transcript, "all green")
}

// TestSMTPMailerGivesUpOnASilentServer: a server that accepts the connection and says nothing
// fails the send at the context's deadline instead of holding the worker.
func TestSMTPMailerGivesUpOnASilentServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			defer conn.Close() // never greets
		}
	}()
	addr := l.Addr().(*net.TCPAddr)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = loopbackMailer.Send(ctx, Mail{From: "ferry@example.com", Host: addr.IP.String(), Port: addr.Port, To: []string{"ops@example.com"}})
	require.Error(t, err)
	require.Less(t, time.Since(start), 20*time.Second, "bounded by the context (300ms), not by the server")
}
