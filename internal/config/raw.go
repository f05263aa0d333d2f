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

	WireGuard rawWireGuard `toml:"wireguard"`
	API       rawAPI       `toml:"api"`
	Hub       rawHub       `toml:"hub"`
	Uplink    []rawUplink  `toml:"uplink"`
	Tunnel    []rawTunnel  `toml:"tunnel"`
	BGP       rawBGP       `toml:"bgp"`
	Liveness  rawLiveness  `toml:"liveness"`
	ECMP      rawECMP      `toml:"ecmp"`
}

type rawWireGuard struct {
	PrivateKeyFile string `toml:"private_key_file"`
	MTU            int64  `toml:"mtu"`
	Implementation string `toml:"implementation"`
}

type rawAPI struct {
	Socket string `toml:"socket"`
	Group  string `toml:"group"`
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
	FwMark              int64    `toml:"fwmark"`
	Table               int64    `toml:"table"`
}

type rawTunnel struct {
	Name            string   `toml:"name"`
	TunnelInterface string   `toml:"tunnel_interface"`
	ListenPort      int64    `toml:"listen_port"`
	TunnelAddress   []string `toml:"tunnel_address"`
	PublicKey       string   `toml:"public_key"`
}

type rawBGP struct {
	PeerASN     int64    `toml:"peer_asn"`
	HoldTime    int64    `toml:"hold_time"`
	Keepalive   int64    `toml:"keepalive"`
	Port        int64    `toml:"port"`
	Originate   []string `toml:"originate"`
	Accept      []string `toml:"accept"`
	MaxPrefixes int64    `toml:"max_prefixes"`
}

type rawLiveness struct {
	BFD        bool  `toml:"bfd"`
	IntervalMS int64 `toml:"interval_ms"`
	Multiplier int64 `toml:"multiplier"`
	HoldDownMS int64 `toml:"hold_down_ms"`
}

type rawECMP struct {
	Table      int64  `toml:"table"`
	Resilient  string `toml:"resilient"`
	HashPolicy int64  `toml:"hash_policy"`
	OnExit     string `toml:"on_exit"`
}
