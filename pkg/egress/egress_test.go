package egress

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/dns/dnsmessage"
)

func TestCheckAddress(t *testing.T) {
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	cases := []struct {
		addr     string
		networks []netip.Prefix
		refused  string // "" when allowed
	}{
		{"93.184.216.34", nil, ""},
		{"2606:4700::1111", nil, ""},
		{"127.0.0.1", nil, "loopback"},
		{"::1", nil, "loopback"},
		{"::ffff:127.0.0.1", nil, "loopback"},
		{"169.254.169.254", nil, "the cloud metadata service"},
		{"64:ff9b::a9fe:a9fe", nil, "the cloud metadata service"},
		{"169.254.10.1", nil, "link-local"},
		{"fe80::1", nil, "link-local"},
		{"10.1.2.3", nil, "private"},
		{"172.16.0.1", nil, "private"},
		{"192.168.1.1", nil, "private"},
		{"fd00::1", nil, "private"},
		{"100.64.0.1", nil, "shared address space"},
		{"0.0.0.0", nil, "unspecified"},
		{"::", nil, "unspecified"},
		{"224.0.0.1", nil, "multicast"},
		{"ff02::1", nil, "multicast"},
		{"255.255.255.255", nil, "broadcast"},
		{"127.0.0.1", loopback, ""},
		{"::ffff:127.0.0.9", loopback, ""},
		{"10.1.2.3", loopback, "private"},
	}
	for _, c := range cases {
		t.Run(c.addr, func(t *testing.T) {
			err := Policy{Networks: c.networks}.CheckAddress(netip.MustParseAddr(c.addr))
			if c.refused == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrAddressNotAllowed)
			require.ErrorContains(t, err, c.refused)
		})
	}
}

func TestCheckHost(t *testing.T) {
	p := Policy{Hosts: []string{"*.example.com", "hooks.slack.com"}}
	require.NoError(t, p.CheckHost("a.example.com"))
	require.NoError(t, p.CheckHost("HOOKS.slack.com."))
	require.ErrorIs(t, p.CheckHost("example.com"), ErrHostNotAllowed)
	require.ErrorIs(t, p.CheckHost("evil.com"), ErrHostNotAllowed)
	require.ErrorIs(t, Policy{}.CheckHost("a.example.com"), ErrHostNotAllowed, "no list allows nothing")

	// A namespace's list narrows the controller's and cannot widen it.
	ns := p.Narrow([]string{"a.example.com", "*"})
	require.NoError(t, ns.CheckHost("a.example.com"))
	require.NoError(t, ns.CheckHost("b.example.com"), "the namespace allows any the controller allows")
	require.ErrorContains(t, ns.CheckHost("evil.com"), "--http-allowed-hosts")
	ns = p.Narrow([]string{"a.example.com"})
	err := ns.CheckHost("b.example.com")
	require.ErrorIs(t, err, ErrHostNotAllowed)
	require.ErrorContains(t, err, "the namespace's ferry-egress ConfigMap")
	require.ErrorIs(t, p.Narrow(nil).CheckHost("a.example.com"), ErrHostNotAllowed, "an empty namespace list allows nothing")
}

func TestParse(t *testing.T) {
	require.Equal(t, []string{"a.example.com", "*.b.com", "c.org"}, ParseHosts("a.example.com, *.b.com\nc.org,,"))
	n, err := ParseNetworks("10.0.0.0/8,127.0.0.1, fd00::/8")
	require.NoError(t, err)
	require.Equal(t, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("fd00::/8")}, n)
	_, err = ParseNetworks("10.0.0.0/33")
	require.ErrorContains(t, err, `"10.0.0.0/33" is not a network`)
}

// TestDialChecksTheResolvedAddress: the address checked is the one a name resolves to when
// connecting, answered here by a DNS server on loopback: an allowed name that resolves to a
// loopback or metadata address is refused before anything is sent to it.
func TestDialChecksTheResolvedAddress(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	resolver := dnsServer(t, map[string]string{"inside.example.com.": "127.0.0.1", "metadata.example.com.": "169.254.169.254"})
	p := Policy{Hosts: []string{"*"}, Resolver: resolver}
	for _, host := range []string{"inside.example.com", "metadata.example.com", "127.0.0.1"} {
		_, err := p.DialContext(context.Background(), "tcp", net.JoinHostPort(host, port))
		require.ErrorIs(t, err, ErrAddressNotAllowed, host)
	}
	p.Networks = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	c, err := p.DialContext(context.Background(), "tcp", net.JoinHostPort("inside.example.com", port))
	require.NoError(t, err, "an allowed network is reached")
	c.Close()
	_, err = p.DialContext(context.Background(), "tcp", net.JoinHostPort("metadata.example.com", port))
	require.ErrorIs(t, err, ErrAddressNotAllowed)
}

// dnsServer serves A records over UDP on loopback and returns a resolver that asks it.
func dnsServer(t *testing.T, records map[string]string) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var q dnsmessage.Message
			if q.Unpack(buf[:n]) != nil || len(q.Questions) != 1 {
				continue
			}
			question := q.Questions[0]
			resp := dnsmessage.Message{Header: dnsmessage.Header{ID: q.ID, Response: true, Authoritative: true}, Questions: q.Questions}
			if ip, ok := records[question.Name.String()]; ok && question.Type == dnsmessage.TypeA {
				resp.Answers = []dnsmessage.Resource{{
					Header: dnsmessage.ResourceHeader{Name: question.Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 1},
					Body:   &dnsmessage.AResource{A: netip.MustParseAddr(ip).As4()},
				}}
			} else if !ok {
				resp.RCode = dnsmessage.RCodeNameError
			}
			out, err := resp.Pack()
			if err == nil {
				_, _ = pc.WriteTo(out, from)
			}
		}
	}()
	addr := pc.LocalAddr().String()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "udp", addr)
	}}
}
