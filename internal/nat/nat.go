package nat

import (
	"fmt"
	"net/netip"
	"slices"
)

// TableName is uplinkd's own nftables table (family inet).
const TableName = "uplinkd"

// forwardingKeys are the sysctls both roles need on: both route.
var forwardingKeys = []string{"net/ipv4/ip_forward", "net/ipv6/conf/all/forwarding"}

// Desired is a site's source NAT: each rule masquerades its sources when
// they leave by its interface (the hub's public interface; the edge's
// breakout link, since the 5G router knows no route back to the LAN).
// Empty: uplinkd's table is not wanted.
type Desired []Masquerade

// Masquerade rewrites Sources to Out's address on the way out of Out.
type Masquerade struct {
	Out     string
	Sources []netip.Prefix
}

// Rules renders the desired state as one tag per rule, sorted; a rule's
// tag is kept in its userdata so the table can be compared with what is
// wanted.
func (d Desired) Rules() []string {
	var tags []string
	for _, m := range d {
		for _, p := range m.Sources {
			tags = append(tags, Tag(m.Out, p))
		}
	}
	slices.Sort(tags)
	return slices.Compact(tags)
}

// Tag names one masquerade rule.
func Tag(out string, p netip.Prefix) string {
	return fmt.Sprintf("masquerade %s from %s", out, p.Masked())
}
