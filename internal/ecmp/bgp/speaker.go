package bgp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/server"
)

// Speaker is one embedded GoBGP server. Its methods are safe for concurrent
// use; Start, Apply and Stop are serialised.
type Speaker struct {
	log     *slog.Logger
	changes chan struct{}

	mu  sync.RWMutex
	run *running // nil while stopped
	// export is what SetExport asked for, applied to every server
	// started.
	export map[netip.Addr]Export
}

// running is the state of a started speaker.
type running struct {
	srv    *server.BgpServer
	serve  *serveLoop
	cancel context.CancelFunc // ends the watch goroutine
	cfg    Config             // as applied, with defaults
	policy importPolicy
	export exportGen // what the export policy adds, to whom
	book   *peerBook // names and last errors, shared with GoBGP's goroutines
	timers timerSet  // pending restarts of peers stopped by their prefix limit
	// watching is set once the watcher runs: its unregistration is a
	// management operation that shutdown must let through.
	watching bool
}

// ErrNotStarted is returned by Apply on a speaker that is not running.
var ErrNotStarted = errors.New("bgp speaker not started")

// ErrMPTCPListener is returned by Start when the speaker would listen while
// Go's listeners default to Multipath TCP (Go 1.24 and later): Linux
// refuses IP_TTL on an MPTCP socket, so GoBGP's listener answers with the
// default TTL and the far side's GTSM check (minimum TTL 255) drops every
// SYN-ACK: sessions time out with no error anywhere. The main package must
// turn the default off: `godebug multipathtcp=0` in go.mod, or a
// `//go:debug multipathtcp=0` line in package main and in tests.
var ErrMPTCPListener = errors.New("bgp listener would use multipath tcp, which breaks ttl security: build with godebug multipathtcp=0")

// stopWait bounds how long Stop waits for GoBGP's last management
// operations before leaving its Serve goroutine behind.
const stopWait = 2 * time.Second

// New returns a stopped speaker that logs to log.
func New(log *slog.Logger) *Speaker {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Speaker{log: log, changes: make(chan struct{}, 1)}
}

// Changes delivers a token after any peer state or best-path change, and
// after Start, Apply and Stop. Tokens coalesce: one pending token stands for
// any number of changes, so a reader must re-read Peers and Routes.
func (s *Speaker) Changes() <-chan struct{} { return s.changes }

func (s *Speaker) notify() {
	select {
	case s.changes <- struct{}{}:
	default:
	}
}

// Start validates c and starts the server, its peers and its announcements.
// On error nothing is left running.
func (s *Speaker) Start(ctx context.Context, c Config) error {
	c = c.withDefaults()
	if err := c.validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.run != nil {
		return errors.New("start bgp speaker: already started")
	}
	r, err := s.start(ctx, c)
	if err != nil {
		return fmt.Errorf("start bgp speaker: %w", err)
	}
	s.run = r
	s.log.Info("bgp speaker started", "asn", c.ASN, "router_id", c.RouterID,
		"listen_port", c.ListenPort, "peers", len(c.Peers))
	s.notify()
	return nil
}

// start brings up a server for a valid config; it undoes itself on error.
func (s *Speaker) start(ctx context.Context, c Config) (*running, error) {
	if c.ListenPort >= 0 && new(net.ListenConfig).MultipathTCP() {
		return nil, ErrMPTCPListener
	}
	book := newPeerBook(c.Peers)
	loop := newServeLoop()
	opts := []server.ServerOption{
		server.LoggerOption(slogAdapter{log: s.log, peerDown: book.peerDown, notified: book.notification}),
		server.TimingHookOption(loop)}
	if c.GRPC != "" {
		opts = append(opts, server.GrpcListenAddress(c.GRPC))
	}
	srv := server.NewBgpServer(opts...)
	loop.serve(srv)
	r := &running{srv: srv, serve: loop, cancel: func() {}, book: book}

	if err := startBgp(ctx, loop, c); err != nil {
		s.shutdown(r)
		return nil, fmt.Errorf("listen on port %d: %w", c.ListenPort, err)
	}
	err := s.setup(ctx, r, c)
	if err != nil {
		s.shutdown(r)
		return nil, err
	}
	return r, nil
}

// setup installs policy, the watcher, peers and announcements on a started
// server.
func (s *Speaker) setup(ctx context.Context, r *running, c Config) error {
	if err := setExportPolicy(ctx, r.srv); err != nil {
		return err
	}
	p, err := installImportPolicy(ctx, r.srv, 1, acceptGroups(c))
	if err != nil {
		return err
	}
	r.policy = p
	if err := s.watch(r); err != nil {
		return err
	}
	for _, p := range c.Peers {
		if err := addPeer(ctx, r.srv, c, p); err != nil {
			return err
		}
	}
	if err := announce(ctx, r.srv, c.Originate); err != nil {
		return err
	}
	r.cfg = c
	// A restarted server starts from the plain export policy: the marks
	// asked for go in before its sessions come up, no reset needed.
	return s.applyExport(ctx, r, false)
}

func globalConfig(c Config) *api.Global {
	addrs := make([]string, len(c.ListenAddrs))
	for i, a := range c.ListenAddrs {
		addrs[i] = a.String()
	}
	return &api.Global{
		Asn:             c.ASN,
		RouterId:        c.RouterID.String(),
		ListenPort:      int32(c.ListenPort),
		ListenAddresses: addrs,
		// Multipath makes GoBGP report a change of the equal-cost set
		// (a second tunnel's path), not only of the single best path.
		UseMultiplePaths: true,
	}
}

// watch turns GoBGP's peer and best-path events into Changes tokens.
func (s *Speaker) watch(r *running) error {
	ctx, cancel := context.WithCancel(context.Background())
	req := &api.WatchEventRequest{
		Peer: &api.WatchEventRequest_Peer{},
		Table: &api.WatchEventRequest_Table{Filters: []*api.WatchEventRequest_Table_Filter{
			{Type: api.WatchEventRequest_Table_Filter_BEST, Init: true},
		}},
	}
	err := r.srv.WatchEvent(ctx, req, func(ev *api.WatchEventResponse) {
		if pe := ev.GetPeer(); pe != nil && pe.Type == api.WatchEventResponse_PeerEvent_STATE {
			s.onPeerEvent(r, pe.GetPeer())
		}
		s.notify()
	})
	if err != nil {
		cancel()
		return fmt.Errorf("watch events: %w", err)
	}
	r.cancel, r.watching = cancel, true
	return nil
}

// onPeerEvent runs on GoBGP's watcher goroutine, hence the peer book with
// its own lock rather than the speaker's config.
func (s *Speaker) onPeerEvent(r *running, p *api.Peer) {
	addr, _ := netip.ParseAddr(p.GetState().GetNeighborAddress())
	addr = addr.Unmap()
	state := sessionState(p.GetState().GetSessionState())
	name, lastErr, wasUp := r.book.transition(addr, state, time.Now())
	attrs := []any{"peer", name, "peer_address", addr, "state", state}
	if state != stateEstablished && lastErr != "" {
		attrs = append(attrs, "err", lastErr)
	}
	s.log.Info("bgp peer state", attrs...)
	if wasUp && state != stateEstablished {
		go s.rearm(r, addr)
	}
	if state == stateEstablished {
		go s.quiet(r, addr)
	}
}

// quiet turns TCP keep-alive off on an established session's socket (see
// quietKeepalives).
func (s *Speaker) quiet(r *running, addr netip.Addr) {
	// r.cfg is Apply's to change, under s.mu.
	s.mu.RLock()
	port, listen := bgpPort, r.cfg.ListenPort
	for _, p := range r.cfg.Peers {
		if p.Address == addr && p.Port != 0 {
			port = p.Port
		}
	}
	s.mu.RUnlock()
	n, err := quietKeepalives(addr, port, listen)
	if err != nil {
		s.log.Debug("bgp tcp keep-alive off", "peer_address", addr, "err", err)
		return
	}
	s.log.Debug("bgp tcp keep-alive off", "peer_address", addr, "sockets", n)
}

// Stop ends every session with a NOTIFICATION (CEASE, peer de-configured),
// so that the far side withdraws at once, then stops the server.
func (s *Speaker) Stop(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.run == nil {
		return nil
	}
	err := s.shutdown(s.run)
	s.run = nil
	s.log.Info("bgp speaker stopped")
	s.notify()
	return err
}

// shutdown stops a server and ends its goroutines.
func (s *Speaker) shutdown(r *running) error {
	r.timers.stop()
	r.serve.retire()
	mark := r.serve.mgmtOps.Load()
	r.cancel()
	err := r.srv.StopBgp(context.Background(), &api.StopBgpRequest{})
	if err != nil {
		err = fmt.Errorf("stop bgp server: %w", err)
	}
	pending := int64(stopBgpOps)
	if r.watching {
		pending++ // the watcher's unregistration
	}
	if !r.serve.end(mark, pending, stopWait) {
		s.log.Debug("bgp server loop left running", "reason", "pending operations not seen")
	}
	return err
}

// Apply reconciles a running speaker to c: peers are added, removed or
// re-created (only those whose session settings changed), announcements
// and the import filter are updated in place. A change of ASN, router id or
// listening sockets restarts the whole server. On error the speaker keeps
// what it reached and the error lists what failed.
func (s *Speaker) Apply(ctx context.Context, c Config) error {
	c = c.withDefaults()
	if err := c.validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.run == nil {
		return ErrNotStarted
	}
	defer s.notify()
	if globalChanged(s.run.cfg, c) {
		s.log.Info("bgp speaker restarting", "reason", "global settings changed")
		s.shutdown(s.run)
		s.run = nil
		r, err := s.start(ctx, c)
		if err != nil {
			return fmt.Errorf("restart bgp speaker: %w", err)
		}
		s.run = r
		return nil
	}
	return s.reconcile(ctx, s.run, c)
}

func globalChanged(a, b Config) bool {
	return a.ASN != b.ASN || a.RouterID != b.RouterID || a.ListenPort != b.ListenPort ||
		!slices.Equal(a.ListenAddrs, b.ListenAddrs) || a.GRPC != b.GRPC
}

// reconcile applies the policy, peer and announcement differences; r.cfg
// ends as the state reached.
func (s *Speaker) reconcile(ctx context.Context, r *running, c Config) error {
	var errs []error
	if err := s.applyAccept(ctx, r, c); err != nil {
		errs = append(errs, err)
	} else {
		r.cfg.Accept = c.Accept
	}
	peers, err := s.applyPeers(ctx, r, c)
	r.cfg.Peers = peers
	if err != nil {
		errs = append(errs, err)
	}
	originated, err := applyOriginate(ctx, r.srv, r.cfg.Originate, c.Originate)
	r.cfg.Originate = originated
	if err != nil {
		errs = append(errs, err)
	}
	r.cfg.Passive, r.cfg.HoldTime, r.cfg.Keepalive = c.Passive, c.HoldTime, c.Keepalive
	r.cfg.ConnectRetry, r.cfg.MaxPrefixes = c.ConnectRetry, c.MaxPrefixes
	r.cfg.MaxPrefixRestart, r.cfg.Password = c.MaxPrefixRestart, c.Password
	return errors.Join(errs...)
}
