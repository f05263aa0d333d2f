package config

// The raw structs mirror the file one to one: only strings, integers,
// booleans, lists of strings and nested tables, so that decoding never
// fails and every check happens in the validator, at a known position.
// Adding a section ([bgp], [liveness], [breakout]) is one struct here, one
// field in rawFile and one function in the validators list (validate.go).

type rawFile struct {
	Role     string `toml:"role"`
	Site     string `toml:"site"`
	ASN      int64  `toml:"asn"`
	RouterID string `toml:"router_id"`
	StateDir string `toml:"state_dir"`
	LogLevel string `toml:"log_level"`
	MemoryMB int64  `toml:"memory_limit_mb"`

	WireGuard rawWireGuard `toml:"wireguard"`
	API       rawAPI       `toml:"api"`
	Hub       rawHub       `toml:"hub"` // [hub] on a hub
	Hubs      []rawEdgeHub `toml:"hub"` // [[hub]] on an edge: the VPSs it tunnels to
	Edges     []rawSite    `toml:"edge"`
	Publish   []rawPublish `toml:"publish"`
	Uplink    []rawUplink  `toml:"uplink"`
	Tunnel    []rawTunnel  `toml:"tunnel"`
	BGP       rawBGP       `toml:"bgp"`
	Liveness  rawLiveness  `toml:"liveness"`
	SLA       rawSLA       `toml:"sla"`
	ECMP      rawECMP      `toml:"ecmp"`
	Breakout  rawBreakout  `toml:"breakout"`
}

type rawWireGuard struct {
	PrivateKeyFile string `toml:"private_key_file"`
	MTU            int64  `toml:"mtu"`
	Implementation string `toml:"implementation"`
}

type rawAPI struct {
	Socket  string `toml:"socket"`
	Group   string `toml:"group"`
	Metrics string `toml:"metrics"`
	// MetricsPublic allows a metrics address other than loopback.
	MetricsPublic bool `toml:"metrics_public"`
}

type rawHub struct {
	PublicInterface string `toml:"public_interface"`
}

type rawUplink struct {
	Name                string   `toml:"name"`
	Interface           string   `toml:"interface"`
	Gateway             string   `toml:"gateway"`
	Weight              int64    `toml:"weight"`
	TunnelInterface     string   `toml:"tunnel_interface"`
	TunnelAddress       []string `toml:"tunnel_address"`
	Endpoint            string   `toml:"endpoint"`
	PublicKey           string   `toml:"public_key"`
	PersistentKeepalive int64    `toml:"persistent_keepalive"`
	Liveness            string   `toml:"liveness"` // "fast" or "frugal"; "": [liveness] mode
	FwMark              int64    `toml:"fwmark"`
	Table               int64    `toml:"table"`
	// Budget is a size with a unit ("30GB") or a whole number of bytes:
	// one key, two kinds, the one written is filled.
	Budget      string `toml:"budget"`
	BudgetBytes int64  `toml:"budget"`
	BillingDay  int64  `toml:"billing_day"`
	BudgetSoft  int64  `toml:"budget_soft_percent"`
	BudgetHard  int64  `toml:"budget_hard_percent"`
	SoftWeight  int64  `toml:"budget_soft_weight"`
	// SLA is [uplink.sla]: this carrier's own limits.
	SLA rawSLALimits `toml:"sla"`
}

// rawSLALimits is [uplink.sla]: limits replacing [sla]'s for one uplink.
type rawSLALimits struct {
	MaxRTTMS       int64 `toml:"max_rtt_ms"`
	MaxJitterMS    int64 `toml:"max_jitter_ms"`
	MaxLossPercent int64 `toml:"max_loss_percent"`
	MinGoodputKbps int64 `toml:"min_goodput_kbps"`
}

// rawEdgeHub is one [[hub]] of an edge: a VPS and its tunnels.
type rawEdgeHub struct {
	Name       string         `toml:"name"`
	Endpoint   string         `toml:"endpoint"`
	PublicKey  string         `toml:"public_key"`
	ASN        int64          `toml:"asn"`
	Preference int64          `toml:"preference"`
	Weight     int64          `toml:"weight"`
	Tunnel     []rawHubTunnel `toml:"tunnel"`
}

// rawHubTunnel is one [[hub.tunnel]]: an uplink's tunnel to that hub.
type rawHubTunnel struct {
	Uplink          string   `toml:"uplink"`
	Port            int64    `toml:"port"`
	TunnelAddress   []string `toml:"tunnel_address"`
	TunnelInterface string   `toml:"tunnel_interface"`
}

// rawSite is one [[edge]] of a hub: an edge site it serves. (Not [[site]]:
// site is the top-level key naming this site.)
type rawSite struct {
	Name   string   `toml:"name"`
	ASN    int64    `toml:"asn"`
	Accept []string `toml:"accept"`
}

// rawPublish is one [[publish]]: a home service reachable at the hub.
type rawPublish struct {
	Name     string   `toml:"name"`
	Protocol string   `toml:"protocol"`
	Port     int64    `toml:"port"`
	PortEnd  int64    `toml:"port_end"`
	To       string   `toml:"to"`
	To6      string   `toml:"to6"`
	Allow    []string `toml:"allow"`
	Rate     int64    `toml:"rate"`
}

type rawTunnel struct {
	Name            string   `toml:"name"`
	Edge            string   `toml:"edge"`
	TunnelInterface string   `toml:"tunnel_interface"`
	ListenPort      int64    `toml:"listen_port"`
	TunnelAddress   []string `toml:"tunnel_address"`
	PublicKey       string   `toml:"public_key"`
	Liveness        string   `toml:"liveness"` // "fast" or "frugal"; "": [liveness] mode
}

type rawBGP struct {
	PeerASN     int64    `toml:"peer_asn"`
	HoldTime    int64    `toml:"hold_time"`
	Keepalive   int64    `toml:"keepalive"`
	Port        int64    `toml:"port"`
	Originate   []string `toml:"originate"`
	Accept      []string `toml:"accept"`
	MaxPrefixes int64    `toml:"max_prefixes"`
	GRPC        string   `toml:"grpc"`
	// MaxPrefixRestart: seconds a session stopped by max_prefixes stays down.
	MaxPrefixRestart int64  `toml:"max_prefix_restart"`
	Password         string `toml:"password"`
	TTLSecurity      bool   `toml:"ttl_security"`
}

type rawLiveness struct {
	BFD            bool   `toml:"bfd"`
	Mode           string `toml:"mode"`
	IdleIntervalMS int64  `toml:"idle_interval_ms"`
	IntervalMS     int64  `toml:"interval_ms"`
	Multiplier     int64  `toml:"multiplier"`
	HoldDownMS     int64  `toml:"hold_down_ms"`
}

type rawSLA struct {
	ProbeIntervalMS int64  `toml:"probe_interval_ms"`
	WindowMS        int64  `toml:"window_ms"`
	BreachMS        int64  `toml:"breach_ms"`
	RecoverMS       int64  `toml:"recover_ms"`
	MaxRTTMS        int64  `toml:"max_rtt_ms"`
	MaxJitterMS     int64  `toml:"max_jitter_ms"`
	MaxLossPercent  int64  `toml:"max_loss_percent"`
	MinGoodputKbps  int64  `toml:"min_goodput_kbps"`
	LoadDelayMS     int64  `toml:"load_delay_ms"`
	Action          string `toml:"action"`
	DegradedWeight  int64  `toml:"degraded_weight"`
}

type rawECMP struct {
	Table      int64  `toml:"table"`
	Resilient  string `toml:"resilient"`
	HashPolicy int64  `toml:"hash_policy"`
	OnExit     string `toml:"on_exit"`
	LastResort string `toml:"last_resort"`
	// FailoverPriority is the SCHED_FIFO priority of the failover thread.
	FailoverPriority int64 `toml:"failover_priority"`
}

type rawBreakout struct {
	Gateway         string              `toml:"gateway"`
	Gateway6        string              `toml:"gateway6"`
	Interface       string              `toml:"interface"`
	Table           int64               `toml:"table"`
	RulePriority    int64               `toml:"rule_priority"`
	MinLength4      int64               `toml:"min_length_v4"`
	MinLength6      int64               `toml:"min_length_v6"`
	MaxPrefixes     int64               `toml:"max_prefixes"`
	MaxChurnPercent int64               `toml:"max_churn_percent"`
	Force           bool                `toml:"force"`
	Probe           bool                `toml:"probe"`
	ProbeMS         int64               `toml:"probe_interval_ms"`
	DownAfter       int64               `toml:"probe_down_after"`
	UpAfter         int64               `toml:"probe_up_after"`
	FetchTimeout    int64               `toml:"fetch_timeout"`
	MaxFeedMB       int64               `toml:"max_feed_mb"`
	MaxEntries      int64               `toml:"max_entries"`
	MaxGrowth       int64               `toml:"max_growth_percent"`
	MaxCoverage     int64               `toml:"max_coverage_percent"`
	MaxTotalCover   int64               `toml:"max_total_coverage_percent"`
	ReadBack        int64               `toml:"read_back_interval"`
	Source          []rawBreakoutSource `toml:"source"`
	Peer            []rawBreakoutPeer   `toml:"peer"`
}

type rawBreakoutPeer struct {
	Address string `toml:"address"`
	ASN     int64  `toml:"asn"`
	Port    int64  `toml:"port"`
}

type rawBreakoutSource struct {
	Name                string         `toml:"name"`
	Type                string         `toml:"type"`
	URL                 string         `toml:"url"`
	URLs                []string       `toml:"urls"`
	Files               []string       `toml:"files"`
	Services            []string       `toml:"services"`
	Regions             []string       `toml:"regions"`
	NetworkBorderGroups []string       `toml:"network_border_groups"`
	Keys                []string       `toml:"keys"`
	Categories          []string       `toml:"categories"`
	ServiceAreas        []string       `toml:"service_areas"`
	ASNs                []int64        `toml:"asns"`
	Prefixes            []string       `toml:"prefixes"`
	Refresh             int64          `toml:"refresh"`
	Header              rawRouteHeader `toml:"header"`
	Names               []string       `toml:"names"`
	Resolver            string         `toml:"resolver"`
	AllowHTTP           bool           `toml:"allow_http"`
	MaxCoverage         int64          `toml:"max_coverage_percent"`
}

type rawRouteHeader struct {
	ASN      int64  `toml:"asn"`
	ASNName  string `toml:"asn_name"`
	Category string `toml:"category"`
	Name     string `toml:"name"`
}
