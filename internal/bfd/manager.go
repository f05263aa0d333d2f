package bfd

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Port is the single-hop BFD control port (RFC 5881 §4).
const Port = 3784

// ttlGTSM is the only TTL or hop limit accepted and sent (RFC 5881 §5):
// a packet with 255 cannot have crossed a router.
const ttlGTSM = 255

// Errors returned by Manager.
var (
	ErrClosed   = errors.New("bfd manager closed")
	ErrExists   = errors.New("bfd session exists")
	ErrNotFound = errors.New("bfd session not found")
)

// Config configures a Manager.
type Config struct {
	Logger *slog.Logger
	// OnChange is called for every state change, in order per session, from
	// the session's goroutine, so concurrently for different sessions. It
	// must return quickly (a non-blocking send to a reconciler) and must
	// not call Remove or Close, which wait for that goroutine.
	OnChange func(Change)
	// Traffic opens a tunnel's packet counters for a session that offers
	// the frugal mode, in the network namespace of the thread calling Add;
	// nil: the interface's own counters through rtnetlink. A session
	// whose counters cannot be opened does not offer the frugal mode.
	Traffic func(iface string) (TrafficSource, error)
}

// Drops counts received packets that reached no session.
type Drops struct {
	BadTTL    uint64 // not 255: off-link or spoofed (GTSM)
	Invalid   uint64 // failed RFC 5880 §6.8.6 checks
	NoSession uint64 // no session for the discriminator or address
}

// rxConn reads datagrams with their TTL or hop limit.
type rxConn interface {
	// ReadFrom returns a datagram, its TTL (-1: none) and when the kernel
	// received it.
	ReadFrom(b []byte) (n, ttl int, src netip.Addr, at time.Time, err error)
	// Pending says whether a datagram waits in the socket, unread.
	Pending() bool
	Close() error
}

type listenKey struct {
	local netip.Addr
	iface string
}

type listener struct {
	key  listenKey
	conn rxConn
	refs int
	// taken counts the datagrams read from the socket: control packets
	// the tunnel's rx counter holds too (the socket is bound to it).
	taken atomic.Uint64
}

var _ controlRx = (*listener)(nil)

func (l *listener) Taken() uint64 { return l.taken.Load() }
func (l *listener) Pending() bool { return l.conn.Pending() }

// Manager runs BFD sessions, one UDP listener per local address and
// interface.
type Manager struct {
	log      *slog.Logger
	onChange func(Change)
	traffic  func(iface string) (TrafficSource, error)
	wg       sync.WaitGroup

	badTTL, invalid, noSession atomic.Uint64

	mu        sync.RWMutex
	closed    bool
	byKey     map[Key]*Session
	byDiscr   map[uint32]*Session
	listeners map[listenKey]*listener
}

// NewManager returns a Manager with no sessions. Sockets are opened by Add
// in the network namespace of the calling thread.
func NewManager(cfg Config) *Manager {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	traffic := cfg.Traffic
	if traffic == nil {
		traffic = openCounters
	}
	return &Manager{
		log:       log,
		onChange:  cfg.OnChange,
		traffic:   traffic,
		byKey:     map[Key]*Session{},
		byDiscr:   map[uint32]*Session{},
		listeners: map[listenKey]*listener{},
	}
}

// Add starts a session; it begins in Down and sends once a second until Up.
func (m *Manager) Add(cfg SessionConfig) (*Session, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	if _, ok := m.byKey[cfg.Key()]; ok {
		return nil, fmt.Errorf("add %s: %w", cfg.Key(), ErrExists)
	}
	l, err := m.acquire(listenKey{cfg.Local, cfg.Interface})
	if err != nil {
		return nil, fmt.Errorf("add %s: %w", cfg.Key(), err)
	}
	conn, err := dialUDP(cfg.Local, cfg.Peer, cfg.Interface)
	if err != nil {
		m.release(l)
		return nil, fmt.Errorf("add %s: %w", cfg.Key(), err)
	}
	var src TrafficSource
	asked := cfg.Frugal
	if cfg.Frugal {
		if src, err = m.traffic(cfg.Interface); err != nil {
			m.log.Warn("bfd session runs fast: no tunnel counters for the frugal mode", "interface", cfg.Interface, "err", err)
			cfg.Frugal = false
		}
	}
	s := newSession(cfg, m.newDiscr(cfg.Frugal), conn, m.log, m.onChange)
	s.src, s.askedFrugal = src, asked
	if src != nil {
		s.ctl = l
	}
	m.byKey[cfg.Key()], m.byDiscr[s.localDiscr] = s, s
	m.wg.Go(s.run)
	m.log.Info("bfd session added", "peer", cfg.Peer, "interface", cfg.Interface, "local", cfg.Local,
		"tx", cfg.DesiredMinTx, "rx", cfg.RequiredMinRx, "mult", cfg.DetectMult, "frugal", cfg.Frugal)
	return s, nil
}

// Remove stops a session after sending AdminDown to the peer.
func (m *Manager) Remove(k Key) error {
	m.mu.Lock()
	s, ok := m.byKey[k]
	if ok {
		m.unregister(s)
	}
	m.mu.Unlock()
	if !ok {
		return fmt.Errorf("remove %s: %w", k, ErrNotFound)
	}
	s.stop()
	m.log.Info("bfd session removed", "peer", k.Peer, "interface", k.Interface)
	return nil
}

// Update gives a running session new timers (DesiredMinTx, RequiredMinRx,
// DetectMult, IdleInterval) without taking it down, and reports whether
// they differed; the other fields of cfg must be those it was added with
// (a change of Frugal needs Remove and Add: the discriminator says it).
func (m *Manager) Update(cfg SessionConfig) (bool, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return false, err
	}
	m.mu.RLock()
	s, ok := m.byKey[cfg.Key()]
	m.mu.RUnlock()
	if !ok {
		return false, fmt.Errorf("update %s: %w", cfg.Key(), ErrNotFound)
	}
	if s.sameTimers(cfg) {
		return false, nil
	}
	s.setTimers(cfg)
	return true, nil
}

// SetAdminDown takes a session to AdminDown, which the peer sees as Down
// with diagnostic NeighborSignaledSessionDown, or brings it back to Down.
func (m *Manager) SetAdminDown(k Key, down bool) error {
	m.mu.RLock()
	s, ok := m.byKey[k]
	m.mu.RUnlock()
	if !ok {
		return fmt.Errorf("set admin %s: %w", k, ErrNotFound)
	}
	s.setAdmin(down)
	return nil
}

// Snapshot returns the status of every session, sorted by interface and peer.
func (m *Manager) Snapshot() []Status {
	m.mu.RLock()
	ss := make([]*Session, 0, len(m.byKey))
	for _, s := range m.byKey {
		ss = append(ss, s)
	}
	m.mu.RUnlock()
	out := make([]Status, 0, len(ss))
	for _, s := range ss {
		out = append(out, s.Status())
	}
	slices.SortFunc(out, func(a, b Status) int {
		return cmp.Or(cmp.Compare(a.Interface, b.Interface), a.Peer.Compare(b.Peer))
	})
	return out
}

// Drops returns the counters of packets that reached no session.
func (m *Manager) Drops() Drops {
	return Drops{BadTTL: m.badTTL.Load(), Invalid: m.invalid.Load(), NoSession: m.noSession.Load()}
}

// Close stops every session, each saying AdminDown to its peer (and
// reporting its change to AdminDown), and waits for all goroutines to end.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	ss := make([]*Session, 0, len(m.byKey))
	for _, s := range m.byKey {
		ss = append(ss, s)
		m.unregister(s)
	}
	m.mu.Unlock()
	for _, s := range ss {
		s.stop()
	}
	m.wg.Wait()
	return nil
}

// unregister forgets a session and drops its listener reference. Called
// with m.mu held.
func (m *Manager) unregister(s *Session) {
	delete(m.byKey, s.Key())
	delete(m.byDiscr, s.localDiscr)
	if l, ok := m.listeners[listenKey{s.cfg.Local, s.cfg.Interface}]; ok {
		m.release(l)
	}
}

// newDiscr picks a random non-zero discriminator not in use, so that a
// restarted daemon is unlikely to reuse the one the peer remembers; it
// says whether the session offers the frugal mode (see offersFrugal).
// Called with m.mu held.
func (m *Manager) newDiscr(frugal bool) uint32 {
	for {
		d := randomDiscr(frugal)
		if _, used := m.byDiscr[d]; !used {
			return d
		}
	}
}

// acquire returns the listener for a local address and interface, opening
// it on first use. Called with m.mu held.
func (m *Manager) acquire(k listenKey) (*listener, error) {
	if l, ok := m.listeners[k]; ok {
		l.refs++
		return l, nil
	}
	c, err := listenUDP(k.local, k.iface)
	if err != nil {
		return nil, err
	}
	l := &listener{key: k, conn: c, refs: 1}
	m.listeners[k] = l
	m.wg.Go(func() { m.serve(l) })
	return l, nil
}

// release closes a listener nobody uses; its serve goroutine then ends.
// Called with m.mu held.
func (m *Manager) release(l *listener) {
	if l.refs--; l.refs > 0 {
		return
	}
	delete(m.listeners, l.key)
	if err := l.conn.Close(); err != nil {
		m.log.Debug("bfd close listener", "local", l.key.local, "err", err)
	}
}

func (m *Manager) serve(l *listener) {
	buf := make([]byte, 1500)
	for {
		n, ttl, src, at, err := l.conn.ReadFrom(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			// Transient (ENOBUFS and the like); pause so a persistent
			// error cannot spin a core.
			m.log.Debug("bfd read", "local", l.key.local, "err", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		l.taken.Add(1)
		m.dispatch(l.key, buf[:n], ttl, src, at)
	}
}

// dispatch validates a datagram and hands it to its session (§6.8.6 demux).
func (m *Manager) dispatch(k listenKey, b []byte, ttl int, src netip.Addr, at time.Time) {
	if ttl != ttlGTSM {
		m.badTTL.Add(1)
		return
	}
	p, err := Unmarshal(b)
	if err != nil {
		m.invalid.Add(1)
		m.log.Debug("bfd invalid packet", "peer", src, "interface", k.iface, "err", err)
		return
	}
	s := m.lookup(k, p.YourDiscr, src)
	if s == nil {
		m.noSession.Add(1)
		return
	}
	s.deliver(rxPacket{p: p, at: at})
}

// lookup finds the session by our discriminator when the peer knows it,
// else by peer address and interface. A discriminator match must also come
// from the session's peer on its interface, so a stray packet cannot keep
// another tunnel's session up.
func (m *Manager) lookup(k listenKey, yourDiscr uint32, src netip.Addr) *Session {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if yourDiscr == 0 {
		return m.byKey[Key{Interface: k.iface, Peer: src}]
	}
	s := m.byDiscr[yourDiscr]
	if s == nil || s.cfg.Peer != src || s.cfg.Interface != k.iface {
		return nil
	}
	return s
}
