package probe

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// icmpProber pings an address over a raw ICMP socket (root) or, failing
// that, an unprivileged ping socket (net.ipv4.ping_group_range).
type icmpProber struct {
	conn  *icmp.PacketConn
	dst   net.Addr
	proto int // 1 (ICMP) or 58 (ICMPv6), for parsing replies
	typ   icmp.Type
	id    int
	raw   bool // a raw socket sees every echo reply: match the id too
	seq   int
}

var _ Prober = (*icmpProber)(nil)

// NewICMP opens a Prober that pings gw (through iface, for a link-local
// IPv6 address; "" otherwise).
func NewICMP(gw netip.Addr, iface string) (Prober, error) {
	p := &icmpProber{id: rand.IntN(0xffff), seq: rand.IntN(0xffff)}
	rawNet, dgramNet, any := "ip4:icmp", "udp4", "0.0.0.0"
	p.proto, p.typ = 1, ipv4.ICMPTypeEcho
	if gw.Is6() {
		rawNet, dgramNet, any = "ip6:ipv6-icmp", "udp6", "::"
		p.proto, p.typ = 58, ipv6.ICMPTypeEchoRequest
	}
	conn, err := icmp.ListenPacket(rawNet, any)
	p.raw = err == nil
	if err != nil {
		var err2 error
		if conn, err2 = icmp.ListenPacket(dgramNet, any); err2 != nil {
			return nil, fmt.Errorf("open icmp socket for %s: %w", gw, errors.Join(err, err2))
		}
	}
	p.conn = conn
	ip := net.IP(gw.Unmap().AsSlice())
	if p.raw {
		p.dst = &net.IPAddr{IP: ip, Zone: iface}
	} else {
		p.dst = &net.UDPAddr{IP: ip, Zone: iface}
	}
	return p, nil
}

// Probe sends one echo request and waits up to timeout for its reply;
// replies to earlier, timed-out requests are skipped by sequence number.
func (p *icmpProber) Probe(ctx context.Context, timeout time.Duration) (time.Duration, error) {
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	p.conn.SetReadDeadline(deadline)
	start := time.Now()
	if _, err := p.send(); err != nil {
		return 0, err
	}
	return p.await(start)
}

// send sends the next echo request and returns its sequence number.
func (p *icmpProber) send() (int, error) {
	p.seq = (p.seq + 1) & 0xffff
	msg := icmp.Message{Type: p.typ, Body: &icmp.Echo{ID: p.id, Seq: p.seq, Data: []byte("uplinkd probe")}}
	b, err := msg.Marshal(nil)
	if err != nil {
		return 0, err
	}
	if _, err := p.conn.WriteTo(b, p.dst); err != nil {
		return 0, fmt.Errorf("echo to %s: %w", p.dst, err)
	}
	return p.seq, nil
}

// await reads until the matching reply or the deadline.
func (p *icmpProber) await(start time.Time) (time.Duration, error) {
	buf := make([]byte, 1500)
	for {
		n, _, err := p.conn.ReadFrom(buf)
		if err != nil {
			return 0, fmt.Errorf("no echo reply from %s: %w", p.dst, err)
		}
		if p.matches(buf[:n]) {
			return time.Since(start), nil
		}
	}
}

func (p *icmpProber) matches(b []byte) bool {
	seq, ok := p.reply(b)
	return ok && seq == p.seq
}

// reply says whether b is an echo reply to this prober, and its sequence
// number.
func (p *icmpProber) reply(b []byte) (int, bool) {
	m, err := icmp.ParseMessage(p.proto, b)
	if err != nil || (m.Type != ipv4.ICMPTypeEchoReply && m.Type != ipv6.ICMPTypeEchoReply) {
		return 0, false
	}
	e, ok := m.Body.(*icmp.Echo)
	// A ping socket rewrites the id to its port and demultiplexes replies
	// itself; only a raw socket must check it.
	if !ok || (p.raw && e.ID != p.id) {
		return 0, false
	}
	return e.Seq, true
}

func (p *icmpProber) Close() error { return p.conn.Close() }
