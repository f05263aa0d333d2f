package inbound

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/uplinkd/uplinkd/internal/config"
)

// The table's chains: DNAT of published IPv4 services (hub), marks of
// connections by the hub they came through (edge), and the filter.
const (
	chainDNAT    = "dnat"
	chainMark    = "mark"
	chainForward = "forward"
)

// rule is one nftables rule with the tag that names it: the tags are kept
// in the rules' userdata, so the table read back can be compared with
// what is wanted without decoding expressions.
type rule struct {
	chain string
	tag   string
	exprs []expr.Any
}

// rules renders d, chain by chain, in the order the kernel must see them.
func (d Desired) rules() []rule {
	if d.Public != "" {
		return append(d.dnatRules(), d.hubForward()...)
	}
	if len(d.Hubs) == 0 {
		return nil
	}
	return append(d.markRules(), d.edgeForward()...)
}

// dnatRules send each published IPv4 service to its home server, keeping
// the client's address; a rate over the limit is simply not forwarded.
func (d Desired) dnatRules() []rule {
	var out []rule
	for _, p := range d.Publish {
		for _, src := range sources(p.Allow, true) {
			x := []expr.Any{}
			x = append(x, ifname(expr.MetaKeyIIFNAME, d.Public)...)
			x = append(x, nfproto(true)...)
			x = append(x, l4(p.Protocol, p.Port, p.PortEnd)...)
			x = append(x, addrMatch(src, false)...)
			x = append(x, limit(p.Rate)...)
			x = append(x, &expr.Counter{})
			x = append(x, dnat(p.To)...)
			out = append(out, rule{chainDNAT, fmt.Sprintf("publish %s: %s %s from %s rate %d dnat to %s", p.Name, p.Protocol, ports(p.Port, p.PortEnd), src, p.Rate, p.To), x})
		}
	}
	return out
}

// hubForward: from the public side only what the LAN asked for, what was
// published (DNAT for IPv4, the address and port for IPv6) and nothing
// else towards the edges.
func (d Desired) hubForward() []rule {
	in := ifname(expr.MetaKeyIIFNAME, d.Public)
	out := []rule{
		{chainForward, "public: established, related", cat(in, ctState(expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED), accept())},
		{chainForward, "public: published by dnat", cat(in, ctDNAT(), accept())},
	}
	for _, p := range d.Publish {
		if !p.To6.IsValid() {
			continue
		}
		lo, hi := p.LANPorts()
		for _, src := range sources(p.Allow, false) {
			x := cat(in, nfproto(false), l4(p.Protocol, lo, hi), addrMatch(netip.PrefixFrom(p.To6.Addr(), 128), true),
				addrMatch(src, false), limit(p.Rate), []expr.Any{&expr.Counter{}}, accept())
			out = append(out, rule{chainForward, fmt.Sprintf("publish %s: %s %s to %s from %s rate %d", p.Name, p.Protocol, ports(lo, hi), p.To6.Addr(), src, p.Rate), x})
		}
	}
	for _, pfx := range d.Protect {
		out = append(out, rule{chainForward, "public: drop to " + pfx.String(),
			cat(in, nfproto(pfx.Addr().Is4()), addrMatch(pfx, true), []expr.Any{&expr.Counter{}}, drop())})
	}
	return out
}

// markRules mark each connection that comes in through a hub's tunnel
// with that hub's mark, and give the replies of published services that
// mark as fwmark, so that they go back the way they came.
func (d Desired) markRules() []rule {
	var out []rule
	for _, h := range d.Hubs {
		for _, ifn := range h.Interfaces {
			x := cat(ifname(expr.MetaKeyIIFNAME, ifn), ctState(expr.CtStateBitNEW), setCtMark(h.Mark))
			out = append(out, rule{chainMark, fmt.Sprintf("new from %s: ct mark %#x (hub %s)", ifn, h.Mark, h.Hub), x})
		}
		if d.Return {
			x := cat(ctDirection(ctDirReply), ctMark(h.Mark, 0xffffffff), setMetaMark(h.Mark))
			out = append(out, rule{chainMark, fmt.Sprintf("replies of hub %s: fwmark %#x", h.Hub, h.Mark), x})
		}
	}
	return out
}

// edgeForward: a new connection from any hub's tunnel is dropped unless
// it goes to a published service.
func (d Desired) edgeForward() []rule {
	fromHub := cat(ctState(expr.CtStateBitNEW), ctMark(config.ReturnMarkBase, config.ReturnMarkMask))
	var out []rule
	for _, p := range d.Publish {
		lo, hi := p.LANPorts()
		for _, to := range []netip.AddrPort{p.To, p.To6} {
			if !to.IsValid() {
				continue
			}
			is4 := to.Addr().Is4()
			for _, src := range sources(p.Allow, is4) {
				x := cat(fromHub, nfproto(is4), l4(p.Protocol, lo, hi), addrMatch(netip.PrefixFrom(to.Addr(), to.Addr().BitLen()), true),
					addrMatch(src, false), []expr.Any{&expr.Counter{}}, accept())
				out = append(out, rule{chainForward, fmt.Sprintf("publish %s: %s %s to %s from %s", p.Name, p.Protocol, ports(lo, hi), to.Addr(), src), x})
			}
		}
	}
	for _, src := range d.Trusted {
		out = append(out, rule{chainForward, "tunnels: from the hub itself " + src.String(),
			cat(fromHub, nfproto(src.Addr().Is4()), addrMatch(src, false), accept())})
	}
	return append(out, rule{chainForward, "tunnels: drop new", cat(fromHub, []expr.Any{&expr.Counter{}}, drop())})
}

// sources are the allowed source prefixes of one family; all of it when
// none are configured for that family.
func sources(allow []netip.Prefix, is4 bool) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range allow {
		if p.Addr().Is4() == is4 {
			out = append(out, p)
		}
	}
	if len(out) == 0 && len(allow) > 0 {
		return nil // the list names only the other family: none of this one
	}
	if len(out) == 0 {
		if is4 {
			return []netip.Prefix{netip.PrefixFrom(netip.IPv4Unspecified(), 0)}
		}
		return []netip.Prefix{netip.PrefixFrom(netip.IPv6Unspecified(), 0)}
	}
	return out
}

func ports(lo, hi int) string {
	if lo == hi {
		return fmt.Sprint(lo)
	}
	return fmt.Sprintf("%d-%d", lo, hi)
}

func cat(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func accept() []expr.Any { return []expr.Any{&expr.Verdict{Kind: expr.VerdictAccept}} }
func drop() []expr.Any   { return []expr.Any{&expr.Verdict{Kind: expr.VerdictDrop}} }

func ifname(key expr.MetaKey, name string) []expr.Any {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return []expr.Any{&expr.Meta{Key: key, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: b}}
}

func nfproto(is4 bool) []expr.Any {
	p := byte(unix.NFPROTO_IPV6)
	if is4 {
		p = unix.NFPROTO_IPV4
	}
	return []expr.Any{&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p}}}
}

// l4 matches the protocol and a destination port range.
func l4(proto string, lo, hi int) []expr.Any {
	p := byte(unix.IPPROTO_TCP)
	if proto == "udp" {
		p = unix.IPPROTO_UDP
	}
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Range{Op: expr.CmpOpEq, Register: 1, FromData: be16(lo), ToData: be16(hi)},
	}
}

// addrMatch matches the source (or, dst, the destination) address in a
// prefix; a /0 matches everything and needs no expression.
func addrMatch(p netip.Prefix, dst bool) []expr.Any {
	if p.Bits() == 0 {
		return nil
	}
	offset, size := uint32(12), uint32(4)
	if dst {
		offset = 16
	}
	if p.Addr().Is6() {
		offset, size = 8, 16
		if dst {
			offset = 24
		}
	}
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: size},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: size, Mask: maskBytes(p), Xor: make([]byte, size)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: p.Masked().Addr().AsSlice()},
	}
}

func maskBytes(p netip.Prefix) []byte {
	b := make([]byte, p.Addr().BitLen()/8)
	for i := 0; i < p.Bits(); i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	return b
}

func limit(rate int) []expr.Any {
	if rate == 0 {
		return nil
	}
	return []expr.Any{&expr.Limit{Type: expr.LimitTypePkts, Rate: uint64(rate), Unit: expr.LimitTimeSecond, Burst: uint32(rate)}}
}

func dnat(to netip.AddrPort) []expr.Any {
	x := []expr.Any{&expr.Immediate{Register: 1, Data: to.Addr().AsSlice()}}
	n := &expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1}
	if to.Port() != 0 {
		// Only with a port: "specified" without one rewrites it to 0.
		x = append(x, &expr.Immediate{Register: 2, Data: be16(int(to.Port()))})
		n.RegProtoMin, n.Specified = 2, true
	}
	return append(x, n)
}

// ctState matches any of the conntrack state bits.
func ctState(bits uint32) []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: binaryutil.NativeEndian.PutUint32(bits), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)},
	}
}

// ctDNAT matches connections whose destination was translated.
func ctDNAT() []expr.Any {
	const ipsDstNAT = 1 << 5
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATUS},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: binaryutil.NativeEndian.PutUint32(ipsDstNAT), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)},
	}
}

// ctDirReply is IP_CT_DIR_REPLY: a packet from the side that accepted.
const ctDirReply = 1

func ctDirection(dir int) []expr.Any {
	return []expr.Any{&expr.Ct{Register: 1, Key: expr.CtKeyDIRECTION}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{byte(dir)}}}
}

// ctMark matches mark under mask.
func ctMark(mark, mask uint32) []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeyMARK},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: binaryutil.NativeEndian.PutUint32(mask), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(mark & mask)},
	}
}

func setCtMark(mark uint32) []expr.Any {
	return []expr.Any{
		&expr.Immediate{Register: 1, Data: binaryutil.NativeEndian.PutUint32(mark)},
		&expr.Ct{Register: 1, Key: expr.CtKeyMARK, SourceRegister: true},
	}
}

func setMetaMark(mark uint32) []expr.Any {
	return []expr.Any{
		&expr.Immediate{Register: 1, Data: binaryutil.NativeEndian.PutUint32(mark)},
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1, SourceRegister: true},
	}
}

func be16(n int) []byte {
	b := make([]byte, 2)
	binary.BigEndian.PutUint16(b, uint16(n))
	return b
}

// tags lists the rules' tags, each prefixed by its chain.
func tags(rs []rule) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.chain + ": " + r.tag
	}
	return out
}
