package api

import (
	"time"

	"github.com/uplinkd/uplinkd/internal/breakout/engine"
	"github.com/uplinkd/uplinkd/internal/budget"
	"github.com/uplinkd/uplinkd/internal/ecmp"
	"github.com/uplinkd/uplinkd/internal/ecmp/bgp"
	"github.com/uplinkd/uplinkd/internal/nat"
	"github.com/uplinkd/uplinkd/internal/sla"
	"github.com/uplinkd/uplinkd/internal/wg"
)

// Version is the API version in every path.
const Version = "v1"

// SchemaVersion is the version of the status JSON (docs/status-api.md):
// raised when a field is renamed, removed or changes its meaning or unit,
// not when one is added. 2: snake_case everywhere and durations with
// their unit in the key (1 had Go field names in the BGP and breakout
// parts and raw nanoseconds).
const SchemaVersion = 2

// Status is the answer to GET /v1/status.
type Status struct {
	// SchemaVersion is set by the server (SchemaVersion); a client decoding
	// an older daemon's status sees 0 there.
	SchemaVersion int                  `json:"schema_version"`
	Role          string               `json:"role"`
	Site          string               `json:"site"`
	Started       time.Time            `json:"started"`
	Config        string               `json:"config"`
	Tunnels       []wg.TunnelStatus    `json:"tunnels"`
	ECMP          *ecmp.Status         `json:"ecmp,omitempty"`
	Breakout      *engine.Status       `json:"breakout,omitempty"`
	Announce      *bgp.AnnouncerStatus `json:"breakout_announce,omitempty"`
	NAT           *nat.Status          `json:"nat,omitempty"`
	LastErr       string               `json:"last_error,omitempty"`
	Reloaded      time.Time            `json:"reloaded,omitzero"`
	Memory        *Memory              `json:"memory,omitempty"`
	Inbound       *Inbound             `json:"inbound,omitempty"`
	// Budgets are the carriers' data budgets (edge uplinks with one).
	Budgets []budget.Status `json:"budgets,omitempty"`
	// SLA is each tunnel's measured quality and verdict ([sla] set).
	SLA []sla.LinkStatus `json:"sla,omitempty"`
}

// Inbound is what reaches the home from outside: the published services
// and the firewall table that guards the rest.
type Inbound struct {
	Table     string      `json:"table"`
	Published []Published `json:"published,omitempty"`
	// Repairs counts read-backs that found the table changed outside
	// uplinkd (a firewall reload) and rebuilt it.
	Repairs int `json:"repairs"`
	// DroppedPackets counts packets the table dropped as uninvited: from
	// the public side towards the LANs (hub), new ones from the tunnels
	// (edge).
	DroppedPackets uint64 `json:"dropped_packets"`
	Error          string `json:"error,omitempty"`
}

// Published is one [[publish]] service.
type Published struct {
	Name     string   `json:"name"`
	Protocol string   `json:"protocol"`
	Ports    string   `json:"ports"`         // public ports on the hub
	To       string   `json:"to"`            // home address:port (v4)
	To6      string   `json:"to6,omitempty"` // home address:port (v6)
	Allow    []string `json:"allow,omitempty"`
	Rate     int      `json:"rate_per_second,omitempty"`
	// Connections counts new connections let in since the table was last
	// built (its DNAT or IPv6 accept rule sees only a connection's first
	// packet).
	Connections uint64 `json:"connections_total"`
}

// Memory is the daemon's footprint: what the kernel charges it (RSS), the
// Go heap and the soft limit the runtime collects against (memory_limit_mb).
type Memory struct {
	RSSBytes      int64 `json:"rss_bytes"`
	HeapBytes     int64 `json:"heap_bytes"`
	HeapGoalBytes int64 `json:"heap_goal_bytes"`
	LimitBytes    int64 `json:"limit_bytes,omitempty"` // 0: no limit
	// Trims counts the times the heap was collected and its free part
	// handed back to the kernel (checked every 10 s, done when 4 MiB or
	// more are garbage or free); TrimmedBytes sums what each found.
	Trims        int64 `json:"trims_total"`
	TrimmedBytes int64 `json:"trimmed_bytes_total"`
}

// Explanation is the answer to GET /v1/explain?ip=A: the route the kernel
// uses for A and why uplinkd put it there.
type Explanation struct {
	Addr   string   `json:"addr"`
	Kind   string   `json:"kind"` // breakout, ecmp, other, none
	Route  string   `json:"route,omitempty"`
	Kernel string   `json:"kernel,omitempty"` // the kernel's answer, as ip route get prints it
	Lines  []string `json:"why"`
}
