package ecmp

import (
	"time"

	"github.com/uplinkd/uplinkd/internal/ecmp/bgp"
)

// Status is what an operator sees of balancing.
type Status struct {
	Mode     string        `json:"mode"` // resilient or multipath
	Table    uint32        `json:"table"`
	Links    []LinkStatus  `json:"links"`
	Routes   []RouteStatus `json:"routes"`
	Failover *Failover     `json:"last_failover,omitempty"`
	Changes  int           `json:"fib_changes"`
	Error    string        `json:"error,omitempty"`
	// Hubs (edge) and Sites (a hub with several edge sites): their
	// tunnels, and whether they carry traffic.
	Hubs       []GroupStatus     `json:"hubs,omitempty"`
	Sites      []GroupStatus     `json:"sites,omitempty"`
	LastResort *LastResortStatus `json:"last_resort,omitempty"`
	// WriteErrors counts kernel writes that failed (retried by the next
	// reconcile); BFDRebinds BFD sessions re-created for a tunnel
	// interface that was re-created.
	WriteErrors int `json:"fib_write_errors"`
	BFDRebinds  int `json:"bfd_rebinds"`
}

// GroupStatus is one hub (on an edge) or one edge site (on a hub) and its
// tunnels.
type GroupStatus struct {
	Name       string   `json:"name"`
	Preference int      `json:"preference,omitempty"` // hubs only
	Tunnels    []string `json:"tunnels"`
	Alive      int      `json:"tunnels_alive"` // BFD up (or BGP established without BFD)
	InECMP     int      `json:"tunnels_in_ecmp"`
	Carrying   bool     `json:"carries_traffic"`
	// Refused counts prefixes its sessions announced that the import
	// filter refused (received minus accepted).
	Refused uint32 `json:"prefixes_refused"`
}

// LinkStatus is one tunnel's liveness and place in the ECMP set.
type LinkStatus struct {
	Name      string        `json:"name"`
	Interface string        `json:"interface"`
	Hub       string        `json:"hub,omitempty"`
	Site      string        `json:"site,omitempty"`
	Weight    int           `json:"weight"`
	BFD       string        `json:"bfd"` // state, or "off"
	BFDDetect time.Duration `json:"-"`   // negotiated; JSON: bfd_detect_ms
	// BFDMode is the liveness mode: "fast", "frugal idle", "frugal busy",
	// "frugal offered" (not Up), "fast (peer not frugal)".
	BFDMode string `json:"bfd_mode,omitempty"`
	// BFDProbes counts the frugal mode's probes on this tunnel (a Poll
	// at the fast rate for traffic that went unanswered, or for a peer
	// gone quiet), BFDProbeDowns those nothing answered: what the
	// frugal mode spent beyond its idle rate, and what it found.
	BFDProbes     uint64          `json:"bfd_probes,omitempty"`
	BFDProbeDowns uint64          `json:"bfd_probe_downs,omitempty"`
	BFDNote       string          `json:"bfd_note,omitempty"` // why a tunnel whose BFD is down stays in
	HeldUntil     time.Time       `json:"held_until,omitzero"`
	InECMP        bool            `json:"in_ecmp"`
	BGP           []bgp.PeerState `json:"bgp"`
	// BudgetLimit is "soft" or "hard" while its carrier's data budget
	// limits it, and BudgetWeight its weight then.
	BudgetLimit  string `json:"budget_limit,omitempty"`
	BudgetWeight int    `json:"budget_weight,omitempty"`
	// SLANote says why the tunnel breaks its SLA and what that does to it.
	SLANote string `json:"sla_note,omitempty"`
}

// RouteStatus is one ECMP route as installed.
type RouteStatus struct {
	Prefix   string    `json:"prefix"`
	Group    uint32    `json:"group,omitempty"`
	NextHops []NextHop `json:"nexthops"`
}

// NextHop is one member of an ECMP route.
type NextHop struct {
	Link   string `json:"link"`
	Via    string `json:"via"` // BGP's next hop; "" for one adopted from the kernel without it
	Weight int    `json:"weight"`
}

// Failover is the last measured time from a detected failure to the FIB
// without that tunnel.
type Failover struct {
	Link     string        `json:"link"`
	Detected time.Time     `json:"detected"`
	FIBDone  time.Time     `json:"fib_done"`
	Took     time.Duration `json:"-"` // FIBDone - Detected; JSON: took_ms
}
