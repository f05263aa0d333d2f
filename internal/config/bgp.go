package config

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"time"
)

var defaultRoutes = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}

// validateBGP checks [bgp]. The edge announces its LAN and, by default,
// accepts only the default routes; the hub announces the default routes
// and must be told which LAN prefixes the edge may announce.
func validateBGP(v *validator, raw *rawFile, c *Config) {
	b := raw.BGP
	v.bgpPeerASN(raw, c)
	hold, keepalive := int64(9), int64(3)
	if anyFrugal(raw) {
		hold, keepalive = int64(FrugalBGPHoldTime/time.Second), int64(FrugalBGPKeepalive/time.Second)
	}
	c.BGP.HoldTime = v.seconds("bgp.hold_time", b.HoldTime, hold, 3, 65535, "GoBGP refuses hold times under 3 s; BFD detects failures faster")
	c.BGP.Keepalive = v.seconds("bgp.keepalive", b.Keepalive, keepalive, 1, 21845, "a third of hold_time is usual")
	if !v.has("bgp.keepalive") && c.BGP.Keepalive*3 > c.BGP.HoldTime {
		c.BGP.Keepalive = (c.BGP.HoldTime / 3).Truncate(time.Second)
	}
	if c.BGP.Keepalive*3 > c.BGP.HoldTime && v.has("bgp.keepalive") {
		v.errorf("bgp.keepalive", "%d s is more than a third of hold_time %d s (use at most %d)", b.Keepalive, int(c.BGP.HoldTime.Seconds()), int(c.BGP.HoldTime.Seconds())/3)
	}
	c.BGP.Port = 179
	if v.has("bgp.port") {
		c.BGP.Port = v.port("bgp.port", b.Port)
	}
	c.BGP.MaxPrefixes = 100
	if v.has("bgp.max_prefixes") {
		if b.MaxPrefixes < 1 || b.MaxPrefixes > 10_000_000 {
			v.errorf("bgp.max_prefixes", "%d is out of range (1 to 10000000 per session and family)", b.MaxPrefixes)
		} else {
			c.BGP.MaxPrefixes = int(b.MaxPrefixes)
		}
	}
	if v.has("bgp.grpc") {
		c.BGP.GRPC = v.loopbackAddr("bgp.grpc", b.GRPC)
	}
	c.BGP.MaxPrefixRestart = v.seconds("bgp.max_prefix_restart", b.MaxPrefixRestart, 30, 0, 86400,
		"how long a session stopped by max_prefixes stays down; 0 keeps it down until a reload")
	if v.has("bgp.password") {
		c.BGP.Password = v.password("bgp.password", b.Password)
	}
	c.BGP.TTLSecurity = true
	if v.has("bgp.ttl_security") {
		c.BGP.TTLSecurity = b.TTLSecurity
	}
	switch c.Role {
	case RoleEdge:
		c.BGP.Originate = v.prefixList("bgp.originate", b.Originate, nil)
		c.BGP.Accept = v.prefixList("bgp.accept", b.Accept, defaultRoutes)
	case RoleHub:
		c.BGP.Originate = v.prefixList("bgp.originate", b.Originate, defaultRoutes)
		v.hubAccept(raw, c)
	}
}

// seconds reads a whole-second duration with a default and a range.
func (v *validator) seconds(path string, n, def, lo, hi int64, why string) time.Duration {
	if !v.has(path) {
		return time.Duration(def) * time.Second
	}
	if n < lo || n > hi {
		v.errorf(path, "%d is out of range (seconds, %d to %d; %s)", n, lo, hi, why)
		return time.Duration(def) * time.Second
	}
	return time.Duration(n) * time.Second
}

func (v *validator) port(path string, n int64) int {
	if n < 1 || n > 65535 {
		v.errorf(path, "%d is not a port (use 1 to 65535)", n)
		return 0
	}
	return int(n)
}

// prefixList parses a list of prefixes, each in canonical form so that a
// host bit set by mistake is caught rather than silently masked.
func (v *validator) prefixList(path string, list []string, def []netip.Prefix) []netip.Prefix {
	if !v.has(path) {
		return def
	}
	var out []netip.Prefix
	for i, s := range list {
		p, err := netip.ParsePrefix(s)
		el := fmt.Sprintf("%s[%d]", path, i)
		switch {
		case err != nil:
			v.errorf(el, "%q is not a prefix (write it as address/length, e.g. \"198.18.10.0/24\")", s)
		case p != p.Masked():
			v.errorf(el, "%q has host bits set (did you mean %q?)", s, p.Masked())
		default:
			out = append(out, p)
		}
	}
	return out
}

// anyFrugal reports whether any tunnel asks for the frugal liveness mode,
// before validation: the BGP timers' defaults depend on it.
func anyFrugal(raw *rawFile) bool {
	if raw.Liveness.Mode == LivenessFrugal {
		return true
	}
	for _, u := range raw.Uplink {
		if u.Liveness == LivenessFrugal {
			return true
		}
	}
	for _, t := range raw.Tunnel {
		if t.Liveness == LivenessFrugal {
			return true
		}
	}
	return false
}

// firstFrugal is the path of the first key that asks for the frugal mode.
func firstFrugal(raw *rawFile) string {
	if raw.Liveness.Mode == LivenessFrugal {
		return "liveness.mode"
	}
	for i, u := range raw.Uplink {
		if u.Liveness == LivenessFrugal {
			return fmt.Sprintf("uplink[%d].liveness", i)
		}
	}
	for i, t := range raw.Tunnel {
		if t.Liveness == LivenessFrugal {
			return fmt.Sprintf("tunnel[%d].liveness", i)
		}
	}
	return "liveness"
}

// validateLiveness checks [liveness]: BFD on by default at 100 ms x 3,
// fast.
func validateLiveness(v *validator, raw *rawFile, c *Config) {
	l := raw.Liveness
	c.Liveness.BFD = true
	if v.has("liveness.bfd") {
		c.Liveness.BFD = l.BFD
	}
	c.Liveness.Mode = v.choice("liveness.mode", l.Mode, LivenessFast, LivenessFast, LivenessFrugal)
	c.Liveness.Interval = v.millis("liveness.interval_ms", l.IntervalMS, 100, 10, 10000, "BFD's transmit and receive interval; 100 ms x 3 detects a dead tunnel in 300 ms")
	c.Liveness.IdleInterval = v.millis("liveness.idle_interval_ms", l.IdleIntervalMS, 2000, 100, 60000,
		"the frugal mode's BFD interval while a tunnel is idle; at 2000 ms a silent peer is probed after 2.25 s, so an idle failure is detected within 2.5 s")
	if v.has("liveness.idle_interval_ms") && c.Liveness.IdleInterval < c.Liveness.Interval {
		v.errorf("liveness.idle_interval_ms", "%d is below interval_ms %d (the idle rate must not be faster than the busy one)",
			l.IdleIntervalMS, c.Liveness.Interval.Milliseconds())
	}
	if anyFrugal(raw) && !c.Liveness.BFD {
		v.errorf(firstFrugal(raw), "the frugal liveness mode needs BFD (set bfd = true in [liveness], or leave the mode out)")
	}
	for i := range c.Uplinks {
		c.Uplinks[i].Liveness = cmp.Or(c.Uplinks[i].Liveness, c.Liveness.Mode)
	}
	for i := range c.Tunnels {
		c.Tunnels[i].Liveness = cmp.Or(c.Tunnels[i].Liveness, c.Liveness.Mode)
	}
	c.Liveness.Multiplier = 3
	if v.has("liveness.multiplier") {
		if l.Multiplier < 1 || l.Multiplier > 255 {
			v.errorf("liveness.multiplier", "%d is out of range (1 to 255; 3 is usual)", l.Multiplier)
		} else {
			c.Liveness.Multiplier = int(l.Multiplier)
		}
	}
	c.Liveness.HoldDown = v.millis("liveness.hold_down_ms", l.HoldDownMS, 3000, 0, 600000, "how long a tunnel must stay up before it carries traffic again")
}

func (v *validator) millis(path string, n, def, lo, hi int64, why string) time.Duration {
	if !v.has(path) {
		return time.Duration(def) * time.Millisecond
	}
	if n < lo || n > hi {
		v.errorf(path, "%d is out of range (milliseconds, %d to %d; %s)", n, lo, hi, why)
		return time.Duration(def) * time.Millisecond
	}
	return time.Duration(n) * time.Millisecond
}

// validateECMP checks [ecmp].
// DefaultFailoverPriority is the lowest real-time priority: above every
// normal task, below anything an operator made real-time on purpose.
const DefaultFailoverPriority = 1

func validateECMP(v *validator, raw *rawFile, c *Config) {
	e := raw.ECMP
	c.ECMP = ECMP{Table: 254, Resilient: "auto", HashPolicy: 1, OnExit: "flush", FailoverPriority: DefaultFailoverPriority}
	if v.has("ecmp.failover_priority") {
		if e.FailoverPriority < 0 || e.FailoverPriority > 99 {
			v.errorf("ecmp.failover_priority", "%d is not a real-time priority (0 for none, or 1 to 99)", e.FailoverPriority)
		} else {
			c.ECMP.FailoverPriority = int(e.FailoverPriority)
		}
	}
	if v.has("ecmp.table") {
		if e.Table < 1 || e.Table > maxTable || e.Table == 253 || e.Table == 255 {
			v.errorf("ecmp.table", "%d cannot hold the ECMP routes (use 254 for main, or a table of your own)", e.Table)
		} else {
			c.ECMP.Table = int(e.Table)
		}
	}
	c.ECMP.Resilient = v.choice("ecmp.resilient", e.Resilient, "auto", "auto", "on", "off")
	c.ECMP.OnExit = v.choice("ecmp.on_exit", e.OnExit, "flush", "flush", "keep")
	if v.has("ecmp.last_resort") && c.Role == RoleHub {
		v.errorf("ecmp.last_resort", "only an edge has a last resort (remove it from the hub's file)")
	}
	if v.has("ecmp.hash_policy") {
		if e.HashPolicy < 0 || e.HashPolicy > 2 {
			v.errorf("ecmp.hash_policy", "%d is not a multipath hash policy (0 = layer 3, 1 = layer 4, 2 = inner layer 3)", e.HashPolicy)
		} else {
			c.ECMP.HashPolicy = int(e.HashPolicy)
		}
	}
}

func (v *validator) choice(path, s, def string, allowed ...string) string {
	if !v.has(path) {
		return def
	}
	if !contains(allowed, s) {
		v.errorf(path, "%q is not one of %q", s, allowed)
		return def
	}
	return s
}

// loopbackAddr checks a host:port that must stay on the machine: GoBGP's
// gRPC API has no authentication, so it is refused anywhere else.
func (v *validator) loopbackAddr(path, s string) string {
	host, port, err := net.SplitHostPort(s)
	a, aerr := netip.ParseAddr(host)
	switch {
	case err != nil || aerr != nil || port == "" || port == "0":
		v.errorf(path, "%q is not address:port (e.g. \"127.0.0.1:50051\")", s)
	case !a.IsLoopback():
		v.errorf(path, "%s is not a loopback address (the gRPC API has no authentication: keep it on 127.0.0.1 or ::1)", host)
	default:
		return s
	}
	return ""
}

// Secret is a value that must never be printed: status, logs, `uplinkd
// check` and %v show only whether it is set.
type Secret string

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "(hidden)"
}

// GoString keeps %#v from printing it.
func (s Secret) GoString() string { return fmt.Sprintf("config.Secret(%q)", s.String()) }

// MarshalText keeps encoders (JSON, TOML) from printing it.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue keeps slog from printing it.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// maxMD5Key is Linux's TCP_MD5SIG_MAXKEYLEN.
const maxMD5Key = 80

// password checks a TCP-MD5 key. Messages never quote it. The file that
// holds it must not be readable by everyone, as for a private key.
func (v *validator) password(path, s string) Secret {
	switch {
	case s == "":
		v.errorf(path, "must not be empty (leave the key out for sessions without TCP-MD5)")
		return ""
	case len(s) > maxMD5Key:
		v.errorf(path, "is %d bytes; a TCP-MD5 key holds at most %d", len(s), maxMD5Key)
		return ""
	case !printableASCII(s):
		v.errorf(path, "holds a character other than printable ASCII (the other router must be given the same key: keep to letters, digits and punctuation)")
		return ""
	}
	// A config given as text (tests, stdin) has no file to check.
	fi, err := v.keys.Stat(v.file)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		v.errorf(path, "cannot check who may read %s: %v", v.file, unwrapPathError(err))
		return ""
	case fi.Mode().Perm()&0o004 != 0:
		v.errorf(path, "%s holds the BGP password and is readable by every user (mode %04o): chmod o-rwx %s", v.file, fi.Mode().Perm(), v.file)
		return ""
	}
	return Secret(s)
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
