package daemon

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/uplinkd/uplinkd/internal/config"
	"github.com/uplinkd/uplinkd/internal/ecmp/bgp"
)

// announcer follows the breakout engine's installed set and announces it
// to the configured receivers with the breakout gateway as next hop. The
// engine's callback only stores the latest state and wakes the loop: an
// announce of a million prefixes takes seconds and must not hold it up.
type announcer struct {
	log      *slog.Logger
	a        *bgp.Announcer
	nh4, nh6 netip.Addr
	wake     chan struct{}
	done     chan struct{}

	mu     sync.Mutex
	latest []netip.Prefix
	active bool
}

// startAnnouncer runs when [[breakout.peer]] lists receivers; else nil.
func startAnnouncer(ctx context.Context, cfg *config.Config, log *slog.Logger) (*announcer, error) {
	b := cfg.Breakout
	if len(b.Peers) == 0 {
		return nil, nil
	}
	// The announcer's own timers: a large table is packed before a keepalive
	// is written, and the tunnels' short hold time would expire meanwhile.
	ac := bgp.AnnouncerConfig{ASN: cfg.ASN, RouterID: cfg.RouterID}
	for _, p := range b.Peers {
		ac.Peers = append(ac.Peers, bgp.Peer{Name: "breakout-" + p.Address.String(), Address: p.Address, ASN: p.ASN, Port: p.Port})
	}
	an := &announcer{log: log, a: bgp.NewAnnouncer(log), nh4: b.Gateway, nh6: b.Gateway6,
		wake: make(chan struct{}, 1), done: make(chan struct{})}
	if !an.nh4.Is4() {
		an.nh4, an.nh6 = netip.Addr{}, b.Gateway
	}
	if err := an.a.Start(ctx, ac); err != nil {
		return nil, err
	}
	go an.loop(ctx)
	return an, nil
}

// onState is the engine's OnState: remember, wake, return.
func (an *announcer) onState(installed []netip.Prefix, active bool) {
	an.mu.Lock()
	an.latest, an.active = installed, active
	an.mu.Unlock()
	select {
	case an.wake <- struct{}{}:
	default:
	}
}

func (an *announcer) loop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-an.done:
			return
		case <-an.wake:
		}
		an.mu.Lock()
		set, active := an.latest, an.active
		an.mu.Unlock()
		start := time.Now()
		if !active {
			if err := an.a.Withdraw(ctx); err != nil {
				an.log.Warn("breakout announce: withdraw", "err", err)
			}
			an.log.Info("breakout withdrawn from BGP receivers (gateway down)")
			continue
		}
		added, gone, err := an.a.Set(ctx, set, an.nh4, an.nh6)
		if err != nil {
			an.log.Warn("breakout announce", "err", err)
			continue
		}
		if added+gone > 0 {
			an.log.Info("breakout announced", "prefixes", len(set), "added", added, "withdrawn", gone, "took", time.Since(start).Round(time.Millisecond))
		}
	}
}

// status is the announcer's status, nil when there is none.
func (an *announcer) status(ctx context.Context) *bgp.AnnouncerStatus {
	if an == nil {
		return nil
	}
	st := an.a.Status(ctx)
	return &st
}

func (an *announcer) stop() error {
	if an == nil {
		return nil
	}
	close(an.done)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return an.a.Stop(ctx)
}
