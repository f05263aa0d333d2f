package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/uplinkd/uplinkd/internal/api"
	"github.com/uplinkd/uplinkd/internal/breakout/engine"
	"github.com/uplinkd/uplinkd/internal/budget"
	"github.com/uplinkd/uplinkd/internal/config"
	"github.com/uplinkd/uplinkd/internal/ecmp"
	"github.com/uplinkd/uplinkd/internal/inbound"
	"github.com/uplinkd/uplinkd/internal/nat"
	"github.com/uplinkd/uplinkd/internal/sdnotify"
	"github.com/uplinkd/uplinkd/internal/sla"
	"github.com/uplinkd/uplinkd/internal/wg"
)

// Intervals of the main loop. Kernel events trigger an apply at once; the
// timer only catches what no event reported.
const (
	resyncEvery = 10 * time.Second
	kickEvery   = 250 * time.Millisecond
)

// Daemon is one running site.
type Daemon struct {
	log     *slog.Logger
	level   *slog.LevelVar
	path    string
	started time.Time
	wg      *wg.Manager
	ecmp    *ecmp.Controller
	nat     *nat.Reconciler // forwarding and the nftables table, read back on a timer
	bo      *engine.Engine  // nil unless [breakout] is configured
	ann     *announcer      // nil unless [[breakout.peer]] lists receivers
	// annPeers are the receivers ann was started for.
	annPeers []config.BreakoutPeer
	// meter counts the carriers' data budgets (nil without any);
	// stopMeter ends its loop after a last save.
	meter     *budget.Meter
	stopMeter func()
	// sla probes each tunnel and judges it against [sla] (nil without).
	sla *sla.Monitor
	// slaThresholds: by tunnel interface, what its SLA probes judge (no
	// limit: they only measure, and get no ICMP echo where BFD cannot
	// carry them).
	slaThresholds map[string]sla.Thresholds

	ctx context.Context // the daemon's life, for what a reload starts

	mu        sync.Mutex
	cfg       *config.Config
	reloaded  time.Time
	reloadErr error
	// The inbound table: how often a read-back found it changed behind
	// our back (a firewall reload) and put it back, and the last error.
	inRepairs int
	inErr     error

	trim *trimmer // returns free heap to the kernel
}

// Run serves the site described by the file at path until ctx ends. hup
// delivers reload requests. level, when set, follows the config's log_level.
func Run(ctx context.Context, path string, hup <-chan os.Signal, log *slog.Logger, level *slog.LevelVar) error {
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	m, err := wg.NewManager(log)
	if err != nil {
		return err
	}
	d := &Daemon{log: log, level: level, path: path, started: time.Now(), wg: m, cfg: cfg, ctx: ctx,
		nat: nat.NewReconciler(nat.System{}, log)}
	d.setLevel(cfg)
	setMemoryLimit(cfg, log)
	SetGCPercent(log)
	d.trim = newTrimmer(log)
	go d.trim.run(ctx)
	srv, err := api.Listen(cfg.API.Socket, cfg.API.Group, d.status, d.explain, log)
	if err != nil {
		m.Close()
		return err
	}
	srv.HandleAccept(d.acceptBreakout)
	log.Info("uplinkd started", "role", cfg.Role, "site", cfg.Site, "config", path, "pid", os.Getpid())
	d.apply("start")
	if err := d.startRouting(ctx, cfg); err != nil {
		return errors.Join(err, srv.Close(), m.Close())
	}
	stopMetrics, err := serveMetrics(cfg.API, d.status, log)
	if err != nil {
		log.Warn("metrics not served", "addr", cfg.API.Metrics, "err", err)
	}
	summary := fmt.Sprintf("%s %s: %d tunnels", cfg.Role, cfg.Site, len(d.wg.Status()))
	notify(log, sdnotify.Ready, func() (bool, error) { return sdnotify.Status(summary) })
	d.loop(ctx, hup)
	notify(log, sdnotify.Stopping)
	stopMetrics()
	log.Info("stopping: withdrawing routes, removing tunnels, rules and NAT")
	stop, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d.stopBudget()
	d.stopSLA()
	return errors.Join(d.stopBreakout(), d.ecmp.Close(stop), d.nat.Close(), inbound.Remove(), srv.Close(), m.Close())
}

// startRouting turns forwarding on, sets up the hub's NAT and starts BGP,
// BFD and the ECMP reconciler over the tunnels that now exist.
func (d *Daemon) startRouting(ctx context.Context, cfg *config.Config) error {
	if err := d.nat.Apply(natFor(cfg)); err != nil {
		return err
	}
	go d.nat.Run(ctx, nat.ReadBackEvery)
	c, err := ecmp.Start(ctx, ecmp.PlanFrom(cfg), d.log, d.wg.LastHandshake)
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.ecmp = c
	d.mu.Unlock()
	d.syncBudget(ctx, cfg)
	d.syncSLA(cfg)
	return d.syncBreakout(ctx, cfg)
}

// syncBreakout starts, reconfigures or stops breakout to match cfg.
func (d *Daemon) syncBreakout(ctx context.Context, cfg *config.Config) error {
	d.mu.Lock()
	bo := d.bo
	d.mu.Unlock()
	switch {
	case bo != nil && cfg.Breakout.Enabled():
		an, err := d.reannounce(ctx, cfg)
		plan := BreakoutPlan(cfg)
		plan.OnState = d.onBreakoutState(an)
		err = errors.Join(err, bo.Apply(ctx, plan))
		if an != nil { // a new announcer starts from what is installed now
			an.onState(bo.State())
		}
		return err
	case bo != nil:
		return d.stopBreakout()
	case cfg.Breakout.Enabled():
		an, err := startAnnouncer(ctx, cfg, d.log.With("part", "announce"))
		if err != nil {
			return err
		}
		plan := BreakoutPlan(cfg)
		plan.OnState = d.onBreakoutState(an)
		e, err := engine.Start(ctx, plan, d.log.With("part", "breakout"))
		if err != nil {
			return errors.Join(err, an.stop())
		}
		d.mu.Lock()
		d.bo, d.ann, d.annPeers = e, an, cfg.Breakout.Peers
		d.mu.Unlock()
	}
	return nil
}

// onBreakoutState is the engine's OnState: the announcer (if any) follows
// the installed set, and ECMP's last resort the 5G router's health.
func (d *Daemon) onBreakoutState(an *announcer) func([]netip.Prefix, bool) {
	return func(installed []netip.Prefix, active bool) {
		if an != nil {
			an.onState(installed, active)
		}
		d.mu.Lock()
		ctl := d.ecmp
		d.mu.Unlock()
		if ctl != nil {
			ctl.SetBreakoutGateway(active)
		}
	}
}

// reannounce restarts the BGP announcer when the receivers changed, and
// returns the one in use.
func (d *Daemon) reannounce(ctx context.Context, cfg *config.Config) (*announcer, error) {
	d.mu.Lock()
	old, same := d.ann, fmt.Sprint(d.annPeers) == fmt.Sprint(cfg.Breakout.Peers)
	d.mu.Unlock()
	if same {
		return old, nil
	}
	err := old.stop()
	an, serr := startAnnouncer(ctx, cfg, d.log.With("part", "announce"))
	d.mu.Lock()
	d.ann, d.annPeers = an, cfg.Breakout.Peers
	d.mu.Unlock()
	return an, errors.Join(err, serr)
}

// stopBreakout removes breakout's rule and routes unless on_exit = "keep".
func (d *Daemon) stopBreakout() error {
	d.mu.Lock()
	bo, an, keep := d.bo, d.ann, d.cfg.ECMP.OnExit == "keep"
	d.bo, d.ann = nil, nil
	d.mu.Unlock()
	if bo == nil {
		return nil
	}
	return errors.Join(bo.Close(!keep), an.stop())
}

// natFor masquerades the edge's LAN and tunnel addresses out of the hub's
// public interface, and the LAN out of the edge's breakout link.
func natFor(cfg *config.Config) nat.Desired {
	switch {
	case cfg.Role == config.RoleHub:
		m := nat.Masquerade{Out: cfg.Hub.PublicInterface, Sources: cfg.BGP.Accept}
		for _, t := range cfg.Tunnels {
			for _, a := range t.Addresses {
				m.Sources = append(m.Sources, a.Masked())
			}
		}
		return nat.Desired{m}
	}
	var d nat.Desired
	if cfg.Breakout.Enabled() && cfg.Breakout.Interface != "" {
		d = append(d, nat.Masquerade{Out: cfg.Breakout.Interface, Sources: cfg.BGP.Originate})
	}
	if lr := cfg.ECMP.LastResort; lr != "" && lr != config.LastResortBreakout {
		// The last resort through a carrier: the LAN leaves by its link
		// without a tunnel, and the carrier knows no route back to it.
		for _, u := range cfg.Uplinks {
			if u.Name == lr {
				d = append(d, nat.Masquerade{Out: u.Interface, Sources: cfg.BGP.Originate})
			}
		}
	}
	return d
}

func (d *Daemon) loop(ctx context.Context, hup <-chan os.Signal) {
	links := make(chan netlink.LinkUpdate, 128)
	done := make(chan struct{})
	defer close(done)
	err := netlink.LinkSubscribeWithOptions(links, done, netlink.LinkSubscribeOptions{
		ErrorCallback: func(err error) { d.log.Warn("link events", "err", err) }})
	if err != nil {
		d.log.Warn("no link events: relying on the timer", "err", err)
	}
	resync := time.NewTicker(resyncEvery)
	defer resync.Stop()
	kick := time.NewTicker(kickEvery)
	defer kick.Stop()
	wd := sdnotify.NewPinger() // pinged from this loop: a hung loop gets restarted
	defer wd.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			d.reload()
		case u := <-links:
			boLink := false
			note := func(u netlink.LinkUpdate) { boLink = boLink || d.isBreakoutLink(u.Attrs().Name) }
			note(u)
			drain(links, note)
			d.apply("link " + u.Attrs().Name)
			if boLink {
				d.breakoutLinkChanged()
			}
		case <-resync.C:
			d.apply("timer")
		case <-wd.C():
			notify(d.log, sdnotify.Watchdog)
		case <-kick.C:
			for _, t := range d.wg.Kick(d.suspects()) {
				d.log.Debug("handshake kicked", "tunnel", t)
			}
		}
	}
}

// isBreakoutLink reports whether name is the running breakout's link.
func (d *Daemon) isBreakoutLink(name string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.bo != nil && name != "" && name == d.cfg.Breakout.Interface
}

// breakoutLinkChanged has breakout read its table back: a link that lost
// its carrier took the routes on its nexthop objects (engine.LinkChanged).
func (d *Daemon) breakoutLinkChanged() {
	d.mu.Lock()
	bo := d.bo
	d.mu.Unlock()
	if bo != nil {
		bo.LinkChanged()
	}
}

// suspects are the tunnels liveness calls dead.
func (d *Daemon) suspects() map[string]bool {
	d.mu.Lock()
	ctl := d.ecmp
	d.mu.Unlock()
	if ctl == nil {
		return nil
	}
	return ctl.DownTunnels()
}

// drain coalesces a burst of link events into one apply; note sees each.
func drain(ch <-chan netlink.LinkUpdate, note func(netlink.LinkUpdate)) {
	for {
		select {
		case u := <-ch:
			note(u)
		default:
			return
		}
	}
}

func (d *Daemon) apply(why string) {
	d.mu.Lock()
	cfg := d.cfg
	d.mu.Unlock()
	start := time.Now()
	r, err := d.wg.Apply(wg.FromConfig(cfg))
	if err != nil {
		d.log.Warn("reconcile incomplete", "trigger", why, "err", err)
	}
	d.applyInbound(cfg, why)
	if len(r.Changes) > 0 {
		d.log.Info("reconciled", "trigger", why, "changes", len(r.Changes), "took", time.Since(start).Round(time.Microsecond))
	}
}

// applyInbound reconciles the inbound table (published services and the
// firewall). On the timer nothing should differ: a change then is drift
// repaired, counted and logged.
func (d *Daemon) applyInbound(cfg *config.Config, why string) {
	changed, err := inbound.Apply(inbound.FromConfig(cfg))
	d.mu.Lock()
	d.inErr = err
	if changed && why == "timer" {
		d.inRepairs++
	}
	d.mu.Unlock()
	switch {
	case err != nil:
		d.log.Warn("inbound table", "err", err)
	case changed && why == "timer":
		d.log.Warn("inbound table repaired: it had been changed or removed outside uplinkd", "table", inbound.TableName)
	case changed:
		d.log.Info("changed", "what", "nftables table "+inbound.TableName, "trigger", why)
	}
}

// reload swaps in a new config only if it loads cleanly; otherwise the old
// one keeps running and the error says where the file is wrong.
func (d *Daemon) reload() {
	notify(d.log, sdnotify.Reloading)
	defer notify(d.log, sdnotify.Ready)
	cfg, err := config.Load(d.path)
	d.mu.Lock()
	d.reloadErr = err
	if err == nil {
		d.cfg, d.reloaded = cfg, time.Now()
	}
	d.mu.Unlock()
	if err != nil {
		d.log.Error("reload refused: keeping the running config", "config", d.path, "err", err)
		return
	}
	d.setLevel(cfg)
	setMemoryLimit(cfg, d.log)
	d.log.Info("config reloaded", "config", d.path)
	d.apply("reload")
	if err := d.nat.Apply(natFor(cfg)); err != nil {
		d.log.Warn("nat after reload", "err", err)
	}
	if err := d.ecmp.Apply(context.Background(), ecmp.PlanFrom(cfg)); err != nil {
		d.log.Warn("bgp after reload", "err", err)
	}
	d.syncBudget(d.ctx, cfg)
	d.syncSLA(cfg)
	if err := d.syncBreakout(d.ctx, cfg); err != nil {
		d.log.Warn("breakout after reload", "err", err)
	}
}

func (d *Daemon) setLevel(cfg *config.Config) {
	if d.level == nil {
		return
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(cfg.LogLevel)); err == nil {
		d.level.Set(l)
	}
}

func (d *Daemon) status() api.Status {
	d.mu.Lock()
	cfg, reloaded, reloadErr, ctl, bo, an := d.cfg, d.reloaded, d.reloadErr, d.ecmp, d.bo, d.ann
	in := inboundStatus(cfg, d.inRepairs, d.inErr)
	d.mu.Unlock()
	if counts, err := inbound.ReadCounts(); err == nil {
		in.DroppedPackets = counts.Dropped
		for i := range in.Published {
			in.Published[i].Connections = counts.Connections[in.Published[i].Name]
		}
	}
	s := api.Status{Role: string(cfg.Role), Site: cfg.Site, Started: d.started, Config: d.path,
		Tunnels: d.wg.Status(), Reloaded: reloaded, Memory: memoryStatus(d.trim), Inbound: in}
	if ctl != nil {
		e := ctl.Status(context.Background())
		s.ECMP = &e
	}
	if bo != nil {
		b := bo.Status()
		s.Breakout = &b
	}
	s.Announce = an.status(context.Background())
	s.Budgets = d.budgetStatus()
	s.SLA = d.slaStatus()
	n := d.nat.Status()
	s.NAT = &n
	if err := d.wg.LastError(); err != nil {
		s.LastErr = err.Error()
	}
	if reloadErr != nil {
		s.LastErr = fmt.Sprintf("reload refused: %v", reloadErr)
	}
	return s
}

// inboundStatus describes the inbound table for status; nil for a site
// without one (an edge with no hubs cannot happen; a hub always has it).
func inboundStatus(cfg *config.Config, repairs int, err error) *api.Inbound {
	in := &api.Inbound{Table: inbound.TableName, Repairs: repairs}
	if err != nil {
		in.Error = err.Error()
	}
	for _, p := range cfg.Publish {
		lo, hi := p.LANPorts()
		pub := api.Published{Name: p.Name, Protocol: p.Protocol, Ports: portSpan(p.Port, p.PortEnd),
			To: p.To.Addr().String() + ":" + portSpan(lo, hi), Rate: p.Rate}
		if p.To6.IsValid() {
			pub.To6 = "[" + p.To6.Addr().String() + "]:" + portSpan(lo, hi)
		}
		for _, a := range p.Allow {
			pub.Allow = append(pub.Allow, a.String())
		}
		in.Published = append(in.Published, pub)
	}
	return in
}

func portSpan(lo, hi int) string {
	if lo == hi {
		return fmt.Sprint(lo)
	}
	return fmt.Sprintf("%d-%d", lo, hi)
}
