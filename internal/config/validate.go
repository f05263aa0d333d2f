package config

import (
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"regexp"
	"strings"
)

// validators build the typed Config from the raw file, one section each,
// in this order. A new section adds one function here.
var validators = []func(v *validator, raw *rawFile, c *Config){
	validateTop,
	validateWireGuard,
	validateAPI,
	validateHub,
	validateUplinks,
	validateTunnels,
	validateBGP,
	validateEdgeHubs,
	validateSites,
	validateLiveness,
	validateSLA,
	validateECMP,
	validateBreakout,
	validateLastResort,
	validatePublish,
	validateMemory,
}

// Soft memory limits of the Go runtime, in MiB. The runtime lets its heap
// grow to twice what is live before it collects; with a million-prefix
// breakout source that doubling, not the data, is what pushes the daemon
// past a home router's budget. The limit makes it collect sooner instead.
// GoBGP keeps every announced path several times over, so announcing the
// breakout set gets a larger default.
const (
	DefaultMemoryLimitMB         = 256
	DefaultMemoryLimitAnnounceMB = 1024
	minMemoryLimitMB             = 64
)

func validateMemory(v *validator, raw *rawFile, c *Config) {
	def := int64(DefaultMemoryLimitMB)
	if len(c.Breakout.Peers) > 0 {
		def = DefaultMemoryLimitAnnounceMB
	}
	c.MemoryLimitMB = int(def)
	if !v.has("memory_limit_mb") {
		return
	}
	n := raw.MemoryMB
	if n != 0 && (n < minMemoryLimitMB || n > 1<<20) {
		v.errorf("memory_limit_mb", "%d is out of range (0 for no limit, or %d to %d MiB)", n, minMemoryLimitMB, 1<<20)
		return
	}
	c.MemoryLimitMB = int(n)
}

// validator collects semantic errors, each at the position of the key it
// is about.
type validator struct {
	file   string
	ix     *index
	keys   keyReader
	errs   ErrorList
	claims map[string]claim
	// Kept between sections: the edge's underlay interfaces (by name, the
	// path that names each) and the tunnel prefixes already checked.
	underlay       map[string]string
	tunnelPrefixes []tunnelPrefix
	published      []portUse // public ports of [[publish]] tables so far
}

// claim records which key holds a value that must be unique.
type claim struct {
	path     string
	explicit bool // written in the file, not a default
}

// at finds where path is written, or the nearest table around it, or the
// top of the file when nothing is written at all.
func (v *validator) at(path string) pos {
	for path != "" {
		if p, ok := v.ix.pos[path]; ok {
			return p
		}
		path = parentPath(path)
	}
	return pos{line: 1, col: 1}
}

// parentPath strips the last step of a path: a.b[2].c -> a.b[2] -> a.b.
func parentPath(path string) string {
	if strings.HasSuffix(path, "]") {
		return path[:strings.LastIndexByte(path, '[')]
	}
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[:i]
	}
	return ""
}

func join(table, key string) string {
	if table == "" {
		return key
	}
	return table + "." + key
}

// errorf reports a problem with the key at path; the message starts with
// the path so that it reads right without the file at hand.
func (v *validator) errorf(path, format string, args ...any) {
	v.errorAt(v.at(path), path+": "+fmt.Sprintf(format, args...))
}

func (v *validator) errorAt(p pos, msg string) {
	v.errs = append(v.errs, &Error{File: v.file, Line: p.line, Col: p.col, Msg: msg})
}

// has reports whether the key is written with a value of the right kind.
func (v *validator) has(path string) bool { return v.ix.has(path) }

// required reports a missing key at its table's header. A key present with
// the wrong kind was reported by the checker and is not missing.
func (v *validator) required(table, key, hint string) bool {
	path := join(table, key)
	if v.ix.has(path) {
		return true
	}
	if v.reported(path) {
		return false
	}
	msg := fmt.Sprintf("missing required key %q (%s)", key, hint)
	if table != "" {
		msg = table + ": " + msg
	}
	v.errorAt(v.at(table), msg)
	return false
}

// reported says whether the checker already complained about path or a
// table around it: a table of the wrong kind, or a misspelt name that
// meant this one, must not also show up as a missing key.
func (v *validator) reported(path string) bool {
	for ; path != ""; path = parentPath(path) {
		if v.ix.bad[path] || v.ix.meant[path] {
			return true
		}
	}
	return false
}

// unique claims value in a namespace and reports a clash. The error goes
// to the key written in the file when the other one is a default.
func (v *validator) unique(space, value string, c claim, what, fix string) bool {
	key := space + "\x00" + value
	prev, ok := v.claims[key]
	if !ok {
		v.claims[key] = c
		return true
	}
	if !c.explicit && prev.explicit {
		c, prev = prev, c
	}
	owner := parentPath(prev.path)
	if !prev.explicit {
		owner += " (its default)"
	}
	v.errorf(c.path, "%s is also the %s of %s; %s", value, what, owner, fix)
	return false
}

var (
	nameRE     = regexp.MustCompile(`^[a-z0-9-]+$`)
	logLevels  = []string{"debug", "info", "warn", "error"}
	maxNameLen = 63
)

// checkName checks a site, uplink or tunnel name, which ends up in
// interface names, link aliases and log lines.
func (v *validator) checkName(path, name string) bool {
	switch {
	case name == "":
		v.errorf(path, "must not be empty (use lowercase letters, digits and '-', e.g. \"docomo\")")
	case len(name) > maxNameLen || !nameRE.MatchString(name):
		v.errorf(path, "%q is not a valid name (use 1 to %d lowercase letters, digits and '-')", name, maxNameLen)
	default:
		return true
	}
	return false
}

func validateTop(v *validator, raw *rawFile, c *Config) {
	if v.required("", "role", `add role = "edge" on the home router or role = "hub" on the VPS`) {
		switch Role(raw.Role) {
		case RoleEdge, RoleHub:
			c.Role = Role(raw.Role)
		default:
			v.errorf("role", "%q is not a role (use \"edge\" on the home router or \"hub\" on the VPS)", raw.Role)
		}
	}
	if v.required("", "site", `name this site, e.g. site = "home"`) && v.checkName("site", raw.Site) {
		c.Site = raw.Site
	}
	if v.required("", "asn", "add this site's BGP AS number, e.g. a private one: asn = 64512") {
		if raw.ASN < 1 || raw.ASN > 4294967294 {
			v.errorf("asn", "%d is not a usable AS number (use 1 to 4294967294; private ones are 64512-65534 and 4200000000-4294967294)", raw.ASN)
		} else {
			c.ASN = uint32(raw.ASN)
		}
	}
	if v.required("", "router_id", `add the BGP router ID, an IPv4 address, e.g. router_id = "198.18.0.1"`) {
		c.RouterID = v.routerID(raw.RouterID)
	}
	c.StateDir = v.absPath("state_dir", raw.StateDir, "/var/lib/uplinkd")
	c.LogLevel = "info"
	if v.has("log_level") {
		if !contains(logLevels, raw.LogLevel) {
			v.errorf("log_level", "%q is not a log level (use one of %s)", raw.LogLevel, strings.Join(logLevels, ", "))
		} else {
			c.LogLevel = raw.LogLevel
		}
	}
}

func (v *validator) routerID(s string) netip.Addr {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() || a.IsUnspecified() {
		v.errorf("router_id", "%q is not an IPv4 address (BGP router IDs are IPv4 even on IPv6-only sites; e.g. \"198.18.0.1\")", s)
		return netip.Addr{}
	}
	return a
}

// absPath returns an absolute path setting, or def when it is not set.
func (v *validator) absPath(path, val, def string) string {
	if !v.has(path) {
		return def
	}
	if !filepath.IsAbs(val) {
		v.errorf(path, "%q is not an absolute path (write it from /, e.g. %q)", val, def)
		return def
	}
	return filepath.Clean(val)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func validateWireGuard(v *validator, raw *rawFile, c *Config) {
	w := raw.WireGuard
	c.WireGuard.MTU = 1380
	if v.has("wireguard.mtu") {
		if w.MTU < 1280 || w.MTU > 9000 {
			v.errorf("wireguard.mtu", "%d is out of range (use 1280 to 9000; IPv6 needs at least 1280, and 1380 fits inside mobile carriers' paths)", w.MTU)
		} else {
			c.WireGuard.MTU = int(w.MTU)
		}
	}
	c.WireGuard.Impl = ImplAuto
	if v.has("wireguard.implementation") {
		switch i := Impl(w.Implementation); i {
		case ImplAuto, ImplKernel, ImplUserspace:
			c.WireGuard.Impl = i
		default:
			v.errorf("wireguard.implementation", "%q is not an implementation (use \"auto\", \"kernel\" or \"userspace\")", w.Implementation)
		}
	}
	if v.required("wireguard", "private_key_file", `add private_key_file = "/etc/uplinkd/private.key" under [wireguard]`) {
		v.privateKey(w.PrivateKeyFile, &c.WireGuard)
	}
}

func validateAPI(v *validator, raw *rawFile, c *Config) {
	c.API.Socket = v.absPath("api.socket", raw.API.Socket, "/run/uplinkd/uplinkd.sock")
	c.API.Group = raw.API.Group
	if v.has("api.group") && raw.API.Group == "" {
		v.errorf("api.group", `must not be empty (leave the key out to keep the socket root-only)`)
	}
	c.API.Metrics = "127.0.0.1:9474"
	c.API.MetricsPublic = raw.API.MetricsPublic
	if v.has("api.metrics") {
		c.API.Metrics = v.metricsAddr(raw.API.Metrics, c.API.MetricsPublic)
	}
}

// metricsAddr checks where metrics are served: an IP literal and a port,
// so that nothing listens on an address nobody meant, and loopback unless
// the operator opted in (metrics_public); "" turns them off.
func (v *validator) metricsAddr(s string, public bool) string {
	if s == "" {
		return ""
	}
	host, port, err := net.SplitHostPort(s)
	a, aerr := netip.ParseAddr(host)
	switch {
	case err != nil || aerr != nil || port == "" || port == "0":
		v.errorf("api.metrics", "%q is not address:port (e.g. \"127.0.0.1:9474\"; \"\" turns metrics off)", s)
		return ""
	case !a.IsLoopback() && !public:
		v.errorf("api.metrics", "%s is not a loopback address: the metrics name the site's tunnels, peers and prefixes to whoever reaches them (keep 127.0.0.1, or add metrics_public = true under [api] to serve them there)", host)
		return ""
	}
	return s
}
