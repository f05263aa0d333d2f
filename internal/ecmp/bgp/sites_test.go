package bgp

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// TestTwoEdgeSitesEachOnlyItsOwn: a hub serving two edge sites (two ASes)
// takes from each only that site's LAN, even when the site also announces
// the other's: the refusal is GoBGP's import filter (Accepted stays 1 of
// Received 2), and the routes say so.
func TestTwoEdgeSitesEachOnlyItsOwn(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	lan1, lan2 := netip.MustParsePrefix("198.18.10.0/24"), netip.MustParsePrefix("198.18.20.0/24")
	const edge2ASN = 65002
	hub := Config{
		ASN: hubASN, RouterID: addr("10.255.0.1"), Passive: true, ListenPort: port,
		ListenAddrs: []netip.Addr{addr("127.0.0.2"), addr("127.0.0.3")},
		HoldTime:    3 * time.Second, Keepalive: time.Second,
		Originate: []netip.Prefix{v4Default},
		Accept:    []netip.Prefix{lan1, lan2}, // the union, as a hub's config gives it
		Peers: []Peer{
			{Name: "docomo@home", Address: addr("127.0.0.11"), Local: addr("127.0.0.2"), ASN: edgeASN, Accept: []netip.Prefix{lan1}},
			{Name: "docomo@office", Address: addr("127.0.0.12"), Local: addr("127.0.0.3"), ASN: edge2ASN, Accept: []netip.Prefix{lan2}},
		},
	}
	edge := func(asn uint32, id string, local, far netip.Addr) Config {
		return Config{ASN: asn, RouterID: addr(id), ListenPort: -1, HoldTime: 3 * time.Second, Keepalive: time.Second,
			Originate: []netip.Prefix{lan1, lan2}, // each also claims the other's LAN
			Accept:    []netip.Prefix{v4Default},
			Peers:     []Peer{{Name: "hub", Address: far, Local: local, ASN: hubASN, Port: port}}}
	}
	h := start(t, hub)
	start(t, edge(edgeASN, "10.255.0.2", addr("127.0.0.11"), addr("127.0.0.2")))
	start(t, edge(edge2ASN, "10.255.0.3", addr("127.0.0.12"), addr("127.0.0.3")))
	eventually(t, converge, routesAre(h, map[netip.Prefix][]Path{
		lan1: {{Peer: "docomo@home", NextHop: addr("127.0.0.11")}},
		lan2: {{Peer: "docomo@office", NextHop: addr("127.0.0.12")}},
	}))
	eventually(t, converge, func() string {
		for _, p := range h.Peers(context.Background()) {
			if p.Received != 2 || p.Accepted != 1 {
				return fmt.Sprintf("peer %s: received %d accepted %d, want 2 and 1", p.Name, p.Received, p.Accepted)
			}
		}
		return ""
	})

	// A reload that moves lan2 to the home site moves the route with it.
	hub.Peers[0].Accept = []netip.Prefix{lan1, lan2}
	hub.Peers[1].Accept = []netip.Prefix{}
	if err := h.Apply(context.Background(), hub); err != nil {
		t.Fatal(err)
	}
	eventually(t, converge, routesAre(h, map[netip.Prefix][]Path{
		lan1: {{Peer: "docomo@home", NextHop: addr("127.0.0.11")}},
		lan2: {{Peer: "docomo@home", NextHop: addr("127.0.0.11")}},
	}))
}
