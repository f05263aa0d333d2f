package bfd

import (
	"encoding/binary"
	"errors"
	"sync"
	"time"
)

// Round trips and loss from the liveness exchange itself (issue 17),
// between two ends that are both uplinkd, at no packet of its own: each
// Control packet carries, after the 24 bytes the Length field covers, a
// trailer of ours, as TCP's timestamps (RFC 7323) but exact per probe:
// the magic "ULT" and a flags byte (a probe; how many echoes follow),
// Val (the sender's clock, µs), then echoes: each a Val of the peer's and
// how long this end held that packet (µs). A packet that carries probes
// is echoed in the peer's next packet, every one received since its
// last, each with its own hold (a path can bunch two between two of the
// peer's packets). RTT = arrival of the echo − departure − hold; a probe
// never echoed was lost, or its echo was. Only packets that carry probes
// or echoes carry the trailer (16 bytes on the wire with one echo), and
// the first stampTrial packets after a session comes up, to find out
// whether the peer is ours (which answers the first it gets with one). RFC 5880 §6.8.6 only discards a packet whose
// Length field says more than arrived, so a peer that does not know the
// trailer ignores it (ours before it did too).
//
// A Stamper uses it as the SLA monitor's Pinger: Send asks that the
// session's next periodic packet be a probe, whose echo is the reply. It
// refuses (ErrNoStamps) while the peer sends no trailer, and while the
// session runs the frugal mode's slow rate, whose packets are too far
// apart for a probe's timeout; the daemon then probes by ICMP echo.

// Stamp is the trailer's content.
type Stamp struct {
	Val    uint32 // microseconds
	Probe  bool   // this packet carries probes: echo it
	Echoes []StampEcho
}

// StampEcho is one of the peer's packets echoed, and how long it was held.
type StampEcho struct {
	Val, Delay uint32 // microseconds
}

const (
	stampMagic = 0x554c5400 // "ULT" and the flags byte
	flagProbe  = 0x80
	// maxEchoes is how many probes one packet echoes at most (the
	// newest; older ones count as lost).
	maxEchoes = 8
	// stampTrial is how many packets a session sends the trailer to a
	// peer that has sent none, to find out whether it is ours.
	stampTrial = 20
	// stampRing is how many of our probe packets wait for their echo.
	stampRing = 64
)

func (t *Stamp) append(b []byte) []byte {
	flags := uint32(min(len(t.Echoes), maxEchoes))
	if t.Probe {
		flags |= flagProbe
	}
	b = binary.BigEndian.AppendUint32(b, stampMagic|flags)
	b = binary.BigEndian.AppendUint32(b, t.Val)
	for _, e := range t.Echoes[:min(len(t.Echoes), maxEchoes)] {
		b = binary.BigEndian.AppendUint32(b, e.Val)
		b = binary.BigEndian.AppendUint32(b, e.Delay)
	}
	return b
}

// decodeStamp reads the trailer after a packet of the given length, if
// there is a whole one.
func decodeStamp(b []byte, length int) *Stamp {
	if length != headerLen || len(b) < headerLen+8 {
		return nil
	}
	magic := binary.BigEndian.Uint32(b[headerLen:])
	n := int(magic & 0x7f)
	if magic&^0xff != stampMagic || n > maxEchoes || len(b) < headerLen+8+8*n {
		return nil
	}
	t := &Stamp{Val: binary.BigEndian.Uint32(b[headerLen+4:]), Probe: magic&flagProbe != 0}
	for i := range n {
		e := b[headerLen+8+8*i:]
		t.Echoes = append(t.Echoes, StampEcho{Val: binary.BigEndian.Uint32(e), Delay: binary.BigEndian.Uint32(e[4:])})
	}
	return t
}

// ErrNoStamps is returned by a Stamper whose session cannot probe now: not
// Up, a peer that sends no trailer, or the frugal mode's slow rate.
var ErrNoStamps = errors.New("bfd: no timestamped session on the interface")

// Echo is a probe's answer: Seq as Send returned it, At when the echo
// arrived, RTT the round trip less the peer's hold.
type Echo struct {
	Seq int
	At  time.Time
	RTT time.Duration
}

// stampState is a session's timestamps; guarded by Session.mu.
type stampState struct {
	epoch time.Time // Val 0
	peer  bool      // the peer sends the trailer
	sent  int       // packets sent with it while the peer sent none
	// pending is the peer's probes not echoed yet.
	pending  []heard
	ch       chan<- Echo
	want     []int // probes asked for, on the next periodic packet
	inflight []stamped
}

// heard is a packet of the peer's: its Val and when it arrived.
type heard struct {
	val uint32
	at  time.Time
}

// stamped is a packet of ours that carries probes, waiting for its echo.
type stamped struct {
	val  uint32
	at   time.Time
	seqs []int
}

// stamp builds the trailer of a packet leaving at now, or nil, and files
// the probes it carries. Called with s.mu held.
func (s *Session) stamp(now time.Time) *Stamp {
	ts := &s.st.ts
	if ts.epoch.IsZero() {
		ts.epoch = now
	}
	// The trial runs once Up, when the peer listens.
	trial := !ts.peer && ts.sent < stampTrial && s.st.state == StateUp
	if !trial && len(ts.pending) == 0 && len(ts.want) == 0 {
		return nil
	}
	if trial {
		ts.sent++
	}
	t := &Stamp{Val: uint32(now.Sub(ts.epoch) / time.Microsecond)}
	for _, h := range ts.pending {
		t.Echoes = append(t.Echoes, StampEcho{Val: h.val, Delay: uint32(max(now.Sub(h.at), 0) / time.Microsecond)})
	}
	ts.pending = ts.pending[:0]
	if len(ts.want) > 0 && ts.peer {
		t.Probe = true
		if len(ts.inflight) == stampRing {
			ts.inflight = ts.inflight[1:] // the oldest: long lost
		}
		ts.inflight = append(ts.inflight, stamped{val: t.Val, at: now, seqs: ts.want})
		ts.want = nil
	}
	return t
}

// stampIn takes a received packet's trailer: the peer's Val to echo (a
// probe: pending until echoed), and the echoes of ours, whose probes are
// answered. Called with s.mu held.
func (s *Session) stampIn(t *Stamp, at time.Time) {
	ts := &s.st.ts
	if t == nil {
		return
	}
	ts.peer = true
	// A probe is echoed; so is a trial packet (neither a probe nor an
	// echo), which tells the peer we are ours too.
	if t.Probe || len(t.Echoes) == 0 {
		if len(ts.pending) == maxEchoes {
			ts.pending = ts.pending[1:]
		}
		ts.pending = append(ts.pending, heard{val: t.Val, at: at})
	}
	answered := -1
	for _, e := range t.Echoes {
		for i, f := range ts.inflight {
			if f.val != e.Val {
				continue
			}
			rtt := max(at.Sub(f.at)-time.Duration(e.Delay)*time.Microsecond, 0)
			for _, seq := range f.seqs {
				select {
				case ts.ch <- Echo{Seq: seq, At: at, RTT: rtt}:
				default: // nobody reading fast enough: it counts as lost
				}
			}
			ts.inflight[i].seqs = nil
			answered = max(answered, i)
		}
	}
	// Probes before the newest echoed were lost, or their echoes were:
	// they time out in the monitor.
	ts.inflight = ts.inflight[answered+1:]
}

// askStamp makes the next periodic packet a probe for seq, answered on
// ch. Called without s.mu.
func (s *Session) askStamp(seq int, ch chan<- Echo) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ts := &s.st.ts
	if s.st.state != StateUp || !ts.peer || (s.frugal() && s.st.fr.busyUntil.IsZero()) {
		return ErrNoStamps
	}
	ts.ch = ch
	ts.want = append(ts.want, seq)
	return nil
}

// forgetStamps drops the probes under way on leaving Up (they count as
// lost) and finds out about the peer again (it may have been replaced).
// Called with s.mu held.
func (s *Session) forgetStamps() {
	ts := &s.st.ts
	ts.peer, ts.sent, ts.pending, ts.want, ts.inflight = false, 0, nil, nil, nil
}

// Stamper probes one tunnel's round trip by its BFD session's timestamps,
// whichever session holds the interface at the time (a re-created one
// too).
type Stamper struct {
	m     *Manager
	iface string
	ch    chan Echo
	mu    sync.Mutex
	seq   int
}

// Stamper returns a Stamper of the session on iface.
func (m *Manager) Stamper(iface string) *Stamper {
	return &Stamper{m: m, iface: iface, ch: make(chan Echo, 64)}
}

// Send makes the session's next periodic packet a probe and returns its
// sequence number, or ErrNoStamps.
func (r *Stamper) Send() (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.m.sessionOn(r.iface)
	if s == nil {
		return 0, ErrNoStamps
	}
	r.seq++
	return r.seq, s.askStamp(r.seq, r.ch)
}

// Echoes delivers the answers.
func (r *Stamper) Echoes() <-chan Echo { return r.ch }

// sessionOn is the session on iface, if any.
func (m *Manager) sessionOn(iface string) *Session {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for k, s := range m.byKey {
		if k.Interface == iface {
			return s
		}
	}
	return nil
}
