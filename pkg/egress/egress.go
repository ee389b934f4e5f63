package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// Policy says which destinations outbound requests may reach.
type Policy struct {
	// Hosts are the host names (or *.suffix patterns, or "*" for any) requests may go to.
	// None allows none.
	Hosts []string
	// Networks are loopback, link-local, private, shared or multicast networks an operator
	// allows explicitly; every other address of those kinds is refused.
	Networks []netip.Prefix
	// Resolver resolves host names; net.DefaultResolver when nil.
	Resolver *net.Resolver

	// namespace, when narrowed, is a second list a host must also be on: the Application
	// namespace's own, which can only take away from Hosts.
	namespace []string
	narrowed  bool
}

// ErrHostNotAllowed is the error for a host outside the allow-list.
var ErrHostNotAllowed = errors.New("host is not on the outbound allow-list")

// ErrAddressNotAllowed is the error for a connection to a refused address.
var ErrAddressNotAllowed = errors.New("address is not allowed for outbound requests")

// Narrow returns the policy with a namespace's own host list: a host must be on both.
func (p Policy) Narrow(hosts []string) Policy {
	p.namespace, p.narrowed = append([]string(nil), hosts...), true
	return p
}

// CheckHost returns an error wrapping ErrHostNotAllowed unless host may be called.
func (p Policy) CheckHost(host string) error {
	if !matchHost(p.Hosts, host) {
		return fmt.Errorf("%s: %w (the controller's --http-allowed-hosts)", host, ErrHostNotAllowed)
	}
	if p.narrowed && !matchHost(p.namespace, host) {
		return fmt.Errorf("%s: %w (the namespace's %s ConfigMap)", host, ErrHostNotAllowed, ConfigMapName)
	}
	return nil
}

// ConfigMapName is the ConfigMap in an Application's namespace whose `hosts` (comma- or
// newline-separated) narrow the controller's allow-list for the Applications there.
const ConfigMapName = "ferry-egress"

// ParseHosts reads a host list as flags and ConfigMaps write it: comma- or newline-separated,
// blanks ignored.
func ParseHosts(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == ' ' || r == '\t' })
}

// ParseNetworks reads comma-separated CIDRs or addresses (an address is a network of one).
func ParseNetworks(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range ParseHosts(s) {
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a network (CIDR such as 10.0.0.0/8) or an address", f)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

func matchHost(allowed []string, host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, a := range allowed {
		a = strings.ToLower(a)
		if a == "*" || a == host {
			return true
		}
		if suffix, ok := strings.CutPrefix(a, "*."); ok && strings.HasSuffix(host, "."+suffix) {
			return true
		}
	}
	return false
}

// CheckAddress returns an error wrapping ErrAddressNotAllowed for an address in a refused
// range that no allowed network holds.
func (p Policy) CheckAddress(a netip.Addr) error {
	a = a.Unmap()
	why := refused(a)
	if why == "" {
		return nil
	}
	for _, n := range p.Networks {
		if n.Contains(a) {
			return nil
		}
	}
	return fmt.Errorf("%s is %s: %w (allow its network with --egress-allowed-networks)", a, why, ErrAddressNotAllowed)
}

var (
	sharedSpace = netip.MustParsePrefix("100.64.0.0/10") // carrier-grade NAT, often cluster-internal
	thisNetwork = netip.MustParsePrefix("0.0.0.0/8")
	nat64       = netip.MustParsePrefix("64:ff9b::/96")
	broadcast   = netip.MustParseAddr("255.255.255.255")
	metadata    = netip.MustParseAddr("169.254.169.254")
)

// refused says why an address may not be reached by default, "" when it may.
func refused(a netip.Addr) string {
	if nat64.Contains(a) {
		// A NAT64 address carries an IPv4 address in its last four bytes.
		b := a.As16()
		if why := refused(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})); why != "" {
			return why + " (through NAT64)"
		}
	}
	switch {
	case !a.IsValid():
		return "not an address"
	case a == metadata:
		return "link-local (the cloud metadata service)"
	case a.IsLoopback():
		return "loopback"
	case a.IsLinkLocalUnicast():
		return "link-local"
	case a.IsUnspecified() || thisNetwork.Contains(a):
		return "unspecified"
	case a.IsPrivate():
		return "private"
	case sharedSpace.Contains(a):
		return "shared address space"
	case a.IsMulticast() || a == broadcast:
		return "multicast or broadcast"
	}
	return ""
}

// Dialer returns a dialer that checks every address it connects to, after name resolution:
// what is checked is what is used.
func (p Policy) Dialer(timeout time.Duration) *net.Dialer {
	return &net.Dialer{Timeout: timeout, Resolver: p.Resolver, Control: func(_, address string, _ syscall.RawConn) error {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return err
		}
		a, err := netip.ParseAddr(host)
		if err != nil {
			return fmt.Errorf("%s: %w", address, ErrAddressNotAllowed)
		}
		return p.CheckAddress(a)
	}}
}

// DialContext connects to addr ("host:port") if the policy allows both the host and the
// address it resolves to.
func (p Policy) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if err := p.CheckHost(host); err != nil {
		return nil, err
	}
	return p.Dialer(0).DialContext(ctx, network, addr)
}
