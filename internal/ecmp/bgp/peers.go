package bgp

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/server"
)

// PeerState is what status shows of one session.
type PeerState struct {
	Name        string     `json:"name"`
	Address     netip.Addr `json:"address"`
	Family      string     `json:"family"` // "ipv4-unicast" or "ipv6-unicast", by the neighbor address
	State       string     `json:"state"`  // "idle", "connect", "active", "opensent", "openconfirm", "established"
	Established bool       `json:"established"`
	// Since is when the session came up if established, else when it last
	// went down (zero if it never was up).
	Since    time.Time `json:"since,omitzero"`
	Received uint32    `json:"prefixes_received"` // before the import filter
	Accepted uint32    `json:"prefixes_accepted"` // that passed the import filter
	// LastError says why the session is or last went down: "max-prefix 3
	// exceeded", "hold-timer-expired", "notification-received cease/...".
	LastError string `json:"last_error,omitempty"`
	// Note names the likely cause of a session stuck before established
	// (see stallNote): a GTSM, AS, address or password mismatch.
	Note string `json:"note,omitempty"`
}

const stateEstablished = "established"

// sessionStates names GoBGP's session states the way status prints them.
var sessionStates = map[api.PeerState_SessionState]string{
	api.PeerState_UNKNOWN:     "unknown",
	api.PeerState_IDLE:        "idle",
	api.PeerState_CONNECT:     "connect",
	api.PeerState_ACTIVE:      "active",
	api.PeerState_OPENSENT:    "opensent",
	api.PeerState_OPENCONFIRM: "openconfirm",
	api.PeerState_ESTABLISHED: stateEstablished,
}

func sessionState(s api.PeerState_SessionState) string {
	if name, ok := sessionStates[s]; ok {
		return name
	}
	return strings.ToLower(s.String())
}

// family is the one address family a session carries: that of its
// neighbor address, since each tunnel runs one session per family.
func family(a netip.Addr) *api.Family {
	if a.Is4() {
		return &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}
	}
	return &api.Family{Afi: api.Family_AFI_IP6, Safi: api.Family_SAFI_UNICAST}
}

func familyName(a netip.Addr) string {
	if a.Is4() {
		return "ipv4-unicast"
	}
	return "ipv6-unicast"
}

// peerSpec is everything that, when changed, needs the session re-created.
type peerSpec struct {
	Local                          netip.Addr
	ASN                            uint32
	Port                           int
	Passive                        bool
	HoldTime, Keepalive, ConnRetry time.Duration
	MaxPrefixes                    uint32
	Password                       string
	NoGTSM                         bool
}

func specOf(c Config, p Peer) peerSpec {
	return peerSpec{p.Local, p.ASN, p.Port, c.Passive, c.HoldTime, c.Keepalive, c.ConnectRetry, c.MaxPrefixes, c.Password,
		c.DisableTTLSecurity}
}

func apiPeer(c Config, p Peer) *api.Peer {
	ap := &api.Peer{
		Conf: &api.PeerConf{
			NeighborAddress: p.Address.String(),
			PeerAsn:         p.ASN,
			Description:     p.Name,
			AuthPassword:    c.Password,
		},
		Transport: &api.Transport{
			PassiveMode: c.Passive,
			RemotePort:  uint32(p.Port),
		},
		Timers: &api.Timers{Config: &api.TimersConfig{
			ConnectRetry:      uint64(c.ConnectRetry / time.Second),
			HoldTime:          uint64(c.HoldTime / time.Second),
			KeepaliveInterval: uint64(c.Keepalive / time.Second),
		}},
		AfiSafis: []*api.AfiSafi{{
			Config:       &api.AfiSafiConfig{Family: family(p.Address), Enabled: true},
			PrefixLimits: &api.PrefixLimit{Family: family(p.Address), MaxPrefixes: c.MaxPrefixes},
		}},
	}
	// GTSM (RFC 5082): the session is one hop over the tunnel, so both
	// ends send TTL 255 and drop anything that came from further. Off,
	// GoBGP sends eBGP's TTL 1.
	if !c.DisableTTLSecurity {
		ap.TtlSecurity = &api.TtlSecurity{Enabled: true, TtlMin: 255}
	}
	if p.Local.IsValid() {
		ap.Transport.LocalAddress = p.Local.String()
	}
	return ap
}

func addPeer(ctx context.Context, srv *server.BgpServer, c Config, p Peer) error {
	if err := srv.AddPeer(ctx, &api.AddPeerRequest{Peer: apiPeer(c, p)}); err != nil {
		return fmt.Errorf("add peer %s (%v): %w", p.Name, p.Address, err)
	}
	return nil
}

func deletePeer(ctx context.Context, srv *server.BgpServer, p Peer) error {
	if err := srv.DeletePeer(ctx, &api.DeletePeerRequest{Address: p.Address.String()}); err != nil {
		return fmt.Errorf("delete peer %s (%v): %w", p.Name, p.Address, err)
	}
	return nil
}

// applyPeers reconciles the sessions to c.Peers, keyed by neighbor address
// (GoBGP's own key): a rename only relabels, a changed session setting
// re-creates that session alone. New peers are added before old ones are
// removed. It returns the peers actually configured.
func (s *Speaker) applyPeers(ctx context.Context, r *running, c Config) ([]Peer, error) {
	have := map[netip.Addr]Peer{}
	for _, p := range r.cfg.Peers {
		have[p.Address] = p
	}
	var reached []Peer
	var errs []error
	for _, p := range c.Peers {
		old, ok := have[p.Address]
		delete(have, p.Address)
		if ok && specOf(r.cfg, old) == specOf(c, p) {
			reached = append(reached, p)
			continue
		}
		if ok {
			if err := deletePeer(ctx, r.srv, old); err != nil {
				errs = append(errs, err)
				reached = append(reached, old)
				continue
			}
		}
		if err := addPeer(ctx, r.srv, c, p); err != nil {
			errs = append(errs, err)
			continue
		}
		r.book.restart(p.Address, time.Now())
		s.log.Info("bgp peer configured", "peer", p.Name, "peer_address", p.Address, "replaced", ok)
		reached = append(reached, p)
	}
	for _, old := range sortedPeers(have) {
		if err := deletePeer(ctx, r.srv, old); err != nil {
			errs = append(errs, err)
			reached = append(reached, old)
			continue
		}
		s.log.Info("bgp peer removed", "peer", old.Name, "peer_address", old.Address)
	}
	r.book.setPeers(reached)
	return reached, errors.Join(errs...)
}

func sortedPeers(m map[netip.Addr]Peer) []Peer {
	l := make([]Peer, 0, len(m))
	for _, p := range m {
		l = append(l, p)
	}
	slices.SortFunc(l, func(a, b Peer) int { return a.Address.Compare(b.Address) })
	return l
}

// Peers reports every configured session, sorted by name. It is empty while
// the speaker is stopped.
func (s *Speaker) Peers(ctx context.Context) []PeerState {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.run == nil {
		return nil
	}
	states := map[netip.Addr]PeerState{}
	err := s.run.srv.ListPeer(ctx, &api.ListPeerRequest{}, func(p *api.Peer) {
		st := s.peerState(p)
		states[st.Address] = st
	})
	if err != nil {
		s.log.Debug("list bgp peers", "err", err)
	}
	accepted, err := s.acceptedPaths(ctx)
	if err != nil {
		s.log.Debug("list bgp routes", "err", err)
	}
	out := make([]PeerState, 0, len(s.run.cfg.Peers))
	for _, p := range s.run.cfg.Peers {
		st, ok := states[p.Address]
		if !ok {
			st = PeerState{Address: p.Address, Family: familyName(p.Address), State: "unknown"}
		}
		st.Name = p.Name
		if st.Established {
			st.Accepted = uint32(len(accepted[p.Address]))
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b PeerState) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// peerState converts GoBGP's view of one peer; Name and Accepted are left
// to the caller.
func (s *Speaker) peerState(p *api.Peer) PeerState {
	addr, _ := netip.ParseAddr(p.GetState().GetNeighborAddress())
	addr = addr.Unmap()
	st := PeerState{
		Address: addr,
		Family:  familyName(addr),
		State:   sessionState(p.GetState().GetSessionState()),
	}
	st.Established = st.State == stateEstablished
	var downSince time.Time
	_, st.LastError, downSince = s.run.book.get(addr)
	if st.Established {
		st.Since = p.GetTimers().GetState().GetUptime().AsTime()
	} else {
		st.Since = downSince
	}
	for _, af := range p.GetAfiSafis() {
		st.Received += uint32(af.GetState().GetReceived())
	}
	if p.GetState().GetAdminState() == api.PeerState_PFX_CT {
		st.LastError = fmt.Sprintf("max-prefix %d exceeded", s.run.cfg.MaxPrefixes)
		return st
	}
	c := s.run.cfg
	sl := s.run.book.stall(addr, st.State, time.Now())
	sl.Hold, sl.Keepalive, sl.GTSM, sl.Password = c.HoldTime, c.Keepalive, !c.DisableTTLSecurity, c.Password != ""
	sl.LocalASN, sl.PeerASN = c.ASN, p.GetConf().GetPeerAsn()
	st.Note = stallNote(sl)
	return st
}

// rearm re-creates a peer whose session just went down. GoBGP holds a
// dropped session idle for a fixed 5 s (refusing the far side's connections
// meanwhile) before it dials again; a new peer dials at once (the patch in
// third_party/gobgp), so a restarted hub or edge is back as soon as it
// listens, or within a retry (1–2 s), instead of 6–7 s. A peer stopped by
// its prefix limit is re-created only after MaxPrefixRestart (never when
// zero), or it would flap.
func (s *Speaker) rearm(r *running, addr netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.run != r {
		return
	}
	p, admin, ok := downPeer(r.srv, r.cfg.Peers, addr)
	switch {
	case !ok:
		return
	case admin == api.PeerState_PFX_CT:
		s.restartLater(r, p)
		return
	case admin != api.PeerState_UP:
		return
	}
	if err := s.recreate(r, p); err != nil {
		s.log.Warn("re-create bgp peer after session loss", "peer", p.Name, "err", err)
		return
	}
	s.log.Debug("bgp peer re-created to skip idle hold", "peer", p.Name)
}

// recreate deletes and adds p again: a new GoBGP peer dials at once, with
// its admin state up. Called with s.mu held.
func (s *Speaker) recreate(r *running, p Peer) error {
	err := deletePeer(context.Background(), r.srv, p)
	if err == nil {
		err = addPeer(context.Background(), r.srv, r.cfg, p)
	}
	return err
}

// restartLater starts a peer stopped by its prefix limit again after
// MaxPrefixRestart, if by then it is still stopped and the speaker still
// runs the same server. Called with s.mu held.
func (s *Speaker) restartLater(r *running, p Peer) {
	wait := r.cfg.MaxPrefixRestart
	if wait <= 0 {
		s.log.Warn("bgp peer stopped by its prefix limit: it stays down until a reload", "peer", p.Name,
			"max_prefixes", r.cfg.MaxPrefixes)
		return
	}
	s.log.Warn("bgp peer stopped by its prefix limit: restarting it later", "peer", p.Name,
		"max_prefixes", r.cfg.MaxPrefixes, "restart_in", wait)
	r.timers.after(wait, func() { s.restartLimited(r, p.Address) })
}

func (s *Speaker) restartLimited(r *running, addr netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.run != r {
		return
	}
	p, admin, ok := downPeer(r.srv, r.cfg.Peers, addr)
	if !ok || admin != api.PeerState_PFX_CT {
		return // Apply re-created it meanwhile, or it is gone
	}
	if err := s.recreate(r, p); err != nil {
		s.log.Warn("restart bgp peer after its prefix limit", "peer", p.Name, "err", err)
		return
	}
	s.log.Info("bgp peer restarted after its prefix limit", "peer", p.Name)
}

// timerSet holds a running speaker's pending restarts, stopped with it.
type timerSet struct {
	mu      sync.Mutex
	stopped bool
	timers  []*time.Timer
}

func (t *timerSet) after(d time.Duration, f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	t.timers = append(t.timers, time.AfterFunc(d, f))
}

func (t *timerSet) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stopped = true
	for _, tm := range t.timers {
		tm.Stop()
	}
	t.timers = nil
}

// peerBook holds what GoBGP's own goroutines need about peers: names for
// the watcher's log lines, and the last reason a session went down, which
// GoBGP reports only in its "Peer Down" log line.
type peerBook struct {
	mu        sync.Mutex
	names     map[netip.Addr]string
	lastErr   map[netip.Addr]string
	up        map[netip.Addr]bool
	downSince map[netip.Addr]time.Time // survives the re-creation by rearm
	stretches map[netip.Addr]*stretch  // the span each session is not established (stall.go)
}

func newPeerBook(peers []Peer) *peerBook {
	b := &peerBook{
		lastErr:   map[netip.Addr]string{},
		up:        map[netip.Addr]bool{},
		downSince: map[netip.Addr]time.Time{},
		stretches: map[netip.Addr]*stretch{},
	}
	b.setPeers(peers)
	return b
}

func (b *peerBook) setPeers(peers []Peer) {
	names := make(map[netip.Addr]string, len(peers))
	for _, p := range peers {
		names[p.Address] = p.Name
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.names = names
	now := time.Now()
	for a := range names {
		if b.stretches[a] == nil {
			b.stretches[a] = &stretch{since: now, stateSince: now}
		}
	}
	for a := range b.stretches {
		if _, ok := names[a]; !ok {
			delete(b.stretches, a)
		}
	}
}

func (b *peerBook) get(a netip.Addr) (name, lastErr string, downSince time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.names[a], b.lastErr[a], b.downSince[a]
}

// transition records a session state and tells whether the session just
// left established.
func (b *peerBook) transition(a netip.Addr, state string, now time.Time) (name, lastErr string, wentDown bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	up := state == stateEstablished
	wentDown = b.up[a] && !up
	if wentDown {
		b.downSince[a] = now
	}
	b.step(a, state, wentDown, now)
	b.up[a] = up
	return b.names[a], b.lastErr[a], wentDown
}

func (b *peerBook) peerDown(addr, reason string) {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lastErr[a.Unmap()] = reason
}

// downPeer returns the configured peer at addr and its admin state if
// GoBGP holds its session idle: one that just dropped (admin state up),
// which rearm re-creates rather than wait out GoBGP's idle hold, or one
// stopped by its prefix limit (PFX_CT).
func downPeer(srv *server.BgpServer, peers []Peer, addr netip.Addr) (Peer, api.PeerState_AdminState, bool) {
	i := slices.IndexFunc(peers, func(p Peer) bool { return p.Address == addr })
	if i < 0 {
		return Peer{}, 0, false
	}
	idle, admin := false, api.PeerState_UP
	srv.ListPeer(context.Background(), &api.ListPeerRequest{Address: addr.String()}, func(ap *api.Peer) {
		st := ap.GetState()
		idle, admin = st.GetSessionState() == api.PeerState_IDLE, st.GetAdminState()
	})
	return peers[i], admin, idle
}
