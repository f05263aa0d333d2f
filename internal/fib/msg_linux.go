package fib

import (
	"encoding/binary"
	"net/netip"

	"golang.org/x/sys/unix"
)

// Constants missing from x/sys/unix (include/uapi/linux/{rtnetlink,nexthop}.h).
const (
	rtaNHID = 30 // RTA_NH_ID

	nhaResGroup = 12
	nhaResBkt   = 13

	nhaResGroupBuckets         = 1
	nhaResGroupIdleTimer       = 2
	nhaResGroupUnbalancedTimer = 3

	nhaResBucketIndex    = 1
	nhaResBucketIdleTime = 2
	nhaResBucketNHID     = 3

	nhGroupTypeMpath = 0
	nhGroupTypeRes   = 1

	sizeofNhmsg    = 8
	sizeofNhGroup  = 8
	nlaAlign       = 4
	nlaFNested     = 1 << 15
	nlaTypeMask    = ^uint16(nlaFNested | 1<<14)
	rtScopeNowhere = 255 // RT_SCOPE_NOWHERE: matches any scope on delete
)

var ne = binary.NativeEndian

func align(n int) int { return (n + nlaAlign - 1) &^ (nlaAlign - 1) }

// msgBuf builds a run of netlink messages back to back, one sendmsg's worth.
type msgBuf struct {
	b []byte
}

// begin starts a message and returns its offset for end.
func (m *msgBuf) begin(typ, flags uint16, seq uint32) int {
	off := len(m.b)
	m.b = append(m.b, make([]byte, unix.SizeofNlMsghdr)...)
	h := m.b[off:]
	ne.PutUint16(h[4:], typ)
	ne.PutUint16(h[6:], flags)
	ne.PutUint32(h[8:], seq)
	return off
}

// end writes the message length now that its attributes are in.
func (m *msgBuf) end(off int) {
	ne.PutUint32(m.b[off:], uint32(len(m.b)-off))
}

// setFlags ORs extra flags into the message at off (used to ask for an ACK).
func (m *msgBuf) setFlags(off int, flags uint16) {
	ne.PutUint16(m.b[off+6:], ne.Uint16(m.b[off+6:])|flags)
}

func (m *msgBuf) pad() {
	for len(m.b)%nlaAlign != 0 {
		m.b = append(m.b, 0)
	}
}

// rtmsg appends struct rtmsg.
func (m *msgBuf) rtmsg(family, dstLen, table, proto, scope, typ uint8) {
	m.b = append(m.b, family, dstLen, 0, 0, table, proto, scope, typ, 0, 0, 0, 0)
}

// nhmsg appends struct nhmsg.
func (m *msgBuf) nhmsg(family, proto uint8) {
	m.b = append(m.b, family, 0, proto, 0, 0, 0, 0, 0)
}

func (m *msgBuf) attr(typ uint16, data []byte) {
	var h [4]byte
	ne.PutUint16(h[0:], uint16(4+len(data)))
	ne.PutUint16(h[2:], typ)
	m.b = append(m.b, h[:]...)
	m.b = append(m.b, data...)
	m.pad()
}

func (m *msgBuf) u16(typ uint16, v uint16) {
	var b [2]byte
	ne.PutUint16(b[:], v)
	m.attr(typ, b[:])
}

func (m *msgBuf) u32(typ uint16, v uint32) {
	var b [4]byte
	ne.PutUint32(b[:], v)
	m.attr(typ, b[:])
}

func (m *msgBuf) addr(typ uint16, a netip.Addr) {
	if a.Is4() {
		b := a.As4()
		m.attr(typ, b[:])
		return
	}
	b := a.As16()
	m.attr(typ, b[:])
}

// via appends RTA_VIA, a gateway of the other family (an IPv4 route
// through an IPv6 gateway; the kernel refuses the reverse, and says so).
func (m *msgBuf) via(a netip.Addr) {
	data := make([]byte, 2, 18)
	ne.PutUint16(data, uint16(familyOf(a)))
	m.attr(unix.RTA_VIA, append(data, a.AsSlice()...))
}

// nest starts a nested attribute; close it with m.end(off) (same length rule).
func (m *msgBuf) nest(typ uint16) int {
	off := len(m.b)
	m.attr(typ|nlaFNested, nil)
	return off
}

func (m *msgBuf) endNest(off int) {
	ne.PutUint16(m.b[off:], uint16(len(m.b)-off))
}

// attrs walks a run of netlink attributes, calling fn with the type (flags
// masked off) and the payload.
func attrs(b []byte, fn func(typ uint16, data []byte)) {
	for len(b) >= 4 {
		l := int(ne.Uint16(b))
		if l < 4 || l > len(b) {
			return
		}
		fn(ne.Uint16(b[2:])&nlaTypeMask, b[4:l])
		b = b[min(align(l), len(b)):]
	}
}

// addrFrom converts a 4- or 16-byte address, returning the zero Addr otherwise.
func addrFrom(b []byte) netip.Addr {
	switch len(b) {
	case 4:
		return netip.AddrFrom4([4]byte(b))
	case 16:
		return netip.AddrFrom16([16]byte(b))
	}
	return netip.Addr{}
}

// familyOf returns AF_INET or AF_INET6 for an address.
func familyOf(a netip.Addr) uint8 {
	if a.Is4() {
		return unix.AF_INET
	}
	return unix.AF_INET6
}

// zeroAddr is the unspecified address of a family, the destination of a
// route without RTA_DST (a default route).
func zeroAddr(family uint8) netip.Addr {
	if family == unix.AF_INET {
		return netip.IPv4Unspecified()
	}
	return netip.IPv6Unspecified()
}
