package config

import (
	"net/netip"
	"time"
)

// Role says which end of the tunnels a site is.
type Role string

// The two roles a site can have.
const (
	RoleEdge Role = "edge" // the home router: uplinks, breakout
	RoleHub  Role = "hub"  // the VPS: one tunnel per edge uplink, NAT
)

// Impl selects the WireGuard implementation.
type Impl string

// WireGuard implementations.
const (
	ImplAuto      Impl = "auto"      // kernel when the module is there, else userspace
	ImplKernel    Impl = "kernel"    // refuse to run without the kernel module
	ImplUserspace Impl = "userspace" // embedded wireguard-go on a TUN device
)

// Kernel marks uplinkd owns. They are fixed so that a restarted daemon, or a
// second look with `ip rule`/`ip route`, can tell its own objects apart.
const (
	RouteProtocol = 211  // rtm_protocol of every route uplinkd installs
	RulePriority  = 6000 // first policy-rule priority of uplinkd's block
	RuleBlockSize = 100  // priorities RulePriority..RulePriority+99 are uplinkd's
	TableBase     = 6000 // uplink i (0-based) gets table TableBase+1+i unless set
	FwMarkBase    = 0x6000
	// Return paths of published services (edge): connections that came in
	// from hub i (0-based) carry conntrack mark ReturnMarkBase+1+i; their
	// replies get it as fwmark and look up table ReturnTableBase+1+i, the
	// default over that hub's live tunnels, at rule priority
	// ReturnPriorityBase+1+i (inside uplinkd's block, before breakout).
	ReturnMarkBase     = 0x6200
	ReturnMarkMask     = 0xffffff00
	ReturnTableBase    = 6200
	ReturnPriorityBase = 6090
	// Source routes (edge): traffic the edge itself sends from edge tunnel
	// k's (0-based) own address looks up the main table for anything but
	// a default (rule at SourceMainPriority, suppress_prefixlength 0: the
	// LAN, the tunnels' own subnets), then table SourceTableBase+1+k,
	// whose default goes out of that tunnel (rule at SourcePriority).
	// Without it, a connection whose source address the kernel took from
	// one tunnel of the ECMP default left by another (the next hop is
	// chosen again with the source known) while its replies, to that
	// address, came back by the first: each tunnel saw half a conversation.
	SourceTableBase    = 6300
	SourceMainPriority = RulePriority + 88
	SourcePriority     = RulePriority + 89
	// Nexthop object IDs: the ECMP controller's groups and members in
	// ecmp.NexthopIDs (6,000,000-6,065,535); a breakout table's two
	// nexthop objects in fib.ViaObjects (7,000,000 up, fib.ViaObjectIDs).
	// Both carry RouteProtocol.
	// LinkAlias is written into IFLA_IFALIAS of every interface uplinkd
	// creates, followed by the site name.
	LinkAlias = "uplinkd:"
)

// Config is one site's validated configuration. Every field is set: the
// loader fills defaults, resolves derived values and checks consistency.
type Config struct {
	File     string // path it was loaded from, for messages
	Role     Role
	Site     string
	ASN      uint32
	RouterID netip.Addr
	StateDir string
	LogLevel string
	// MemoryLimitMB is the Go runtime's soft memory limit in MiB; 0: none.
	MemoryLimitMB int

	WireGuard WireGuard
	API       API
	Uplinks   []Uplink // edge only
	// Hubs are the VPSs the edge tunnels to, EdgeTunnels one tunnel per
	// uplink and hub (edge only). A file in the one-hub form gives one
	// hub named DefaultHub.
	Hubs        []HubPeer
	EdgeTunnels []EdgeTunnel
	Tunnels     []Tunnel // hub only
	// Sites are the edge sites a hub serves (hub only); a file without
	// [[edge]] tables gives one, unnamed, from [bgp] peer_asn and accept.
	Sites []EdgeSite
	Hub   Hub // hub only
	// Publish lists the home services reachable at the hub's public
	// address; the edge lists the same ones so that its own firewall
	// lets them in and their replies go back the way they came.
	Publish  []Publish
	BGP      BGP
	Liveness Liveness
	SLA      SLA
	ECMP     ECMP
	Breakout Breakout // edge only
}

// WireGuard holds settings shared by all of a site's tunnels.
type WireGuard struct {
	PrivateKeyFile string
	PrivateKey     [32]byte // read from PrivateKeyFile by the loader
	MTU            int
	Impl           Impl
}

// API is the local control socket.
type API struct {
	Socket string // unix socket path
	Group  string // group allowed to read status; empty: root only
	// Metrics is where Prometheus metrics are served (host:port, loopback
	// by default); empty: not served.
	Metrics string
	// MetricsPublic is the operator's opt-in to serve metrics on an
	// address other than loopback, where anyone who reaches it reads them.
	MetricsPublic bool
}

// Uplink is one carrier on the edge; every tunnel over it is pinned to it.
type Uplink struct {
	Name      string        // carrier name: docomo, softbank, rakuten
	Interface string        // underlay interface towards the carrier
	Gateway   netip.Addr    // invalid: learned from the interface
	Weight    int           // ECMP weight, > 0
	Keepalive time.Duration // persistent keepalive of its tunnels
	// Liveness is its tunnels' liveness mode, LivenessFast or
	// LivenessFrugal ([liveness] mode unless set).
	Liveness string

	FwMark   uint32 // outer packets carry it; derived from position unless set
	Table    int    // per-uplink routing table; derived unless set
	Priority int    // policy-rule priority; derived from position

	Budget Budget // the carrier's data allowance; Bytes 0: none
}

// Budget is a carrier's data allowance per billing period, counted as the
// bytes its underlay interface sends and receives: the carrier bills them
// all, tunnel overhead and liveness included.
type Budget struct {
	Bytes int64 // per billing period; 0: no budget
	// BillingDay is the day of the month a period starts, 1 to 31; a
	// month without that day starts its period on its last day.
	BillingDay int
	// At SoftPercent of Bytes the uplink's ECMP weight drops to
	// SoftWeight; at HardPercent its tunnels carry traffic only while no
	// other uplink's tunnel is alive (a last resort).
	SoftPercent int
	HardPercent int
	SoftWeight  int
}

// Budget defaults: Peplink's allowance monitor acts at 75, 95 and 100 %;
// the hard limit stays below 100 % because the carrier's count and ours
// differ a little (link-layer framing, what a reboot loses).
const (
	DefaultBillingDay        = 1
	DefaultBudgetSoftPercent = 80
	DefaultBudgetHardPercent = 95
	DefaultBudgetSoftWeight  = 1
	// BudgetPrepend is how many times an edge prepends its own AS to what
	// it announces over a hard-limited carrier's tunnels: the hub (uplinkd,
	// BIRD or FRR, multipath over the shortest AS paths) then sends through
	// them only while no other tunnel reaches the edge.
	BudgetPrepend = 3
)

// DefaultHub names the one hub of a file in the one-hub form, whose
// tunnels are written in the [[uplink]] tables.
const DefaultHub = "hub"

// Hub preference and weight bounds: equal preferences share traffic,
// a lower one is a backup; a hub's weight multiplies its carriers'.
const (
	DefaultHubPreference = 100
	MaxHubPreference     = 1000
	MaxHubWeight         = 16
	MaxNexthopWeight     = 255
)

// HubPeer is one VPS an edge tunnels to.
type HubPeer struct {
	Name       string
	Host       string   // endpoint host; "" in the one-hub form (each tunnel has its own)
	PublicKey  [32]byte // the hub's key
	ASN        uint32
	Preference int // the highest preference with a live tunnel carries traffic
	Weight     int // multiplies each carrier's weight
}

// EdgeTunnel is one WireGuard tunnel of the edge: one uplink to one hub,
// pinned to the uplink's carrier.
type EdgeTunnel struct {
	// Name is the tunnel's key in liveness, BGP and status: the uplink's
	// name in the one-hub form, uplink@hub with [[hub]] tables.
	Name      string
	Uplink    string
	Hub       string
	Interface string         // WireGuard interface name
	Addresses []netip.Prefix // tunnel inner addresses (v4 /31, v6), local side
	Endpoint  string         // hub host:port
	PublicKey [32]byte       // the hub's key
	Keepalive time.Duration
	FwMark    uint32 // the uplink's
}

// Tunnel is one hub interface facing one edge uplink.
type Tunnel struct {
	Name       string // the edge uplink it serves (carrier name)
	Site       string // the edge site it belongs to; "" without [[edge]] tables
	Interface  string // WireGuard interface name
	ListenPort int
	Addresses  []netip.Prefix // local side
	PublicKey  [32]byte       // the edge's public key
	Liveness   string         // LivenessFast or LivenessFrugal ([liveness] mode unless set)
}

// Publish is one home service published at the hub: Protocol traffic to
// the hub's public address on Port..PortEnd goes to To (v4, by DNAT that
// keeps the client's address) and to To6 (v6, routed), from Allow only
// (all when empty), at most Rate new connections a second (0: no limit).
type Publish struct {
	Name          string
	Protocol      string         // "tcp" or "udp"
	Port, PortEnd int            // public ports on the hub; PortEnd == Port for one
	To            netip.AddrPort // port 0: the same ports as the public ones
	To6           netip.AddrPort // invalid: not published over IPv6
	Allow         []netip.Prefix
	Rate          int
}

// LANPorts is the range of ports the service listens on at home.
func (p Publish) LANPorts() (lo, hi int) {
	if p.To.Port() != 0 {
		return int(p.To.Port()), int(p.To.Port())
	}
	return p.Port, p.PortEnd
}

// Link is the tunnel's key in liveness, BGP and status: its name, or
// name@site on a hub with [[edge]] tables.
func (t Tunnel) Link() string {
	if t.Site == "" {
		return t.Name
	}
	return t.Name + "@" + t.Site
}

// EdgeSite is one edge site a hub serves: its AS and the LAN prefixes
// its sessions may announce.
type EdgeSite struct {
	Name   string // "" for the one site of a file without [[edge]] tables
	ASN    uint32
	Accept []netip.Prefix
}

// SiteOf returns the edge site a hub tunnel belongs to.
func (c *Config) SiteOf(t Tunnel) EdgeSite {
	for _, s := range c.Sites {
		if s.Name == t.Site {
			return s
		}
	}
	return EdgeSite{}
}

// HubOf returns the hub an edge tunnel goes to.
func (c *Config) HubOf(t EdgeTunnel) HubPeer {
	for _, h := range c.Hubs {
		if h.Name == t.Hub {
			return h
		}
	}
	return HubPeer{}
}

// UplinkOf returns the uplink an edge tunnel is pinned to.
func (c *Config) UplinkOf(t EdgeTunnel) Uplink {
	for _, u := range c.Uplinks {
		if u.Name == t.Uplink {
			return u
		}
	}
	return Uplink{}
}

// Hub holds hub-only settings.
type Hub struct {
	PublicInterface string
}

// PeerAddress returns the far side of a point-to-point tunnel prefix: the
// other address of a /31 or /127, or the next address for longer subnets.
func PeerAddress(p netip.Prefix) netip.Addr {
	a := p.Addr()
	bits := a.BitLen()
	if p.Bits() == bits-1 {
		b := a.As16()
		b[15] ^= 1
		if a.Is4() {
			return netip.AddrFrom16(b).Unmap()
		}
		return netip.AddrFrom16(b)
	}
	return a.Next()
}

// BGP is the eBGP session run over every tunnel (one per address family).
type BGP struct {
	PeerASN     uint32        // the other site's AS
	HoldTime    time.Duration // whole seconds, ≥ 3 s (GoBGP's floor)
	Keepalive   time.Duration
	Port        int            // TCP port, 179
	Originate   []netip.Prefix // announced on every session
	Accept      []netip.Prefix // the only prefixes taken from the peer
	MaxPrefixes int            // per session and family
	GRPC        string         // GoBGP's gRPC API for the gobgp CLI; "" off
	// MaxPrefixRestart is how long a session stopped by MaxPrefixes stays
	// down before it is started again; 0: until a reload or restart.
	MaxPrefixRestart time.Duration
	Password         Secret // TCP-MD5 key of every session; "" none
	// TTLSecurity is GTSM (RFC 5082): send TTL 255 and accept only 255.
	// Default on; off for a peer that cannot do it (BIRD without `ttl
	// security on`): the usual eBGP TTL 1.
	TTLSecurity bool
}

// Liveness decides how fast a dead tunnel leaves the ECMP set.
type Liveness struct {
	BFD bool // RFC 5880 on every tunnel; off: BGP alone
	// Mode is the default of every tunnel: LivenessFast, or
	// LivenessFrugal (BFD at IdleInterval while the tunnel's own traffic
	// shows it alive, probing at Interval when it does not; only with a
	// peer that does it too, which uplinkd at the other end does).
	Mode         string
	IdleInterval time.Duration
	Interval     time.Duration // BFD transmit and receive interval
	Multiplier   int           // BFD detect multiplier
	HoldDown     time.Duration // how long a tunnel stays up before it returns
}

// SLA is what each tunnel's measured quality must meet ([sla]); with no
// limit set nothing is probed.
type SLA struct {
	ProbeInterval time.Duration // an ICMP echo per tunnel this often
	Window        time.Duration // the figures are computed over this much
	Breach        time.Duration // a breach lasting this long takes the tunnel out (or lowers it)
	Recover       time.Duration // meeting every limit this long brings it back
	SLALimits                   // [sla]'s: every tunnel's unless its uplink sets its own
	// LoadDelay: a probe this much slower than the tunnel's quietest, while
	// it carries traffic, finds it full (goodput is judged then).
	LoadDelay time.Duration
	Action    string // "out" (kept only as a last resort) or "degrade"
	Weight    int    // a degraded tunnel's weight (action "degrade")
	// Uplinks holds the limits of the uplinks with an [uplink.sla] of
	// their own: [sla]'s with the keys it sets replaced.
	Uplinks map[string]SLALimits
}

// SLALimits are the limits a tunnel is judged by; a zero one is not judged.
type SLALimits struct {
	MaxRTT     time.Duration
	MaxJitter  time.Duration
	MaxLoss    float64 // percent
	MinGoodput float64 // bits a second, under load
}

// Judged says whether any limit is set.
func (l SLALimits) Judged() bool {
	return l.MaxRTT > 0 || l.MaxJitter > 0 || l.MaxLoss > 0 || l.MinGoodput > 0
}

// On says whether any tunnel is judged.
func (s SLA) On() bool {
	if s.SLALimits.Judged() {
		return true
	}
	for _, l := range s.Uplinks {
		if l.Judged() {
			return true
		}
	}
	return false
}

// For is the limits of the tunnels of uplink ("" or an unknown name:
// [sla]'s).
func (s SLA) For(uplink string) SLALimits {
	if l, ok := s.Uplinks[uplink]; ok {
		return l
	}
	return s.SLALimits
}

// Liveness modes of a tunnel.
const (
	LivenessFast   = "fast"
	LivenessFrugal = "frugal"
)

// WireGuardRejectAfter is WireGuard's Reject-After-Time (the protocol's
// paper, section 6): past it without a new handshake a peer's keys are dead
// and the tunnel carries nothing. The ECMP controller, the kicker and the
// metrics all judge a session by it.
const WireGuardRejectAfter = 180 * time.Second

// Frugal BGP timers: when BFD guards the sessions, BGP's own hold time
// detects nothing BFD has not, and FRR's defaults (keepalive 60 s, hold
// 180 s) are enough, where the 3 s default would cost a carrier about
// 0.9 GB in 30 days (two sessions a tunnel, both ways, with their ACKs)
// and 30 s about 0.1 GB (in the lab, 15 packets in 30 s with BFD's 72).
const (
	FrugalBGPKeepalive = 60 * time.Second
	FrugalBGPHoldTime  = 180 * time.Second
)

// ECMP is how the balanced routes go into the kernel.
type ECMP struct {
	Table      int    // routing table of the ECMP routes (254: main)
	Resilient  string // "auto", "on" or "off": resilient next-hop groups
	HashPolicy int    // net.ipv4.fib_multipath_hash_policy and IPv6's; 1 = layer 4
	OnExit     string // "flush" removes the routes on stop, "keep" leaves them
	// LastResort is where the default routes go while no tunnel of any
	// hub is alive: "" (off), LastResortBreakout, or an uplink's name.
	LastResort string
	// FailoverPriority is the SCHED_FIFO priority (1..99) of the thread
	// that writes a failover to the kernel; 0: the normal policy.
	FailoverPriority int
}

// LastResortBreakout sends the last-resort default through the breakout
// gateway (the home 5G router).
const LastResortBreakout = "breakout"

// Breakout routes chosen prefixes through a local gateway (the home 5G
// router) instead of the hub. Enabled when Gateway is set (edge only).
type Breakout struct {
	Gateway      netip.Addr
	Gateway6     netip.Addr // next hop of IPv6 prefixes; invalid: IPv6 refused
	Interface    string
	Table        int
	RulePriority int
	MinBits4     int // shortest IPv4 prefix accepted
	MinBits6     int
	MaxPrefixes  int
	MaxChurn     int // percent of a source's saved set (or of the whole) one update may remove
	MaxGrowth    int // percent of a source's saved set (or of the whole) one update may add
	Force        bool
	Probe        bool
	ProbeEvery   time.Duration
	DownAfter    int
	UpAfter      int
	FetchTimeout time.Duration
	MaxFeedBytes int64
	Sources      []BreakoutSource

	// MaxCoverage is the percent of the IPv4 address space (or of IPv6's
	// 2000::/3) one source may cover, unless the source sets its own;
	// MaxTotalCoverage, the whole set.
	MaxCoverage      int
	MaxTotalCoverage int
	MaxEntries       int           // entries one source's feed may list, counted while reading
	ReadBack         time.Duration // how often the rule and table are read back and repaired

	// Peers receive the installed set over BGP with the gateway as next
	// hop (the job exabgp did): e.g. the LAN's own router.
	Peers []BreakoutPeer
}

// BreakoutPeer is one BGP receiver of the breakout set.
type BreakoutPeer struct {
	Address netip.Addr
	ASN     uint32
	Port    int
}

// BreakoutSource is one feed of prefixes.
type BreakoutSource struct {
	Name                string
	Type                string // aws google cloudflare github m365 url asn file static dns
	URLs                []string
	Files               []string
	Services            []string
	Regions             []string
	NetworkBorderGroups []string
	Keys                []string
	Categories          []string
	ServiceAreas        []string
	ASNs                []uint32
	Prefixes            []netip.Prefix
	Refresh             time.Duration
	Header              RouteHeader
	Names               []string // dns: the names to resolve
	Resolver            string   // dns: ip:port; "": the system's resolver
	AllowHTTP           bool     // the URLs may be plain http://
	MaxCoverage         int      // percent; 0: Breakout.MaxCoverage
}

// RouteHeader fills the header fields of the seed-format route files.
type RouteHeader struct {
	ASN      uint32
	ASNName  string
	Category string
	Name     string
}

// Enabled says whether the site runs breakout.
func (b Breakout) Enabled() bool { return b.Gateway.IsValid() }

// ReturnPath is how the replies of published services go back to the hub
// they came in from: connections from the hub's tunnels are marked Mark,
// their replies look up Table (the default over that hub's live tunnels)
// by a rule at Priority.
type ReturnPath struct {
	Hub      string
	Mark     uint32
	Table    int
	Priority int
}

// ReturnPaths lists one per hub, in [[hub]] order, on an edge that
// publishes services; none otherwise.
func (c *Config) ReturnPaths() []ReturnPath {
	if c.Role != RoleEdge || len(c.Publish) == 0 {
		return nil
	}
	var out []ReturnPath
	for i, h := range c.Hubs {
		out = append(out, ReturnPath{Hub: h.Name, Mark: HubMark(i),
			Table: ReturnTableBase + 1 + i, Priority: ReturnPriorityBase + 1 + i})
	}
	return out
}

// HubMark is the connection mark of hub i (0-based, in [[hub]] order):
// what the edge's inbound firewall marks its connections with and what
// their replies carry as fwmark.
func HubMark(i int) uint32 { return uint32(ReturnMarkBase + 1 + i) }
