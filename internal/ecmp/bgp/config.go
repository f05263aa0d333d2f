package bgp

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Config is the whole desired state of a speaker. Start and Apply take it by
// value; the speaker keeps its own copy.
type Config struct {
	ASN      uint32
	RouterID netip.Addr // an IPv4 address (the BGP identifier is 4 bytes)

	// Passive makes every session wait for the far side to connect. The hub
	// sets it: if both sides dial, GoBGP resolves the collision by sending
	// both idle for 5 s.
	Passive bool

	// ListenPort is 179 when zero; -1 does not listen at all (an edge that
	// only dials).
	ListenPort  int
	ListenAddrs []netip.Addr // default 0.0.0.0 and ::
	// GRPC, when set (host:port, loopback in practice), serves GoBGP's own
	// gRPC API so that the standard `gobgp` CLI can inspect the RIB.
	GRPC string

	// Timers are whole seconds, as on the wire. GoBGP refuses a hold time
	// under 3 s. Defaults: hold 9 s, keepalive hold/3, connect retry 1 s
	// (GoBGP's own 120 s would leave a restarted hub unreached for minutes).
	HoldTime     time.Duration
	Keepalive    time.Duration
	ConnectRetry time.Duration

	Peers []Peer

	// Originate is announced to every peer of the prefix's family with next
	// hop self (GoBGP sets the session's local address on eBGP).
	Originate []netip.Prefix

	// Accept is the import filter: exactly these prefixes (not their
	// subnets) are accepted from peers, everything else is rejected.
	Accept []netip.Prefix

	// MaxPrefixes is the limit per peer and family on prefixes received,
	// counted before the import filter. Exceeding it ends the session with
	// a CEASE; PeerState.LastError says so. Zero: no limit.
	MaxPrefixes uint32
	// MaxPrefixRestart is how long a session ended by MaxPrefixes stays
	// down before the speaker starts it again (whole seconds; GoBGP v3 has
	// no restart timer of its own). Zero keeps it down until Apply changes
	// the peer or the speaker restarts.
	MaxPrefixRestart time.Duration

	// Password signs every session with TCP-MD5 (RFC 2385); both ends must
	// use the same. Empty: no signature. At most 80 bytes, the kernel's
	// TCP_MD5SIG_MAXKEYLEN. Never logged.
	Password string

	// DisableTTLSecurity turns GTSM (RFC 5082) off: sessions then send the
	// usual eBGP TTL 1 and accept any TTL, for a peer that cannot do GTSM
	// or does not have it on (BIRD without `ttl security on`). With it on
	// (the default), both ends send TTL 255 and drop anything less.
	DisableTTLSecurity bool
}

// maxPasswordLen is Linux's TCP_MD5SIG_MAXKEYLEN.
const maxPasswordLen = 80

// Peer is one eBGP session, over one tunnel, for one address family (that of
// Address).
type Peer struct {
	Name    string     // key for status and for the reconciler, e.g. "docomo-v6"
	Address netip.Addr // far inner tunnel address
	Local   netip.Addr // local inner tunnel address to bind to; zero: any
	ASN     uint32
	Port    int // remote port, 179 when zero
	// Accept, when not nil, is what this peer may announce instead of
	// Config.Accept: a hub gives each edge site's sessions its own LAN.
	Accept []netip.Prefix
}

const (
	defaultHoldTime     = 9 * time.Second
	defaultConnectRetry = time.Second
	minHoldTime         = 3 * time.Second
	bgpPort             = 179
)

// ErrConfig is wrapped by every validation error.
var ErrConfig = errors.New("invalid bgp config")

// withDefaults returns c with zero values replaced and addresses unmapped.
func (c Config) withDefaults() Config {
	if c.HoldTime == 0 {
		c.HoldTime = defaultHoldTime
	}
	if c.Keepalive == 0 {
		c.Keepalive = (c.HoldTime / 3).Truncate(time.Second)
	}
	if c.ConnectRetry == 0 {
		c.ConnectRetry = defaultConnectRetry
	}
	if c.ListenPort == 0 {
		c.ListenPort = bgpPort
	}
	if len(c.ListenAddrs) == 0 {
		c.ListenAddrs = []netip.Addr{netip.IPv4Unspecified(), netip.IPv6Unspecified()}
	}
	peers := make([]Peer, len(c.Peers))
	for i, p := range c.Peers {
		p.Address, p.Local = p.Address.Unmap(), p.Local.Unmap()
		if p.Port == 0 {
			p.Port = bgpPort
		}
		peers[i] = p
	}
	c.Peers = peers
	c.RouterID = c.RouterID.Unmap()
	return c
}

// validate checks a defaulted config; every error wraps ErrConfig.
func (c Config) validate() error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, a...)...))
	}
	if c.ASN == 0 {
		bad("asn must not be 0")
	}
	if !c.RouterID.Is4() {
		bad("router id %v must be an IPv4 address", c.RouterID)
	}
	if c.ListenPort < -1 || c.ListenPort > 65535 {
		bad("listen port %d out of range (-1 for none)", c.ListenPort)
	}
	errs = append(errs, validateTimers(c)...)
	if len(c.Password) > maxPasswordLen { // the message must not quote it
		bad("password is %d bytes, over the %d TCP-MD5 allows", len(c.Password), maxPasswordLen)
	}
	errs = append(errs, validatePeers(c.Peers)...)
	errs = append(errs, validatePrefixes("originate", c.Originate)...)
	errs = append(errs, validatePrefixes("accept", c.Accept)...)
	for _, p := range c.Peers {
		errs = append(errs, validatePrefixes("peer "+p.Name+" accept", p.Accept)...)
	}
	return errors.Join(errs...)
}

func validateTimers(c Config) []error {
	var errs []error
	whole := func(name string, d time.Duration) {
		if d%time.Second != 0 {
			errs = append(errs, fmt.Errorf("%w: %s %v must be whole seconds", ErrConfig, name, d))
		}
	}
	whole("hold time", c.HoldTime)
	whole("keepalive", c.Keepalive)
	whole("connect retry", c.ConnectRetry)
	whole("max-prefix restart", c.MaxPrefixRestart)
	if c.MaxPrefixRestart < 0 {
		errs = append(errs, fmt.Errorf("%w: max-prefix restart %v must not be negative", ErrConfig, c.MaxPrefixRestart))
	}
	if c.HoldTime < minHoldTime {
		errs = append(errs, fmt.Errorf("%w: hold time %v is under %v, which GoBGP refuses (use BFD for faster detection)", ErrConfig, c.HoldTime, minHoldTime))
	}
	if c.Keepalive < time.Second || c.Keepalive >= c.HoldTime {
		errs = append(errs, fmt.Errorf("%w: keepalive %v must be at least 1 s and under the hold time %v", ErrConfig, c.Keepalive, c.HoldTime))
	}
	if c.ConnectRetry < time.Second {
		errs = append(errs, fmt.Errorf("%w: connect retry %v must be at least 1 s", ErrConfig, c.ConnectRetry))
	}
	return errs
}

func validatePeers(peers []Peer) []error {
	var errs []error
	names := map[string]bool{}
	addrs := map[netip.Addr]string{}
	for _, p := range peers {
		bad := func(format string, a ...any) {
			errs = append(errs, fmt.Errorf("%w: peer %q: "+format, append([]any{ErrConfig, p.Name}, a...)...))
		}
		switch {
		case p.Name == "":
			bad("name must not be empty")
		case names[p.Name]:
			bad("duplicate name")
		}
		names[p.Name] = true
		if !p.Address.IsValid() {
			bad("address is missing")
		} else if other, dup := addrs[p.Address]; dup {
			bad("address %v already used by peer %q", p.Address, other)
		}
		addrs[p.Address] = p.Name
		if p.Local.IsValid() && p.Address.IsValid() && p.Local.Is4() != p.Address.Is4() {
			bad("local address %v and address %v are of different families", p.Local, p.Address)
		}
		if p.ASN == 0 {
			bad("asn must not be 0")
		}
		if p.Port < 1 || p.Port > 65535 {
			bad("port %d out of range", p.Port)
		}
	}
	return errs
}

func validatePrefixes(what string, ps []netip.Prefix) []error {
	var errs []error
	for _, p := range ps {
		if !p.IsValid() || p != p.Masked() || p.Addr().Is4In6() {
			errs = append(errs, fmt.Errorf("%w: %s prefix %v is not a valid masked prefix", ErrConfig, what, p))
		}
	}
	return errs
}
