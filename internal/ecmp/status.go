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
}

// LinkStatus is one tunnel's liveness and place in the ECMP set.
type LinkStatus struct {
	Name      string          `json:"name"`
	Interface string          `json:"interface"`
	Weight    int             `json:"weight"`
	BFD       string          `json:"bfd"` // state, or "off"
	BFDDetect string          `json:"bfd_detect,omitempty"`
	HeldUntil time.Time       `json:"held_until,omitzero"`
	InECMP    bool            `json:"in_ecmp"`
	BGP       []bgp.PeerState `json:"bgp"`
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
	Via    string `json:"via"`
	Weight int    `json:"weight"`
}

// Failover is the last measured time from a detected failure to the FIB
// without that tunnel.
type Failover struct {
	Link     string    `json:"link"`
	Detected time.Time `json:"detected"`
	FIBDone  time.Time `json:"fib_done"`
	Took     string    `json:"took"`
}
