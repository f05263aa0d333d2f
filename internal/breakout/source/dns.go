package source

import (
	"context"
	"log/slog"
	"time"

	"github.com/uplinkd/uplinkd/internal/breakout"
	"github.com/uplinkd/uplinkd/internal/breakout/dnsfeed"
	"github.com/uplinkd/uplinkd/internal/breakout/lkg"
)

// MinTTL is the shortest life a DNS answer is given, and so the most often
// a dns source is asked again (unless its Every is shorter): a 5 s TTL
// must neither hammer the resolver nor make routes flap between asks.
const MinTTL = 30 * time.Second

// refreshDNS resolves a dns source. Unlike a feed's, its answers do not
// stay for good when the resolver fails: each is kept until its TTL runs
// out, then dropped (lkg.Store.Failure), and Outcome.Next asks for the
// next refresh when the first of them goes bad.
func (r *Refresher) refreshDNS(ctx context.Context, src Config) Outcome {
	name := src.Spec.Name
	prev, _ := r.Store.Get(name)
	out := Outcome{Source: name}
	now := time.Now()
	es, expires, err := resolve(ctx, src, now)
	if err != nil {
		r.Store.Failure(name, err)
		cur, _ := r.Store.Get(name)
		out.Err, out.Entries, out.Next = err, len(cur.Entries), until(cur, time.Now())
		r.log().Warn("breakout dns source failed, keeping answers until their TTL", "source", name,
			"prefixes", len(cur.Entries), "expired", len(prev.Entries)-len(cur.Entries), "err", err)
		return out
	}
	out.Err = r.Store.SuccessUntil(name, es, expires)
	cur, _ := r.Store.Get(name)
	out.Entries, out.Changed, out.Next = len(es), changed(prev.Entries, es), until(cur, now)
	lvl := slog.LevelDebug // asked every few minutes: only a change is news
	if out.Changed {
		lvl = slog.LevelInfo
	}
	r.log().Log(ctx, lvl, "breakout source refreshed", "source", name, "prefixes", len(es), "changed", out.Changed, "next", out.Next)
	return out
}

// resolve asks for each name apart, so that every answer is given the TTL
// of its own name, not the shortest of the source.
func resolve(ctx context.Context, src Config, now time.Time) ([]breakout.Entry, []time.Time, error) {
	life := MinTTL
	if src.Every > 0 {
		life = min(life, src.Every)
	}
	var es []breakout.Entry
	var expires []time.Time
	for _, n := range src.Names {
		got, ttl, err := dnsfeed.Resolve(ctx, []string{n}, src.Resolver)
		if err != nil {
			return nil, nil, err
		}
		at := now.Add(max(ttl, life))
		for range got {
			expires = append(expires, at)
		}
		es = append(es, got...)
	}
	return src.Spec.Fill(es), expires, nil
}

// until is how long until the first of the held answers goes bad; 0 when
// none is held (the source's Every applies).
func until(st lkg.State, now time.Time) time.Duration {
	if t := st.NextExpiry(); !t.IsZero() {
		return max(t.Sub(now), time.Millisecond)
	}
	return 0
}
