package ecmp

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/apiutil"
	bgppkt "github.com/osrg/gobgp/v3/pkg/packet/bgp"

	"github.com/uplinkd/uplinkd/internal/ecmp/bgp"
	"github.com/uplinkd/uplinkd/internal/fib"
)

// The sessions and import filter of the fuzzed speaker: the lab edge's
// three tunnels, an IPv4 and an IPv6 session each; its accept list plus a
// LAN prefix as a hub would accept.
var (
	fuzzPeers = []bgp.Peer{
		{Name: "docomo", Address: netip.MustParseAddr("198.18.100.1")},
		{Name: "docomo-v6", Address: netip.MustParseAddr("2001:db8:100:1::1")},
		{Name: "softbank", Address: netip.MustParseAddr("198.18.100.3")},
		{Name: "softbank-v6", Address: netip.MustParseAddr("2001:db8:100:2::1")},
		{Name: "rakuten", Address: netip.MustParseAddr("198.18.100.5")},
		{Name: "rakuten-v6", Address: netip.MustParseAddr("2001:db8:100:3::1")},
	}
	fuzzAccept = []netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0"), netip.MustParsePrefix("198.51.100.0/24"),
	}
	fuzzMembers = map[string]Member{
		"docomo": {Uplink: "docomo", LinkIndex: 11, Weight: 3}, "docomo-v6": {Uplink: "docomo", LinkIndex: 11, Weight: 3},
		"softbank": {Uplink: "softbank", LinkIndex: 12, Weight: 2}, "softbank-v6": {Uplink: "softbank", LinkIndex: 12, Weight: 2},
		// rakuten's tunnel interface is gone: its paths must not reach the FIB.
		"rakuten": {Uplink: "rakuten", LinkIndex: 0, Weight: 1}, "rakuten-v6": {Uplink: "rakuten", LinkIndex: 0, Weight: 1},
	}
)

// FuzzLearnedRoutes feeds GoBGP global-RIB destinations built from the
// input (arbitrary prefixes, neighbors, withdrawals, next hops in NEXT_HOP
// or MP_REACH_NLRI, attributes with arbitrary contents; see decodeRIB)
// through bgp.Learned and NextHops, which turn them into the ECMP routes
// the FIB gets. up says which sessions are established (bit i: fuzzPeers[i])
// and dead which uplinks BFD holds down (bit 0 docomo, 1 softbank).
//
// Invariants: nothing panics; only accepted prefixes come out; every path
// comes from an established configured peer that sent it, unwithdrawn, and
// every path built with a readable next hop does come out; the answer does
// not depend on the order of destinations and paths; the FIB's next hops
// are each a live member's, one per link, of the prefix's family.
func FuzzLearnedRoutes(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, up, dead uint8) {
		dests, built := decodeRIB(data)
		established := map[netip.Addr]bool{}
		for i, p := range fuzzPeers {
			if up&(1<<i) != 0 {
				established[p.Address] = true
			}
		}
		routes, err := bgp.Learned(fuzzPeers, established, fuzzAccept, dests)
		checkSound(t, routes, built, established)
		checkComplete(t, routes, built, established)
		again, err2 := bgp.Learned(fuzzPeers, established, fuzzAccept, reversed(dests))
		if diff := cmp.Diff(routes, again, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" || (err == nil) != (err2 == nil) {
			t.Fatalf("another order of the same destinations gives another answer (error %v, then %v) (-first +reordered):\n%s", err, err2, diff)
		}
		alive := func(uplink string) bool {
			return !(uplink == "docomo" && dead&1 != 0 || uplink == "softbank" && dead&2 != 0)
		}
		checkNextHops(t, routes, NextHops(routes, fuzzMembers, alive), alive)
	})
}

// builtPath is what decodeRIB put into one path, for the checks.
type builtPath struct {
	prefix   string
	neighbor string
	withdraw bool
	nextHop  netip.Addr // the next hop the path carries, if readable
	readable bool       // its attributes hold a next hop that must be read
}

// peer finds the configured peer whose address is the path's neighbor.
func (b builtPath) peer() (bgp.Peer, bool) {
	a, err := netip.ParseAddr(b.neighbor)
	if err != nil {
		return bgp.Peer{}, false
	}
	for _, p := range fuzzPeers {
		if p.Address == a.Unmap() {
			return p, true
		}
	}
	return bgp.Peer{}, false
}

// checkSound: every prefix accepted and every path backed by an input
// path from that peer, not withdrawn, with that next hop if it was
// readable; sorted, without duplicates.
func checkSound(t *testing.T, routes map[netip.Prefix][]bgp.Path, built []builtPath, up map[netip.Addr]bool) {
	t.Helper()
	for prefix, paths := range routes {
		if !slices.Contains(fuzzAccept, prefix) {
			t.Fatalf("prefix %v came out, but the import filter accepts only %v", prefix, fuzzAccept)
		}
		if len(paths) == 0 || !slices.IsSortedFunc(paths, comparePath) || len(slices.CompactFunc(slices.Clone(paths), samePath)) != len(paths) {
			t.Fatalf("%v: paths %v not sorted by peer and next hop, or repeated, or none", prefix, paths)
		}
		for _, p := range paths {
			if !p.NextHop.IsValid() || p.NextHop.Is4In6() {
				t.Fatalf("%v: path from %s has next hop %v", prefix, p.Peer, p.NextHop)
			}
			if !backed(prefix, p, built, up) {
				t.Fatalf("%v: path %+v is no unwithdrawn path an established configured peer sent", prefix, p)
			}
		}
	}
}

func backed(prefix netip.Prefix, p bgp.Path, built []builtPath, up map[netip.Addr]bool) bool {
	for _, b := range built {
		peer, ok := b.peer()
		if ok && peer.Name == p.Peer && up[peer.Address] && !b.withdraw && b.prefix == prefix.String() &&
			(!b.readable || b.nextHop == p.NextHop) {
			return true
		}
	}
	return false
}

// checkComplete: every input path that should count does.
func checkComplete(t *testing.T, routes map[netip.Prefix][]bgp.Path, built []builtPath, up map[netip.Addr]bool) {
	t.Helper()
	for _, b := range built {
		peer, ok := b.peer()
		prefix, err := netip.ParsePrefix(b.prefix)
		if !ok || err != nil || b.withdraw || !b.readable || !up[peer.Address] || !slices.Contains(fuzzAccept, prefix) {
			continue
		}
		want := bgp.Path{Peer: peer.Name, NextHop: b.nextHop}
		if !slices.Contains(routes[prefix], want) {
			t.Fatalf("%v: the path %+v from %s is lost; got %v", prefix, want, b.neighbor, routes[prefix])
		}
	}
}

// checkNextHops: the FIB's next hops for a prefix are those of its paths
// whose member is alive and has a link, of the prefix's family, one per
// link, sorted, with the member's weight; a prefix with such a path is
// routed, one without is not.
func checkNextHops(t *testing.T, routes map[netip.Prefix][]bgp.Path, fibRoutes map[netip.Prefix][]fib.WeightedNexthop, alive func(string) bool) {
	t.Helper()
	for prefix, paths := range routes {
		usable := false
		for _, p := range paths {
			m, ok := fuzzMembers[p.Peer]
			usable = usable || ok && m.LinkIndex != 0 && alive(m.Uplink) && p.NextHop.Is6() == prefix.Addr().Is6()
		}
		if _, routed := fibRoutes[prefix]; routed != usable {
			t.Fatalf("%v: routed %v, but a usable path exists: %v (paths %v)", prefix, routed, usable, paths)
		}
	}
	for prefix, nhs := range fibRoutes {
		if _, ok := routes[prefix]; !ok {
			t.Fatalf("FIB route %v from no learned prefix", prefix)
		}
		for i, nh := range nhs {
			if i > 0 && nhs[i-1].LinkIndex >= nh.LinkIndex {
				t.Fatalf("%v: next hops %v not one per link in link order", prefix, nhs)
			}
			if !fromMember(prefix, nh, routes[prefix], alive) {
				t.Fatalf("%v: next hop %+v is no live member's path", prefix, nh)
			}
		}
	}
}

func fromMember(prefix netip.Prefix, nh fib.WeightedNexthop, paths []bgp.Path, alive func(string) bool) bool {
	for _, p := range paths {
		m := fuzzMembers[p.Peer]
		if m.LinkIndex == nh.LinkIndex && m.Weight == nh.Weight && alive(m.Uplink) &&
			p.NextHop == nh.Gateway && nh.Gateway.Is6() == prefix.Addr().Is6() {
			return true
		}
	}
	return false
}

func comparePath(a, b bgp.Path) int {
	if a.Peer != b.Peer {
		if a.Peer < b.Peer {
			return -1
		}
		return 1
	}
	return a.NextHop.Compare(b.NextHop)
}

func samePath(a, b bgp.Path) bool { return a == b }

// reversed is dests with their order and each one's paths reversed.
func reversed(dests []*api.Destination) []*api.Destination {
	out := make([]*api.Destination, len(dests))
	for i, d := range dests {
		paths := slices.Clone(d.Paths)
		slices.Reverse(paths)
		out[len(dests)-1-i] = &api.Destination{Prefix: d.Prefix, Paths: paths}
	}
	return out
}

// ribReader hands out the input's bytes, then zeros.
type ribReader struct{ b []byte }

func (r *ribReader) next() byte {
	if len(r.b) == 0 {
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *ribReader) take(n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = r.next()
	}
	return out
}

// Input format, one destination after another (at most 16):
//
//	kind byte: bits 0-1 prefix form (0 an accepted prefix, chosen by the
//	  next byte; 1 IPv4: length byte, 4 address bytes; 2 IPv6: length
//	  byte, 16 address bytes; 3 raw string: length byte, bytes), bits 2-3
//	  the number of paths
//	per path, a byte: bits 0-1 the neighbor (0 a configured peer, chosen
//	  by the next byte; 1 the same in IPv4-mapped form; 2 none: originated
//	  here; 3 raw string: length byte, bytes), bit 2 withdrawn, bits 3-5
//	  the next hop's form (0 NEXT_HOP: 4 bytes; 1 MP_REACH_NLRI: 16 bytes;
//	  2 both; 3 none; 4 an attribute of a type chosen by a byte with
//	  arbitrary contents: length byte, bytes)
func decodeRIB(data []byte) ([]*api.Destination, []builtPath) {
	r := &ribReader{b: data}
	var dests []*api.Destination
	var built []builtPath
	for len(r.b) > 0 && len(dests) < 16 {
		kind := r.next()
		prefix := decodePrefix(r, kind&3)
		d := &api.Destination{Prefix: prefix.String()}
		if kind&3 == 3 {
			d.Prefix = string(r.take(int(r.next() % 48)))
		}
		for range int(kind>>2) & 3 {
			p, b, ok := decodePath(r, prefix)
			if !ok {
				continue
			}
			b.prefix = d.Prefix
			d.Paths = append(d.Paths, p)
			built = append(built, b)
		}
		dests = append(dests, d)
	}
	return dests, built
}

// decodePrefix reads a prefix of the given form; the raw form (3) gives an
// invalid one, whose string the caller replaces.
func decodePrefix(r *ribReader, form byte) netip.Prefix {
	switch form {
	case 0:
		return fuzzAccept[int(r.next())%len(fuzzAccept)]
	case 1:
		bits := int(r.next())
		return netip.PrefixFrom(netip.AddrFrom4([4]byte(r.take(4))), bits)
	case 2:
		bits := int(r.next())
		return netip.PrefixFrom(netip.AddrFrom16([16]byte(r.take(16))), bits)
	}
	return netip.Prefix{}
}

// decodePath reads one path; ok is false for a path GoBGP's marshalling
// refuses (none so far), which is left out.
func decodePath(r *ribReader, prefix netip.Prefix) (p *api.Path, b builtPath, ok bool) {
	pk := r.next()
	switch pk & 3 {
	case 0:
		b.neighbor = fuzzPeers[int(r.next())%len(fuzzPeers)].Address.String()
	case 1:
		a := fuzzPeers[int(r.next())%len(fuzzPeers)].Address.As16()
		b.neighbor = netip.AddrFrom16(a).String()
	case 2:
	case 3:
		b.neighbor = string(r.take(int(r.next() % 48)))
	}
	b.withdraw = pk&4 != 0
	form := (pk >> 3) % 5
	attrs := decodeAttrs(r, form, prefix, &b)
	p, err := apiutil.NewPath(nlriOf(prefix), b.withdraw, attrs, time.Unix(0, 0))
	if err != nil {
		return nil, b, false
	}
	if form == 4 {
		// An attribute of arbitrary contents: a marshalled one of the
		// chosen type with its Value replaced.
		tmpl, err := apiutil.MarshalPathAttributes(attrTemplates)
		if err != nil {
			return nil, b, false
		}
		raw := tmpl[int(r.next())%len(tmpl)]
		raw.Value = r.take(int(r.next() % 64))
		p.Pattrs = append(p.Pattrs, raw)
		b.readable = false
	}
	p.NeighborIp = b.neighbor
	return p, b, true
}

// attrTemplates are the attribute types an arbitrary attribute takes.
var attrTemplates = []bgppkt.PathAttributeInterface{
	bgppkt.NewPathAttributeOrigin(0),
	bgppkt.NewPathAttributeNextHop("198.18.100.1"),
	bgppkt.NewPathAttributeMpReachNLRI("2001:db8:100:1::1", []bgppkt.AddrPrefixInterface{bgppkt.NewIPv6AddrPrefix(0, "::")}),
	bgppkt.NewPathAttributeAsPath([]bgppkt.AsPathParamInterface{bgppkt.NewAs4PathParam(bgppkt.BGP_ASPATH_ATTR_TYPE_SEQ, []uint32{64513})}),
	bgppkt.NewPathAttributeMultiExitDisc(0),
	bgppkt.NewPathAttributeCommunities([]uint32{0xfde80001}),
}

// decodeAttrs builds a path's attributes: an ORIGIN always, then the next
// hop in the given form (0-3; form 4 adds none here).
func decodeAttrs(r *ribReader, form byte, prefix netip.Prefix, b *builtPath) []bgppkt.PathAttributeInterface {
	attrs := []bgppkt.PathAttributeInterface{bgppkt.NewPathAttributeOrigin(bgppkt.BGP_ORIGIN_ATTR_TYPE_IGP)}
	if form == 0 || form == 2 {
		nh := netip.AddrFrom4([4]byte(r.take(4)))
		attrs = append(attrs, bgppkt.NewPathAttributeNextHop(nh.String()))
		b.nextHop, b.readable = nh, true
	}
	if form == 1 || form == 2 {
		nh := netip.AddrFrom16([16]byte(r.take(16)))
		attrs = append(attrs, bgppkt.NewPathAttributeMpReachNLRI(nh.String(), []bgppkt.AddrPrefixInterface{nlriOf(prefix)}))
		b.nextHop, b.readable = nh.Unmap(), true
	}
	return attrs
}

// nlriOf is the path's NLRI: the prefix when it is a valid one, else the
// IPv4 default (Learned reads the destination's prefix, not the NLRI).
func nlriOf(p netip.Prefix) bgppkt.AddrPrefixInterface {
	switch {
	case !p.IsValid():
		return bgppkt.NewIPAddrPrefix(0, "0.0.0.0")
	case p.Addr().Is4():
		return bgppkt.NewIPAddrPrefix(uint8(p.Bits()), p.Addr().String())
	}
	return bgppkt.NewIPv6AddrPrefix(uint8(p.Bits()), p.Addr().String())
}

// The seed corpus (testdata/fuzz/FuzzLearnedRoutes) is what the lab's
// edge learns, encoded for decodeRIB; UPLINKD_WRITE_SEEDS=1 go test -run
// TestLearnedSeeds ./internal/ecmp rewrites it from learnedSeeds.
func TestLearnedSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzLearnedRoutes")
	for name, data := range learnedSeeds() {
		file := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nuint8(%d)\nuint8(%d)\n", data, 0x3f, 0)
		path := filepath.Join(dir, name)
		if os.Getenv("UPLINKD_WRITE_SEEDS") != "" {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(file), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if b, err := os.ReadFile(path); err != nil || string(b) != file {
			t.Errorf("seed %s missing or out of date (%v): run with UPLINKD_WRITE_SEEDS=1", path, err)
		}
	}
	// The lab's seeds decode to the routes the lab's edge has.
	a := netip.MustParseAddr
	want := map[netip.Prefix][]bgp.Path{
		netip.MustParsePrefix("0.0.0.0/0"): {{Peer: "docomo", NextHop: a("198.18.100.1")},
			{Peer: "rakuten", NextHop: a("198.18.100.5")}, {Peer: "softbank", NextHop: a("198.18.100.3")}},
		netip.MustParsePrefix("::/0"): {{Peer: "docomo-v6", NextHop: a("2001:db8:100:1::1")},
			{Peer: "rakuten-v6", NextHop: a("2001:db8:100:3::1")}, {Peer: "softbank-v6", NextHop: a("2001:db8:100:2::1")}},
	}
	up := map[netip.Addr]bool{}
	for _, p := range fuzzPeers {
		up[p.Address] = true
	}
	for _, name := range []string{"lab-edge-defaults", "lab-edge-refused-and-local"} {
		dests, _ := decodeRIB(learnedSeeds()[name])
		got, err := bgp.Learned(fuzzPeers, up, fuzzAccept, dests)
		if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" || err != nil {
			t.Errorf("seed %s: error %v, routes (-want +got):\n%s", name, err, diff)
		}
	}
}

// learnedSeeds, by file name.
func learnedSeeds() map[string][]byte {
	v4, v6 := []int{0, 2, 4}, []int{1, 3, 5}
	lab := append(acceptedDest(0, peerPaths(v4)...), acceptedDest(1, peerPaths(v6)...)...)
	return map[string][]byte{
		// The edge with three tunnels up: the hub's default routes, one
		// path per session, next hop the hub's tunnel address.
		"lab-edge-defaults": lab,
		// The hub also sends a prefix the edge does not accept, and the
		// edge's own LAN prefix is in the RIB as a local path.
		"lab-edge-refused-and-local": slices.Concat(lab,
			prefixDest(netip.MustParsePrefix("198.18.250.0/24"), peerPath(0, false)),
			prefixDest(netip.MustParsePrefix("198.18.10.0/24"), localPath())),
		// A withdrawn path and a neighbor in IPv4-mapped form.
		"withdrawn-and-mapped": acceptedDest(0, peerPath(2, true), mappedPath(0)),
		// An MP_REACH_NLRI attribute of arbitrary contents beside a good path.
		"garbled-mp-reach": acceptedDest(1, peerPath(1, false), garbledPath(3, 2, []byte("\x0a\x05\x08\x02\x10\x01"))),
	}
}

func acceptedDest(i int, paths ...[]byte) []byte {
	return slices.Concat([]byte{byte(len(paths) << 2), byte(i)}, slices.Concat(paths...))
}

func prefixDest(p netip.Prefix, paths ...[]byte) []byte {
	return slices.Concat([]byte{byte(len(paths)<<2) | 1, byte(p.Bits())}, p.Addr().AsSlice(), slices.Concat(paths...))
}

func peerPaths(peers []int) [][]byte {
	var out [][]byte
	for _, i := range peers {
		out = append(out, peerPath(i, false))
	}
	return out
}

// peerPath is a path from fuzzPeers[i] with its own address as the next
// hop, as eBGP over a tunnel gives: NEXT_HOP for IPv4, MP_REACH for IPv6.
func peerPath(i int, withdraw bool) []byte {
	pk, a := byte(0), fuzzPeers[i].Address
	if withdraw {
		pk |= 4
	}
	if a.Is6() {
		pk |= 1 << 3
	}
	return slices.Concat([]byte{pk, byte(i)}, a.AsSlice())
}

func mappedPath(i int) []byte {
	return slices.Concat([]byte{1, byte(i)}, fuzzPeers[i].Address.AsSlice())
}

func localPath() []byte { return []byte{2, 0, 0, 0, 0} }

func garbledPath(peer, attr int, value []byte) []byte {
	return slices.Concat([]byte{4 << 3, byte(peer), byte(attr), byte(len(value))}, value)
}
