package bgp

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/server"

	"github.com/uplinkd/uplinkd/internal/breakout"
)

// announcedSet is one family's prefixes as announced, with their next hop.
type announcedSet struct {
	nextHop  netip.Addr
	prefixes []netip.Prefix // sorted, unique
}

// familyPlan is one family's step from what is announced to what is wanted.
type familyPlan struct {
	have, want announcedSet
	maker      pathMaker
	add, gone  []netip.Prefix
}

// ctxCheckEvery is how many GoBGP calls go by between looks at ctx.
const ctxCheckEvery = 1024

// Set makes the announced set exactly prefixes, IPv4 ones with next hop
// nextHop4 and IPv6 ones with nextHop6 (either may be zero when no prefix
// of its family is given). Only the difference is sent: added counts
// prefixes announced anew (all of a family when its next hop changed),
// withdrawn those withdrawn. Withdrawals go first. On error the announcer
// keeps what it reached and the next Set repairs the rest. Sorted and
// unique prefixes (a compiled breakout set) are kept, not copied: they
// must not change afterwards.
func (a *Announcer) Set(ctx context.Context, prefixes []netip.Prefix, nextHop4, nextHop6 netip.Addr) (added, withdrawn int, err error) {
	want4, want6, err := splitFamilies(prefixes, nextHop4, nextHop6)
	if err != nil {
		return 0, 0, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.run
	if r == nil {
		return 0, 0, ErrNotStarted
	}
	start := time.Now()
	gone := len(r.v4.prefixes) + len(r.v6.prefixes)
	if len(want4.prefixes)+len(want6.prefixes) == 0 && gone >= restartMinWithdraw {
		return 0, gone, a.withdrawAllByRestart(ctx, r, start)
	}
	p4, err4 := planFamily(r.v4, want4)
	p6, err6 := planFamily(r.v6, want6)
	if err := errors.Join(err4, err6); err != nil {
		return 0, 0, err
	}
	res := a.apply(ctx, r, []*familyPlan{&p4, &p6})
	r.v4, r.v6 = p4.have, p6.have
	a.record(r, start, res)
	return res.added, res.withdrawn, res.err
}

// restartMinWithdraw is the smallest set withdrawn whole by a restart;
// below it, withdrawing in lists (packed) is as quick.
const restartMinWithdraw = 2000

// Why withdraw everything by restarting the server: deleting a million
// prefixes from GoBGP's RIB took 20 s (and, before withdrawals were sent
// packed, 40 s of one UPDATE each to a gateway that is down). A receiver
// drops all of a session's routes the moment it ends, and a new server
// starts with an empty RIB and frees the old one's memory (about 400 MB
// for a million paths). Stopping the server ends
// every session with a CEASE; graceful restart, which would make the
// receiver keep the routes as stale, is never negotiated. The new
// sessions come up at once, empty.
func (a *Announcer) restart(ctx context.Context, r *announcing) (*announcing, error) {
	if err := a.shutdown(r); err != nil {
		a.log.Debug("stop bgp announcer server for restart", "err", err)
	}
	next, err := a.start(ctx, r.cfg, r.cfg.speakerConfig().withDefaults())
	if err != nil {
		return nil, fmt.Errorf("restart bgp announcer (now stopped): %w", err)
	}
	next.last = r.last
	return next, nil
}

// withdrawAllByRestart replaces the server with an empty one (see restart).
func (a *Announcer) withdrawAllByRestart(ctx context.Context, r *announcing, start time.Time) error {
	gone := len(r.v4.prefixes) + len(r.v6.prefixes)
	next, err := a.restart(ctx, r)
	a.run = next
	if err != nil {
		a.log.Warn("bgp announcer set", "withdrawn", gone, "reset", true, "err", err)
		return err
	}
	a.record(next, start, applyResult{withdrawn: gone, reset: true})
	return nil
}

// Withdraw withdraws everything announced (the breakout gateway is down).
func (a *Announcer) Withdraw(ctx context.Context) error {
	_, _, err := a.Set(ctx, nil, netip.Addr{}, netip.Addr{})
	return err
}

// splitFamilies validates and sorts the wanted prefixes by family. The
// families are the two halves of one sorted slice (IPv4 sorts first):
// prefixes itself when sorted and unique, else a sorted copy. The
// announcer keeps them until the next Set (a copy per family appended
// prefix by prefix held the whole breakout set twice over), so a caller
// must not change prefixes after Set.
func splitFamilies(prefixes []netip.Prefix, nh4, nh6 netip.Addr) (v4, v6 announcedSet, err error) {
	if errs := validatePrefixes("announce", prefixes); len(errs) > 0 {
		return v4, v6, errors.Join(errs...)
	}
	v4.nextHop, v6.nextHop = nh4.Unmap(), nh6
	all := breakout.SortedCopy(prefixes) // a compiled breakout set is kept as it is
	k, _ := slices.BinarySearchFunc(all, true, func(p netip.Prefix, _ bool) int {
		if p.Addr().Is4() {
			return -1
		}
		return 1
	})
	if k > 0 {
		v4.prefixes = all[:k:k]
	}
	if k < len(all) {
		v6.prefixes = all[k:]
	}
	if len(v4.prefixes) > 0 && !v4.nextHop.Is4() {
		err = errors.Join(err, fmt.Errorf("%w: ipv4 next hop %v: need an IPv4 address for %d IPv4 prefixes", ErrConfig, nh4, len(v4.prefixes)))
	}
	if len(v6.prefixes) > 0 && (!v6.nextHop.Is6() || v6.nextHop.Is4In6()) {
		err = errors.Join(err, fmt.Errorf("%w: ipv6 next hop %v: need an IPv6 address for %d IPv6 prefixes", ErrConfig, nh6, len(v6.prefixes)))
	}
	return v4, v6, err
}

// planFamily diffs one family. A changed next hop re-announces every
// wanted prefix: an announcement replaces the previous one in place, so
// the receiver never lacks a route.
func planFamily(have, want announcedSet) (familyPlan, error) {
	p := familyPlan{have: have, want: want}
	if len(have.prefixes) == 0 {
		// The set itself (sorted, unique, kept anyway), not a copy that
		// would be a second set live while it is announced.
		p.add = want.prefixes
	} else {
		p.add, p.gone = breakout.Diff(have.prefixes, want.prefixes)
	}
	if len(want.prefixes) > 0 && want.nextHop != have.nextHop {
		p.add = want.prefixes
	}
	if len(p.add) == 0 {
		return p, nil
	}
	m, err := newPathMaker(want.nextHop)
	p.maker = m
	return p, err
}

// cmpPrefix compares a[i] with b[j] in canonical order; an index past the
// end sorts last.
func cmpPrefix(a []netip.Prefix, i int, b []netip.Prefix, j int) int {
	switch {
	case i >= len(a):
		return 1
	case j >= len(b):
		return -1
	}
	if c := a[i].Addr().Compare(b[j].Addr()); c != 0 {
		return c
	}
	return a[i].Bits() - b[j].Bits()
}

// applyResult is what one Set did.
type applyResult struct {
	added, withdrawn int
	reset            bool
	err              error
}

// apply withdraws, then announces, and leaves each plan's have at the
// state reached. Each goes in lists, each list sent packed (see
// announce_list.go); a session sends them in order, so a receiver never
// sees a withdrawal after the announcement that replaced it.
func (a *Announcer) apply(ctx context.Context, r *announcing, plans []*familyPlan) applyResult {
	var res applyResult
	var errs []error
	for _, p := range plans {
		n, err := a.withdrawPaths(ctx, r, p.gone)
		res.withdrawn += n
		p.have.prefixes, _ = breakout.Diff(p.gone[:n], p.have.prefixes)
		if err != nil {
			errs = append(errs, err)
		}
	}
	for _, p := range plans {
		n, err := a.addPaths(ctx, r, p.maker, p.add)
		res.added += n
		p.have = reachedAfterAdd(p, n)
		if err != nil {
			errs = append(errs, err)
		}
	}
	res.err = errors.Join(errs...)
	return res
}

// reachedAfterAdd is a family's announced set once the first n adds went
// in. A next-hop change cut short leaves both next hops in GoBGP's RIB:
// an invalid next hop makes the next Set re-announce the whole family.
func reachedAfterAdd(p *familyPlan, n int) announcedSet {
	nextHopChanged := len(p.have.prefixes) > 0 && p.want.nextHop != p.have.nextHop
	switch {
	case len(p.add) == 0:
		return p.have
	case nextHopChanged && n == len(p.add):
		return p.want
	case nextHopChanged:
		return announcedSet{prefixes: unionSorted(p.have.prefixes, p.add[:n])}
	default:
		return announcedSet{nextHop: p.want.nextHop, prefixes: unionSorted(p.have.prefixes, p.add[:n])}
	}
}

// unionSorted merges two sorted sets.
func unionSorted(a, b []netip.Prefix) []netip.Prefix {
	switch {
	case len(b) == 0:
		return a
	case len(a) == 0:
		return b
	}
	out := make([]netip.Prefix, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch c := cmpPrefix(a, i, b, j); {
		case c < 0:
			out = append(out, a[i])
			i++
		case c > 0:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	return out
}

// addPaths adds prefixes and returns how many went in.
func (a *Announcer) addPaths(ctx context.Context, r *announcing, m pathMaker, prefixes []netip.Prefix) (int, error) {
	if a.perPath {
		return addPathsOneByOne(ctx, r.srv, m, prefixes)
	}
	n, err := addPathList(ctx, r.srv, prefixes, func(dst *api.Path, p netip.Prefix, buf []byte) []byte {
		return m.fill(dst, p, false, buf)
	})
	if err != nil {
		return n, fmt.Errorf("announce %d prefixes: %w", len(prefixes), err)
	}
	return n, nil
}

// withdrawPaths withdraws prefixes and returns how many went.
func (a *Announcer) withdrawPaths(ctx context.Context, r *announcing, prefixes []netip.Prefix) (int, error) {
	if a.perPath {
		return withdrawPathsOneByOne(ctx, r.srv, prefixes)
	}
	w4, w6 := withdrawMaker(true), withdrawMaker(false)
	n, err := addPathList(ctx, r.srv, prefixes, func(dst *api.Path, p netip.Prefix, buf []byte) []byte {
		if p.Addr().Is4() {
			return w4.fill(dst, p, true, buf)
		}
		return w6.fill(dst, p, true, buf)
	})
	if err != nil {
		return n, fmt.Errorf("withdraw %d prefixes: %w", len(prefixes), err)
	}
	return n, nil
}

// addPathsOneByOne adds prefixes one AddPath call each.
func addPathsOneByOne(ctx context.Context, srv *server.BgpServer, m pathMaker, prefixes []netip.Prefix) (int, error) {
	for i, p := range prefixes {
		if i%ctxCheckEvery == 0 && ctx.Err() != nil {
			return i, fmt.Errorf("announce: %w", ctx.Err())
		}
		req := &api.AddPathRequest{TableType: api.TableType_GLOBAL, Path: m.path(p, false)}
		if _, err := srv.AddPath(ctx, req); err != nil {
			return i, fmt.Errorf("announce %v: %w", p, err)
		}
	}
	return len(prefixes), nil
}

// withdrawPathsOneByOne withdraws prefixes one DeletePath call each.
func withdrawPathsOneByOne(ctx context.Context, srv *server.BgpServer, prefixes []netip.Prefix) (int, error) {
	for i, p := range prefixes {
		if i%ctxCheckEvery == 0 && ctx.Err() != nil {
			return i, fmt.Errorf("withdraw: %w", ctx.Err())
		}
		m := withdrawMaker(p.Addr().Is4())
		req := &api.DeletePathRequest{TableType: api.TableType_GLOBAL, Family: m.family, Path: m.path(p, true)}
		if err := srv.DeletePath(ctx, req); err != nil {
			return i, fmt.Errorf("withdraw %v: %w", p, err)
		}
	}
	return len(prefixes), nil
}

// record keeps the last Set for Status and logs it.
func (a *Announcer) record(r *announcing, start time.Time, res applyResult) {
	r.last = setRecord{at: start, took: time.Since(start), added: res.added, withdrawn: res.withdrawn,
		reset: res.reset}
	attrs := []any{"added", res.added, "withdrawn", res.withdrawn,
		"ipv4", len(r.v4.prefixes), "ipv6", len(r.v6.prefixes), "reset", res.reset,
		"took", r.last.took.Round(time.Millisecond)}
	if res.err != nil {
		r.last.err = res.err.Error()
		a.log.Warn("bgp announcer set", append(attrs, "err", res.err)...)
		return
	}
	level := a.log.Info
	if res.added == 0 && res.withdrawn == 0 {
		level = a.log.Debug
	}
	level("bgp announcer set", attrs...)
}
