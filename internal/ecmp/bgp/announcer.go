package bgp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/server"
)

// AnnouncerConfig is the desired state of an Announcer's server and
// sessions; what it announces is given to Set.
type AnnouncerConfig struct {
	ASN      uint32
	RouterID netip.Addr // an IPv4 address

	// Peers are the receivers (e.g. the LAN router). The announcer dials
	// them and never listens. Every session carries both ipv4-unicast and
	// ipv6-unicast whatever the neighbor's own family, as exabgp's did.
	Peers []Peer

	// Timers are whole seconds. Defaults: hold 90 s, keepalive hold/3,
	// connect retry 1 s. Not the speaker's 9 s: GoBGP packs the whole table
	// for a session coming up before it writes anything,
	// keepalives included; for the 998 k table that took more than 9 s on
	// a loaded machine and BIRD ended the session (hold timer expired), over
	// and over. Failure detection is the gateway probe's job, not this
	// session's.
	HoldTime, Keepalive, ConnectRetry time.Duration
}

const defaultAnnouncerHoldTime = 90 * time.Second

// Announcer announces one large prefix set with an explicit next hop per
// family to receiving peers: the job exabgp did for breakout prefixes. It
// is a second, separate embedded GoBGP server; its methods are safe for
// concurrent use and serialised.
type Announcer struct {
	log *slog.Logger
	// perPath adds paths with one AddPath call each instead of in lists:
	// only to measure one against the other.
	perPath bool

	mu  sync.Mutex
	run *announcing // nil while stopped
}

// announcing is the state of a started announcer.
type announcing struct {
	srv   *server.BgpServer
	serve *serveLoop
	cfg   AnnouncerConfig // with defaults
	// stopWatch ends the peer-state watcher; watching is set once it
	// runs, as its unregistration is an operation shutdown must let through.
	stopWatch context.CancelFunc
	watching  bool
	book      *peerBook

	// v4 and v6 are what GoBGP's RIB holds, as reached.
	v4, v6 announcedSet
	last   setRecord
}

// setRecord is what Status shows of the last Set or Withdraw.
type setRecord struct {
	at               time.Time
	took             time.Duration
	added, withdrawn int
	reset            bool
	err              string
}

// NewAnnouncer returns a stopped announcer that logs to log.
func NewAnnouncer(log *slog.Logger) *Announcer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Announcer{log: log}
}

// speakerConfig maps the announcer's settings onto the speaker's, whose
// defaults and validation it shares: no listener, and nothing originated
// or accepted through Config (paths come from Set, nothing is accepted).
func (c AnnouncerConfig) speakerConfig() Config {
	return Config{
		ASN: c.ASN, RouterID: c.RouterID, ListenPort: -1, Peers: c.Peers,
		HoldTime: c.HoldTime, Keepalive: c.Keepalive, ConnectRetry: c.ConnectRetry,
	}
}

// Start validates c (errors wrap ErrConfig), starts the server and dials
// the peers. Nothing is announced until Set. On error nothing is left
// running.
func (a *Announcer) Start(ctx context.Context, c AnnouncerConfig) error {
	if c.HoldTime == 0 {
		c.HoldTime = defaultAnnouncerHoldTime
	}
	sc := c.speakerConfig().withDefaults()
	if err := sc.validate(); err != nil {
		return err
	}
	c.Peers, c.RouterID = sc.Peers, sc.RouterID
	c.HoldTime, c.Keepalive, c.ConnectRetry = sc.HoldTime, sc.Keepalive, sc.ConnectRetry
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.run != nil {
		return errors.New("start bgp announcer: already started")
	}
	r, err := a.start(ctx, c, sc)
	if err != nil {
		return fmt.Errorf("start bgp announcer: %w", err)
	}
	a.run = r
	a.log.Info("bgp announcer started", "asn", c.ASN, "router_id", c.RouterID, "peers", len(c.Peers))
	return nil
}

func (a *Announcer) start(ctx context.Context, c AnnouncerConfig, sc Config) (*announcing, error) {
	book := newPeerBook(c.Peers)
	loop := newServeLoop()
	srv := server.NewBgpServer(
		server.LoggerOption(slogAdapter{log: a.log, peerDown: book.peerDown, notified: book.notification}),
		server.TimingHookOption(loop))
	loop.serve(srv)
	r := &announcing{srv: srv, serve: loop, cfg: c, book: book, stopWatch: func() {}}
	if err := startBgp(ctx, loop, sc); err != nil {
		a.shutdown(r)
		return nil, err
	}
	if err := a.setup(ctx, r); err != nil {
		a.shutdown(r)
		return nil, err
	}
	return r, nil
}

// setup installs the policies (nothing accepted, only our own paths sent),
// the peer watcher and the peers.
func (a *Announcer) setup(ctx context.Context, r *announcing) error {
	if err := setExportPolicy(ctx, r.srv); err != nil {
		return err
	}
	if _, err := installImportPolicy(ctx, r.srv, 1, nil); err != nil {
		return err
	}
	if err := a.watch(r); err != nil {
		return err
	}
	for _, p := range r.cfg.Peers {
		if err := addReceiver(ctx, r.srv, r.cfg, p); err != nil {
			return err
		}
	}
	return nil
}

// receiverPeer is a session to a receiver. Unlike the speaker's tunnel
// sessions there is no GTSM: a LAN router rarely has it on, and eBGP on a
// LAN sends TTL 1, which a minimum of 255 would drop.
func receiverPeer(c AnnouncerConfig, p Peer) *api.Peer {
	fams := []*api.Family{family(netip.IPv4Unspecified()), family(netip.IPv6Unspecified())}
	ap := &api.Peer{
		Conf:      &api.PeerConf{NeighborAddress: p.Address.String(), PeerAsn: p.ASN, Description: p.Name},
		Transport: &api.Transport{RemotePort: uint32(p.Port)},
		Timers: &api.Timers{Config: &api.TimersConfig{
			ConnectRetry:      uint64(c.ConnectRetry / time.Second),
			HoldTime:          uint64(c.HoldTime / time.Second),
			KeepaliveInterval: uint64(c.Keepalive / time.Second),
		}},
	}
	for _, f := range fams {
		ap.AfiSafis = append(ap.AfiSafis, &api.AfiSafi{Config: &api.AfiSafiConfig{Family: f, Enabled: true}})
	}
	if p.Local.IsValid() {
		ap.Transport.LocalAddress = p.Local.String()
	}
	return ap
}

func addReceiver(ctx context.Context, srv *server.BgpServer, c AnnouncerConfig, p Peer) error {
	if err := srv.AddPeer(ctx, &api.AddPeerRequest{Peer: receiverPeer(c, p)}); err != nil {
		return fmt.Errorf("add peer %s (%v): %w", p.Name, p.Address, err)
	}
	return nil
}

// watch logs peer state changes; GoBGP's own lines go to debug.
func (a *Announcer) watch(r *announcing) error {
	ctx, cancel := context.WithCancel(context.Background())
	req := &api.WatchEventRequest{Peer: &api.WatchEventRequest_Peer{}}
	err := r.srv.WatchEvent(ctx, req, func(ev *api.WatchEventResponse) {
		pe := ev.GetPeer()
		if pe == nil || pe.Type != api.WatchEventResponse_PeerEvent_STATE {
			return
		}
		addr, _ := netip.ParseAddr(pe.GetPeer().GetState().GetNeighborAddress())
		addr = addr.Unmap()
		state := sessionState(pe.GetPeer().GetState().GetSessionState())
		name, lastErr, wentDown := r.book.transition(addr, state, time.Now())
		attrs := []any{"peer", name, "peer_address", addr, "state", state}
		if state != stateEstablished && lastErr != "" {
			attrs = append(attrs, "err", lastErr)
		}
		a.log.Info("bgp announcer peer state", attrs...)
		if wentDown {
			go a.rearm(r, addr)
		}
	})
	if err != nil {
		cancel()
		return fmt.Errorf("watch events: %w", err)
	}
	r.stopWatch, r.watching = cancel, true
	return nil
}

// rearm re-creates a receiver's session that just went down, as the
// speaker does (see Speaker.rearm): GoBGP would hold it idle for 5 s, so a
// restarted LAN router would wait 6–7 s for the table instead of 1–2 s.
func (a *Announcer) rearm(r *announcing, addr netip.Addr) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.run != r {
		return
	}
	p, admin, ok := downPeer(r.srv, r.cfg.Peers, addr)
	if !ok || admin != api.PeerState_UP {
		return
	}
	err := r.srv.DeletePeer(context.Background(), &api.DeletePeerRequest{Address: addr.String()})
	if err == nil {
		err = addReceiver(context.Background(), r.srv, r.cfg, p)
	}
	if err != nil {
		a.log.Warn("re-create bgp announcer peer after session loss", "peer", p.Name, "err", err)
		return
	}
	a.log.Debug("bgp announcer peer re-created to skip idle hold", "peer", p.Name)
}

// Stop ends every session with a CEASE, so receivers drop the announced
// routes at once, and stops the server.
func (a *Announcer) Stop(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.run == nil {
		return nil
	}
	err := a.shutdown(a.run)
	a.run = nil
	a.log.Info("bgp announcer stopped")
	return err
}

// shutdown stops a server and ends its goroutines (see serveLoop).
func (a *Announcer) shutdown(r *announcing) error {
	r.serve.retire()
	mark := r.serve.mgmtOps.Load()
	r.stopWatch()
	// Stop is StopBgp (there is no gRPC server); it reports no error.
	r.srv.Stop()
	var err error
	pending := int64(stopBgpOps)
	if r.watching {
		pending++
	}
	if !r.serve.end(mark, pending, stopWait) {
		a.log.Debug("bgp server loop left running", "reason", "pending operations not seen")
	}
	return err
}
