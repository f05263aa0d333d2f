package ecmp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"runtime"
	"sync"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/uplinkd/uplinkd/internal/bfd"
	"github.com/uplinkd/uplinkd/internal/config"
	"github.com/uplinkd/uplinkd/internal/ecmp/bgp"
	"github.com/uplinkd/uplinkd/internal/fib"
	"github.com/uplinkd/uplinkd/internal/rtprio"
)

// NexthopIDs is the block of kernel nexthop object IDs uplinkd owns.
var NexthopIDs = fib.IDRange{First: 6_000_000, Last: 6_065_535}

// resync catches what no event reported (a route deleted by hand).
const resync = 5 * time.Second

// Controller keeps the kernel's ECMP routes equal to what BGP learned over
// the tunnels that are alive.
type Controller struct {
	log *slog.Logger
	// fib is the kernel's (fib.Handle); tests of the logic give a
	// fibtest.Fake.
	fib     fib.ECMP
	speaker *bgp.Speaker
	bfd     *bfd.Manager
	// handshake returns a tunnel's last WireGuard handshake: a tunnel whose
	// session has expired is not alive whatever BFD last said.
	handshake func(ifname string) time.Time

	trigger chan struct{}
	// failed is kicked by BFD: a reconcile that changes only liveness, on
	// its own goroutine, done from the routes and links of the last full
	// one, without asking GoBGP or reading the kernel back (detection to
	// FIB in about a millisecond; the resync catches anything it misses).
	failed chan struct{}
	done   chan struct{}

	mu         sync.Mutex
	plan       Plan
	live       *Liveness
	resilient  bool
	groups     map[rkey]uint32 // each route's resilient group: the ECMP table's and the return tables' routes
	installed  map[netip.Prefix][]fib.WeightedNexthop
	grace      grace                // the restart grace: adopted routes kept until BGP has them
	downAt     map[string]time.Time // when BFD last reported a link down
	signalled  time.Time            // when the last detection, recorded under mu, woke the failover thread, logged
	wokeAt     time.Time            // when the running reconcile's goroutine woke: a failover's wake-up, logged
	lockedAt   time.Time            // when it took mu: the rest of a failover's queueing, logged
	writesAt   time.Time            // when it began its kernel writes: what came before is computing, logged
	groupsTook time.Duration        // of those, the last batch of resilient group writes (recordMany), logged
	awayAt     time.Time            // when that batch's routes stopped using the members that left, if no write came after: the failover's FIB time
	betweenAt  time.Time            // when that batch had steered them (the nexthop dump and the steer done), logged
	steer      bool                 // failovers steer leaving members first (fib.Shrink): the IPv4 FIB is small enough
	countedAt  time.Time            // when the full reconcile last counted the IPv4 routes for steer; its goroutine's own
	lastErr    error
	lastFail   Failover
	changes    int
	written    []routeWrite // not yet logged
	// writeErrors counts kernel writes that failed, bfdRebinds BFD
	// sessions re-created for a re-created tunnel interface.
	writeErrors int
	bfdRebinds  int
	// The inputs of the last full reconcile, for the fast one; routes is
	// nil until there was one, and after a reload.
	routes   map[netip.Prefix][]bgp.Path
	members  map[string]Member
	sessions map[string]bool // uplink → its WireGuard session is current
	// bfdIndex is the interface index each tunnel's BFD session was bound
	// to: a tunnel re-created under the same name needs a new session.
	bfdIndex map[string]int
	// The last resort: its next hop per family (true: IPv4) as the last
	// full reconcile resolved it, why one could not be, and whether it
	// carries the default routes now.
	lrHops map[bool]fib.WeightedNexthop
	// lrDown says why the last resort may not be used now ("": it may):
	// the 5G router it goes through does not answer the breakout probe.
	lrDown     string
	lrErr      error
	lrActive   bool
	lrSince    time.Time
	lrPrefixes []netip.Prefix
	// retInstalled is what each return table holds, as last written.
	retInstalled map[uint32]map[netip.Prefix][]fib.WeightedNexthop
	// limits are the carriers' data budget limits, by uplink name.
	limits map[string]Limit
	// sla holds the tunnels that break their SLA, by link name.
	sla map[string]SLAVerdict
}

// Start brings up BFD and BGP for plan and keeps the FIB reconciled until
// ctx ends or Close is called.
func Start(ctx context.Context, plan Plan, log *slog.Logger, handshake func(string) time.Time) (*Controller, error) {
	h, err := fib.Open()
	if err != nil {
		return nil, fmt.Errorf("open rtnetlink: %w", err)
	}
	c := &Controller{log: log, fib: h, handshake: handshake, plan: plan,
		trigger: make(chan struct{}, 1), failed: make(chan struct{}, 1), done: make(chan struct{}),
		live: NewLiveness(plan.HoldDown), groups: map[rkey]uint32{},
		installed: map[netip.Prefix][]fib.WeightedNexthop{}, downAt: map[string]time.Time{},
		bfdIndex: map[string]int{}, retInstalled: map[uint32]map[netip.Prefix][]fib.WeightedNexthop{}}
	if err := c.prepare(); err != nil {
		h.Close()
		return nil, err
	}
	c.bfd = bfd.NewManager(bfd.Config{Logger: log.With("part", "bfd"), OnChange: c.onBFD})
	c.syncBFD(plan)
	c.speaker = bgp.New(log.With("part", "bgp"))
	if err := c.speaker.Start(ctx, plan.Speaker); err != nil {
		c.bfd.Close()
		h.Close()
		return nil, fmt.Errorf("start bgp: %w", err)
	}
	go c.run(ctx)
	go c.failovers(ctx)
	go c.watchCarriers(ctx)
	return c, nil
}

// prepare sets the multipath hash policy, picks resilient groups or plain
// multipath, and adopts the routes and groups of an earlier run.
func (c *Controller) prepare() error {
	if err := setHashPolicy(c.plan.HashPolicy); err != nil {
		return err
	}
	ok, err := c.fib.ResilientSupported(config.RouteProtocol, NexthopIDs)
	switch {
	case c.plan.Resilient == "on" && !ok:
		return fmt.Errorf("resilient next-hop groups are not supported by this kernel (%v): set [ecmp] resilient = \"auto\"", err)
	case c.plan.Resilient == "off":
		c.resilient = false
	default:
		c.resilient = ok
	}
	c.log.Info("ecmp routes", "mode", c.Mode(), "table", c.plan.Table)
	if err := c.adopt(time.Now()); err != nil {
		return err
	}
	if err := c.dropReturns(c.plan); err != nil {
		c.log.Warn("stale return tables", "err", err)
	}
	return nil
}

// adopt takes the ECMP routes an earlier run left as installed, keeping
// their resilient groups (their flows stay put), and starts the restart
// grace that keeps them until BGP has them again. The return tables'
// groups are taken too, before any group is allocated.
func (c *Controller) adopt(now time.Time) error {
	have, err := c.fib.Multipaths(c.plan.Table, config.RouteProtocol)
	if err != nil {
		return fmt.Errorf("read ecmp routes: %w", err)
	}
	for _, st := range have {
		c.adoptGroup(rkey{c.plan.Table, st.Prefix}, st.GroupID)
		c.installed[st.Prefix] = st.Nexthops
	}
	for _, t := range c.plan.returnTables() {
		if _, err := c.readReturns(t, nil); err != nil {
			return err
		}
	}
	c.grace = newGrace(c.installed, now)
	if len(c.installed) > 0 {
		c.log.Info("ecmp routes of the run before adopted: kept until BGP has them, at most the restart grace",
			"routes", len(c.installed), "grace", RestartGrace)
	}
	return nil
}

// Mode says how ECMP routes are programmed.
func (c *Controller) Mode() string {
	if c.resilient {
		return "resilient"
	}
	return "multipath"
}

// Apply switches to a new plan (a reload): BFD sessions and BGP peers are
// added and removed as needed, and the FIB follows.
func (c *Controller) Apply(ctx context.Context, plan Plan) error {
	c.mu.Lock()
	if plan.FailoverPriority != c.plan.FailoverPriority {
		defer signal(c.failed) // the failover thread applies it
	}
	c.plan = plan
	c.routes = nil // links and weights may have changed: the next reconcile is a full one
	if err := c.dropReturns(plan); err != nil {
		c.log.Warn("return tables after reload", "err", err)
	}
	c.mu.Unlock()
	c.syncBFD(plan)
	err := c.speaker.Apply(ctx, plan.Speaker)
	c.syncExport(ctx)
	c.kick()
	return err
}

// Close stops BGP (peers withdraw at once), tells BFD peers we are going
// administratively down, and removes the routes unless on_exit is keep.
func (c *Controller) Close(ctx context.Context) error {
	close(c.done)
	errs := []error{c.speaker.Stop(ctx), c.bfd.Close()}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.plan.OnExit != "keep" {
		st, err := c.fib.Sweep(append([]uint32{c.plan.Table}, c.plan.returnTables()...), config.RouteProtocol, NexthopIDs)
		errs = append(errs, err)
		c.log.Info("ecmp routes removed", "routes", st.Routes, "nexthops", st.Nexthops)
	}
	return errors.Join(append(errs, c.fib.Close())...)
}

func (c *Controller) kick() { signal(c.trigger) }

// failNow wakes the failover thread and lets it run at once. The failover
// goroutine is locked to its OS thread: the runtime readies it onto the
// waker's P, from which it can start only when the waker's goroutine gives
// that P up (or an idle P steals it, and under load none is idle). The
// waker then logged and read its next event first: in a lab of row 1c,
// 1.4-4 ms of a failover's 2.3-4.5 ms tail went there. Yielding hands
// the P to the failover thread now.
func (c *Controller) failNow() {
	signal(c.failed)
	runtime.Gosched()
}

// signal wakes the loop through a one-slot channel; a wake-up already
// pending covers this one.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// onBFD runs on a BFD session's goroutine: record and trigger, nothing slow.
func (c *Controller) onBFD(ch bfd.Change) {
	c.mu.Lock()
	for _, l := range c.plan.Links {
		if l.Interface == ch.Interface && c.live.ObserveBFD(l.Name, ch) {
			c.downAt[l.Name] = ch.At // a failure to time until the FIB drops it
			c.signalled = time.Now()
		}
	}
	c.mu.Unlock()
	c.failNow() // before the log line: logging may wait on the journal
	c.log.Info("bfd", "tunnel", ch.Interface, "peer", ch.Peer, "state", ch.New.String(), "diag", ch.Diag.String(),
		"remote_state", ch.RemoteState.String())
}

func (c *Controller) run(ctx context.Context) {
	tick := time.NewTicker(resync)
	defer tick.Stop()
	hold := time.NewTimer(time.Hour)
	defer hold.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.done:
			return
		case <-c.trigger:
		case <-c.speaker.Changes():
		case <-tick.C:
		case <-hold.C:
		}
		next, stale := c.reconcile(ctx, time.Now())
		c.rebindBFD(stale)
		hold.Reset(untilOr(next, time.Hour))
	}
}

// failovers serves BFD changes on a goroutine of their own, so that a
// failure never waits behind a full reconcile asking GoBGP for its RIB (a
// busy GoBGP answers in tens or hundreds of milliseconds). After each it
// asks the main loop for a full reconcile, which also times the hold-down.
//
// It runs on an OS thread of its own at the plan's real-time priority
// (rtprio), so that under load its kernel writes do not wait behind busy
// tasks; a reload that changes the priority applies it after the next
// wake's write (Apply wakes it).
func (c *Controller) failovers(ctx context.Context) {
	prio := c.failoverPriority()
	c.logFailoverPriority(rtprio.Lock(prio), prio)
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.done:
			return
		case <-c.failed:
		}
		c.reconcileLiveness(time.Now())
		c.kick()
		// After the write, not before it: reading the plan takes c.mu,
		// which a full reconcile may hold.
		if p := c.failoverPriority(); p != prio {
			prio = p
			c.logFailoverPriority(rtprio.Set(prio), prio)
		}
	}
}

func (c *Controller) failoverPriority() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.plan.FailoverPriority
}

// logFailoverPriority logs what the failover thread runs at: a refusal
// (no CAP_SYS_NICE, a container's limits) leaves it at the normal policy
// and the daemon running.
func (c *Controller) logFailoverPriority(err error, prio int) {
	switch {
	case err != nil:
		c.log.Warn("failover thread left at the normal priority", "err", err)
	case prio > 0:
		c.log.Info("failover thread at real-time priority", "policy", "SCHED_FIFO", "priority", prio)
	}
}

func untilOr(t time.Time, d time.Duration) time.Duration {
	if t.IsZero() {
		return d
	}
	return max(time.Until(t), time.Millisecond)
}

// reconcile recomputes the next hops of every prefix and programs what
// differs from the kernel. It returns when the next hold-down ends, and
// the BFD sessions to re-create (see staleBFD).
func (c *Controller) reconcile(ctx context.Context, woke time.Time) (time.Time, []bfd.SessionConfig) {
	routes, err := c.speaker.Routes(ctx)
	// The slow reads go before the lock: a failure (onBFD, onCarrier and
	// the failovers goroutine all take c.mu) must not wait behind three
	// UAPI round trips to WireGuard and the last resort's lookups. A plan
	// applied meanwhile triggers another reconcile, which reads again.
	c.mu.Lock()
	plan := c.plan
	c.mu.Unlock()
	now := time.Now()
	sessions := wgSessions(plan.Links, c.handshake, now)
	lrHops, lrErr := lastResortHops(plan.LastResort)
	routesV4, counted, countErr := c.countIPv4(now)
	c.mu.Lock()
	defer c.mu.Unlock()
	if counted {
		c.setSteer(routesV4, countErr)
	}
	c.wokeAt, c.lockedAt = woke, time.Now()
	if err != nil {
		c.lastErr = err
		return time.Time{}, nil
	}
	c.routes, c.members = routes, c.lookupMembers()
	stale := c.staleBFD(c.members)
	c.sessions = sessions
	c.lrHops, c.lrErr = lrHops, lrErr
	if c.lrDown != "" {
		c.lrHops, c.lrErr = nil, errors.New(c.lrDown)
	}
	want := NextHops(routes, c.members, c.aliveAt(now))
	c.keepAdopted(want, now)
	used := withLastResort(want, c.plan.Speaker.Accept, c.lrHops)
	c.writesAt, c.groupsTook, c.awayAt, c.betweenAt = time.Now(), 0, time.Time{}, time.Time{}
	c.lastErr = errors.Join(c.program(want),
		c.programReturns(returnRoutes(c.plan, routes, c.members, c.aliveAt(now)), true))
	c.afterWrites(want, used)
	return earliest(c.live.NextExpiry(now), c.grace.next()), stale
}

// afterWrites ends a reconcile's kernel writes: the failover's FIB time is
// taken before the routes are logged (logWritten), then the last resort's
// state. Called with c.mu held.
func (c *Controller) afterWrites(want map[netip.Prefix][]fib.WeightedNexthop, used []netip.Prefix) {
	done := time.Now()
	c.logWritten()
	c.noteFailover(want, done)
	c.noteLastResort(used, time.Now())
}

// keepAdopted adds the restart grace's routes to want. Called with c.mu
// held.
func (c *Controller) keepAdopted(want map[netip.Prefix][]fib.WeightedNexthop, now time.Time) {
	if c.grace.next().IsZero() {
		return // none runs: the failover path builds no map for it
	}
	if _, ended := c.grace.apply(want, now, c.linkAliveAt(now)); ended {
		c.log.Info("restart grace over: the routes of the run before are BGP's again, or gone")
	}
}

// linkAliveAt is aliveAt by the tunnel's link index, for the next hops
// the restart grace keeps; a link that is no tunnel of the plan is not.
// Called with c.mu held.
func (c *Controller) linkAliveAt(now time.Time) func(linkIndex int) bool {
	alive, uplinks := c.aliveAt(now), make(map[int]string, len(c.members))
	for _, m := range c.members {
		uplinks[m.LinkIndex] = m.Uplink
	}
	return func(linkIndex int) bool {
		name, ok := uplinks[linkIndex]
		return ok && alive(name)
	}
}

// earliest is the earlier of two times, a zero one not counting.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// reconcileLiveness is the reconcile of a BFD change: the routes and links
// of the last full reconcile, the liveness of now, and only the prefixes
// whose next hops differ from what was last installed are written. Before
// the first full reconcile there is nothing to take out. woke is when
// its goroutine woke up, for the failover's log line.
func (c *Controller) reconcileLiveness(woke time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wokeAt, c.lockedAt = woke, time.Now()
	if c.routes == nil {
		return // the full reconcile the caller asks for next does it all
	}
	now := time.Now()
	want := NextHops(c.routes, c.members, c.aliveAt(now))
	c.keepAdopted(want, now)
	used := withLastResort(want, c.plan.Speaker.Accept, c.lrHops)
	c.writesAt, c.groupsTook, c.awayAt, c.betweenAt = time.Now(), 0, time.Time{}, time.Time{}
	c.lastErr = c.programChanged(want, returnRoutes(c.plan, c.routes, c.members, c.aliveAt(now)))
	c.afterWrites(want, used)
}

// lookupMembers maps BGP peers to the tunnels they are reached through.
func (c *Controller) lookupMembers() map[string]Member {
	m := map[string]Member{}
	for _, l := range c.plan.Links {
		link, err := netlink.LinkByName(l.Interface)
		if err != nil {
			continue
		}
		mem := limited(Member{Uplink: l.Name, LinkIndex: link.Attrs().Index, Weight: l.Weight, Preference: l.Preference,
			FarWeights: l.Carrier == "", DualStack: l.Local6.IsValid()}, l, c.limits[l.Carrier])
		v, degraded := c.sla[l.Name]
		mem = slaLimited(mem, v, degraded)
		m[peerName(l.Name, false)] = mem
		m[peerName(l.Name, true)] = mem
	}
	return m
}

// aliveAt: without BFD, an established BGP session is all there is (paths
// come only from established peers); with BFD, the session must be up and
// past its hold-down. Either way the WireGuard session must not be dead, as
// the last full reconcile read it: asking WireGuard is a round trip per
// tunnel on the UAPI socket, too slow for a failover to wait on, and a
// session expires over minutes, not milliseconds.
func (c *Controller) aliveAt(now time.Time) func(name string) bool {
	return func(name string) bool {
		if c.plan.BFD && !c.live.Alive(name, now) {
			return false
		}
		return c.sessions == nil || c.sessions[name]
	}
}

// wgSessions reads, once per tunnel, whether its WireGuard session is
// current (a handshake within 180 s, the protocol's reject-after time);
// nil without a handshake source (tests).
func wgSessions(links []Link, handshake func(string) time.Time, now time.Time) map[string]bool {
	if handshake == nil {
		return nil
	}
	out := make(map[string]bool, len(links))
	for _, l := range links {
		hs := handshake(l.Interface)
		out[l.Name] = !hs.IsZero() && now.Sub(hs) < config.WireGuardRejectAfter
	}
	return out
}

// noteFailover records how long the last detected failure took to leave
// the FIB, for status and metrics.
func (c *Controller) noteFailover(want map[netip.Prefix][]fib.WeightedNexthop, done time.Time) {
	fibDone := done
	if !c.awayAt.IsZero() {
		fibDone = c.awayAt // the routes left the tunnel at the steer; its member's delete came after
	}
	for name, at := range c.downAt {
		c.lastFail = Failover{Link: name, Detected: at, FIBDone: fibDone, Took: fibDone.Sub(at)}
		// queued: how much of it passed before the reconcile that wrote
		// the change began, of which woken until its goroutine ran (0 for
		// a full reconcile awake before the detection; the rest is waiting
		// for the lock), of which signalled until the detector had taken
		// the lock and recorded it; writes: its kernel writes (the rest is
		// computing the next hops); settled: detection until the last
		// write, of which groups the resilient groups' (a nexthop dump,
		// the steer, and the deletes, where the kernel waits its grace
		// period; in resilient mode the return tables' groups are among
		// them). With a steer, the FIB time is the steer's, and the delete
		// is in settled only; steer is from the writes' start to the
		// steer landed (the nexthop dump and the steer; the dump alone
		// when steering is off).
		us := func(d time.Duration) time.Duration { return max(d, 0).Round(time.Microsecond) }
		c.log.Info("tunnel out of the ecmp set", "tunnel", name, "detected_to_fib", us(fibDone.Sub(at)),
			"queued", us(c.lockedAt.Sub(at)), "woken", us(c.wokeAt.Sub(at)), "signalled", us(c.signalled.Sub(at)), "writes", us(fibDone.Sub(c.writesAt)),
			"steered", !c.awayAt.IsZero(), "steer", us(c.betweenAt.Sub(c.writesAt)), "settled", us(done.Sub(at)), "groups", us(c.groupsTook))
		delete(c.downAt, name)
	}
}

// DownTunnels lists the interfaces of tunnels BFD reports down: WireGuard
// may still hold keys the far end forgot, and the caller can re-handshake.
func (c *Controller) DownTunnels() map[string]bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]bool{}
	if !c.plan.BFD {
		return out
	}
	for _, l := range c.plan.Links {
		if c.live.Down(l.Name) {
			out[l.Interface] = true
		}
	}
	return out
}

// SetSLA takes the tunnels that break their SLA (by link name; one not
// named meets it) and reconciles the FIB if they changed.
func (c *Controller) SetSLA(degraded map[string]SLAVerdict) {
	c.mu.Lock()
	same := maps.EqualFunc(c.sla, degraded, func(a, b SLAVerdict) bool { return a.Weight == b.Weight })
	c.sla = maps.Clone(degraded)
	c.mu.Unlock()
	if !same {
		c.log.Info("sla verdicts", "degraded", fmt.Sprint(degraded))
		c.syncExport(context.Background())
		c.kick()
	}
}

// SetBreakoutGateway tells whether the home's 5G router answers the
// breakout engine's probe. A last resort through it (last_resort =
// "breakout") is used only while it does: a dead router would take the
// default from a tunnel that may come back, and carry nothing.
func (c *Controller) SetBreakoutGateway(up bool) {
	c.mu.Lock()
	lr, was := c.plan.LastResort, c.lrDown
	if lr != nil && lr.Via == "breakout" && !up {
		c.lrDown = "the 5G router does not answer the breakout probe: no last resort until it does"
	} else {
		c.lrDown = ""
	}
	changed := was != c.lrDown
	c.mu.Unlock()
	if changed {
		c.log.Info("last resort gateway", "usable", up)
		c.kick()
	}
}

// Alive says whether a tunnel is up as liveness sees it (BFD up and past
// its hold-down; with BFD off, always): what the SLA probes judge.
func (c *Controller) Alive(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.plan.BFD || c.live.Alive(name, time.Now())
}

// SetLimits takes the carriers' data budget limits (by uplink name; a
// carrier not named is unlimited) and reconciles the FIB if they changed.
func (c *Controller) SetLimits(limits map[string]Limit) {
	c.mu.Lock()
	same := maps.Equal(c.limits, limits)
	c.limits = maps.Clone(limits)
	c.mu.Unlock()
	if !same {
		c.log.Info("budget limits", "limits", fmt.Sprint(limits))
		c.syncExport(context.Background())
		c.kick()
	}
}

// syncExport tells the BGP speaker what to add to its announcements: the
// tunnels' weights and the prepends of those kept only as a last resort
// (see exports).
func (c *Controller) syncExport(ctx context.Context) {
	c.mu.Lock()
	want := exports(c.plan.Links, c.limits, c.sla)
	c.mu.Unlock()
	if err := c.speaker.SetExport(ctx, want); err != nil {
		c.log.Warn("bgp export marks (weights, prepends)", "err", err)
	}
}

// Stamper probes a tunnel's round trip by its BFD session's timestamps
// (bfd.Stamper); it refuses while the session cannot (BFD off, a peer
// that is not uplinkd, the frugal mode's idle rate).
func (c *Controller) Stamper(iface string) *bfd.Stamper { return c.bfd.Stamper(iface) }
