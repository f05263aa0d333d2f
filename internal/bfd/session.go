package bfd

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// SessionConfig describes one single-hop session on one tunnel.
type SessionConfig struct {
	// Interface is the tunnel; the session's sockets are bound to it so a
	// packet that arrives over another path never keeps the session up.
	// It must exist when the session is added, and a session must be
	// removed and added again when the interface is re-created, since the
	// binding is to the interface index of the time.
	Interface string
	Local     netip.Addr
	Peer      netip.Addr
	// DesiredMinTx and RequiredMinRx apply once the session is Up; before
	// that the session transmits once a second (RFC 5880 §6.8.3).
	// Zero means DefaultInterval.
	DesiredMinTx  time.Duration
	RequiredMinRx time.Duration
	// DetectMult is the local detect multiplier; zero means DefaultDetectMult.
	DetectMult uint8
	// Frugal offers the frugal mode (see frugal.go): when the peer offers
	// it too, the session runs at IdleInterval while the tunnel's own
	// traffic shows it alive and probes at DesiredMinTx when it does not.
	// With any other peer it changes nothing.
	Frugal bool
	// IdleInterval is the frugal mode's idle rate; zero means
	// DefaultIdleInterval.
	IdleInterval time.Duration
}

// Key names a session: a peer reached over one interface.
type Key struct {
	Interface string
	Peer      netip.Addr
}

func (k Key) String() string { return k.Peer.String() + "%" + k.Interface }

// Key returns the session's key.
func (c SessionConfig) Key() Key { return Key{Interface: c.Interface, Peer: c.Peer} }

func (c SessionConfig) withDefaults() (SessionConfig, error) {
	c.Local, c.Peer = c.Local.Unmap(), c.Peer.Unmap()
	if !c.Local.IsValid() || !c.Peer.IsValid() || c.Local.Is4() != c.Peer.Is4() {
		return c, fmt.Errorf("bfd session %s: local %s and peer must be addresses of one family", c.Key(), c.Local)
	}
	c.DesiredMinTx = cmpOr(c.DesiredMinTx, DefaultInterval)
	c.RequiredMinRx = cmpOr(c.RequiredMinRx, DefaultInterval)
	if c.DetectMult == 0 {
		c.DetectMult = DefaultDetectMult
	}
	c.IdleInterval = cmpOr(c.IdleInterval, DefaultIdleInterval)
	if c.Frugal && c.IdleInterval < c.DesiredMinTx {
		return c, fmt.Errorf("bfd session %s: idle interval %v is below the interval %v", c.Key(), c.IdleInterval, c.DesiredMinTx)
	}
	if c.DesiredMinTx < time.Microsecond || c.RequiredMinRx < time.Microsecond {
		return c, fmt.Errorf("bfd session %s: intervals must be at least 1µs", c.Key())
	}
	return c, nil
}

func cmpOr(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// Change reports one state change of a session.
type Change struct {
	Peer        netip.Addr
	Local       netip.Addr
	Interface   string
	Old, New    State
	Diag        Diag  // why, from the local side
	RemoteState State // lets a consumer tell a peer's AdminDown from a failure (RFC 5882 §3.2)
	At          time.Time
	// Late, for a detection time expired: how long after the detection
	// time its timer fired (the session goroutine's wake-up), which the
	// failover waits on top of the detection time.
	Late time.Duration
}

// Status is a session's state for `uplinkd status`.
type Status struct {
	Interface   string
	Local, Peer netip.Addr
	State       State
	RemoteState State
	Diag        Diag // local diagnostic
	RemoteDiag  Diag
	LocalDiscr  uint32
	RemoteDiscr uint32
	// TxInterval is the agreed transmit interval, RxInterval the agreed
	// remote one; DetectTime is RemoteDetectMult × RxInterval.
	TxInterval       time.Duration
	RxInterval       time.Duration
	DetectTime       time.Duration
	RemoteDetectMult uint8
	PollActive       bool
	// Liveness is "fast" (asynchronous mode at the configured timers),
	// "frugal idle", "frugal busy", "frugal offered" (not Up yet) or
	// "fast (peer not frugal)".
	Liveness string
	// AskedFrugal is the Frugal of the session's config as added.
	AskedFrugal bool
	// Probes counts the frugal mode's probes, ProbeDowns those that
	// nothing answered, which took the session Down.
	Probes       uint64
	ProbeDowns   uint64
	LastRx       time.Time
	UpSince      time.Time     // zero unless Up
	Uptime       time.Duration // since UpSince, at the time of the snapshot
	TxPackets    uint64
	TxErrors     uint64
	RxPackets    uint64
	RxDropped    uint64 // queue full
	StateChanges uint64
}

// sessionState is the RFC 5880 §6.8.1 state that changes; guarded by Session.mu.
type sessionState struct {
	state, remoteState State
	diag, remoteDiag   Diag
	remoteDiscr        uint32
	desiredTx          time.Duration // bfd.DesiredMinTxInterval as advertised now
	// usedTx is the one our transmit interval follows: a rise while Up
	// waits for the Final of its Poll (§6.8.3).
	usedTx          time.Duration
	remoteDesiredTx uint32
	remoteMinRx     uint32
	remoteMult      uint8
	poll            bool
	// pendingMinRx is a lowered Required Min RX advertised in a Poll that
	// is not answered yet; until it is, the peer is timed by the old one
	// (§6.8.3). Zero: none.
	pendingMinRx    time.Duration
	lastRx, upSince time.Time
	// The session's two timers, as deadlines the goroutine sleeps
	// until: the next periodic packet, and the detection time (zero:
	// not running). lastTx is when the last periodic packet went out.
	lastTx, nextTx, detectAt time.Time
	txPackets, txErr         uint64
	rxPackets, changes       uint64
	fr                       frugalState
	ts                       stampState
}

// rxPacket is a validated packet handed from a listener to its session.
type rxPacket struct {
	p  Packet
	at time.Time
}

// txConn sends to the peer from the session's fixed source port.
type txConn interface {
	Write(b []byte) (int, error)
	Close() error
}

// Session is one BFD session; its goroutine owns timers and transitions.
type Session struct {
	cfg        SessionConfig
	localDiscr uint32
	log        *slog.Logger
	notify     func(Change)
	conn       txConn
	src        TrafficSource // the tunnel's counters; nil unless frugal
	// ctl counts the control packets taken from the tunnel's socket and
	// tells those still in it; nil: the session's own count (a frugal
	// session always has it but in simulations).
	ctl controlRx
	// askedFrugal: the frugal mode was asked for, even if the counters
	// it needs could not be opened.
	askedFrugal bool
	rnd         *rand.Rand

	rx      chan rxPacket
	admin   chan bool
	retimer chan SessionConfig // new timers from a reload; the latest wins
	asked   SessionConfig      // the timers last asked for (guarded by mu)
	done    chan struct{}
	exited  chan struct{}
	rxDrops atomic.Uint64

	mu sync.Mutex
	st sessionState
}

func newSession(cfg SessionConfig, discr uint32, conn txConn, log *slog.Logger, notify func(Change)) *Session {
	return &Session{
		cfg:        cfg,
		localDiscr: discr,
		log:        log.With("peer", cfg.Peer, "interface", cfg.Interface),
		notify:     notify,
		conn:       conn,
		rnd:        rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		rx:         make(chan rxPacket, 16),
		admin:      make(chan bool, 1),
		retimer:    make(chan SessionConfig, 1),
		asked:      cfg,
		done:       make(chan struct{}),
		exited:     make(chan struct{}),
		st: sessionState{
			state:       StateDown,
			remoteState: StateDown,
			desiredTx:   max(cfg.DesiredMinTx, slowTx),
			usedTx:      max(cfg.DesiredMinTx, slowTx),
			// §6.8.1: 1 µs until the peer says otherwise, so we transmit.
			remoteMinRx: 1,
		},
	}
}

// Key returns the session's key.
func (s *Session) Key() Key {
	// Field by field: the timers beside them change on the session's
	// goroutine (retimeTo), and a copy of the whole config would read them.
	return Key{Interface: s.cfg.Interface, Peer: s.cfg.Peer}
}

// deliver queues a packet without blocking the listener; a full queue means
// the peer floods us and dropping is the right answer.
func (s *Session) deliver(p rxPacket) {
	select {
	case s.rx <- p:
	default:
		s.rxDrops.Add(1)
	}
}

// setAdmin asks the session goroutine to enter or leave AdminDown; only the
// latest request matters, so an unread older one is replaced.
func (s *Session) setAdmin(down bool) {
	for {
		select {
		case s.admin <- down:
			return
		default:
			select {
			case <-s.admin:
			default:
			}
		}
	}
}

// setTimers hands new timers to the session goroutine; only the latest
// matters, so an unread older one is replaced.
func (s *Session) setTimers(c SessionConfig) {
	s.mu.Lock()
	s.asked = c
	s.mu.Unlock()
	for {
		select {
		case s.retimer <- c:
			return
		default:
			select {
			case <-s.retimer:
			default:
			}
		}
	}
}

// sameTimers says whether c asks for the timers last asked of the session
// (which its goroutine may not have taken yet).
func (s *Session) sameTimers(c SessionConfig) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.asked
	return c.DesiredMinTx == a.DesiredMinTx && c.RequiredMinRx == a.RequiredMinRx &&
		c.DetectMult == a.DetectMult && c.IdleInterval == a.IdleInterval
}

// stop ends the session after telling the peer it is going AdminDown, so
// the peer drops us at once instead of after its detection time.
func (s *Session) stop() {
	close(s.done)
	<-s.exited
}
