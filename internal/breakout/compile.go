package breakout

import (
	"errors"
	"fmt"
	"net/netip"
)

// ErrTooMany means the compiled set is larger than Guards.MaxCount. The whole
// update is refused rather than cut: a cut set would drop arbitrary routes.
var ErrTooMany = errors.New("breakout: too many prefixes")

// Options tune one compilation.
type Options struct {
	Guards   Guards
	Previous []netip.Prefix // the set now installed, for Result.Add and Del
	// MaxRejections caps Result.Rejected (counts stay exact); 0 means 1000.
	MaxRejections int
}

// RejectKey counts rejections per source and reason.
type RejectKey struct {
	Source string
	Reason Reason
}

// Result is the desired set and how it was reached.
type Result struct {
	Prefixes []netip.Prefix // aggregated, sorted: what to install
	Accepted int            // entries that passed the guards
	Rejected []Rejection    // the first MaxRejections refused entries
	Counts   map[RejectKey]int
	Add, Del []netip.Prefix // Diff(Previous, Prefixes)
	Index    *Index         // accepted entries, to explain a route
}

// Compile turns the union of all sources' entries into the desired set:
// guards per entry, then aggregation, then the count limit on the whole
// set. On ErrTooMany the Result is still filled so the caller can show what
// would have changed. How far one update may move a set (churn, growth,
// coverage) is CheckUpdate's to judge, per source, before a fetched set
// becomes one of the sets compiled here. entries is not copied
// (Result.Index refers to it) and must not change afterwards.
func Compile(entries []Entry, opt Options) (Result, error) {
	return CompileSets([][]Entry{entries}, opt)
}

// CompileSets is Compile of the union of sets, without joining them into
// one slice: each source's set stays the only copy of its entries.
func CompileSets(sets [][]Entry, opt Options) (Result, error) {
	res := Result{Counts: map[RejectKey]int{}}
	accepted := filter(sets, opt, &res)
	res.Accepted = len(accepted)
	res.Index = newIndex(sets, accepted)
	res.Prefixes = aggregateSorted(res.Index.prefixes(), res.Accepted)
	res.Add, res.Del = Diff(opt.Previous, res.Prefixes)
	return res, checkSet(res, opt)
}

// filter returns the positions (counted through the sets) of the entries
// that pass the guards and records the others in res.
func filter(sets [][]Entry, opt Options, res *Result) []int32 {
	limit := opt.MaxRejections
	if limit == 0 {
		limit = 1000
	}
	g := newGuard(opt.Guards)
	n := 0
	for _, s := range sets {
		n += len(s)
	}
	out := make([]int32, 0, n)
	pos := int32(0)
	for _, s := range sets {
		for _, e := range s {
			r, ok := g.check(e)
			if ok {
				out = append(out, pos)
			} else {
				res.Counts[RejectKey{e.Source(), r.Reason}]++
				if len(res.Rejected) < limit {
					res.Rejected = append(res.Rejected, r)
				}
			}
			pos++
		}
	}
	return out
}

func checkSet(res Result, opt Options) error {
	g := opt.Guards
	if g.MaxCount > 0 && len(res.Prefixes) > g.MaxCount {
		return fmt.Errorf("%w: %d after aggregation, limit %d", ErrTooMany, len(res.Prefixes), g.MaxCount)
	}
	return nil
}
