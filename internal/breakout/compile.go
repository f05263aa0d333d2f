package breakout

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
)

// ErrTooMany means the compiled set is larger than Guards.MaxCount. The whole
// update is refused rather than cut: a cut set would drop arbitrary routes.
var ErrTooMany = errors.New("breakout: too many prefixes")

// ChurnError refuses an install that would withdraw more than
// Guards.MaxChurn of the address space now installed, in either family.
// It is the backstop behind CheckUpdate, which judges each source's update
// before it is compiled: it catches what no source's update explains, such
// as a start whose saved sets were lost (the routes in the kernel are then
// the only baseline) or a large source removed from the configuration.
// It counts addresses, not prefixes, so that aggregation cannot make a
// small update look large. Options.Force takes the install anyway.
type ChurnError struct {
	Removed  int     // prefixes the install would delete
	Previous int     // prefixes installed
	Family   string  // "IPv4" or "IPv6"
	Share    float64 // of that family's installed address space
	Limit    float64 // Guards.MaxChurn
}

func (e *ChurnError) Error() string {
	return fmt.Sprintf("breakout: install would withdraw %.1f%% of the installed %s address space (%d of %d routes deleted; limit %.1f%%); use force to apply",
		100*e.Share, e.Family, e.Removed, e.Previous, 100*e.Limit)
}

// Is makes errors.Is(err, ErrChurn) true.
func (e *ChurnError) Is(target error) bool { return target == ErrChurn }

// Options tune one compilation.
type Options struct {
	Guards   Guards
	Previous []netip.Prefix // the set now installed: Result.Add and Del, and the churn backstop
	Force    bool           // install even past the churn backstop
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
// guards per entry, then aggregation, then the count limit and the churn
// backstop (see ChurnError) on the whole set. On ErrTooMany or a
// *ChurnError the Result is still filled so the caller can show what would
// have changed. How far one source's update may move a set (churn, growth,
// coverage) is CheckUpdate's to judge, before a fetched set becomes one of
// the sets compiled here. entries is not copied
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
	return newGuard(opt.Guards).accepted(sets, func(r Rejection) {
		res.Counts[RejectKey{r.Entry.Source(), r.Reason}]++
		if len(res.Rejected) < limit {
			res.Rejected = append(res.Rejected, r)
		}
	})
}

// accepted returns the positions, across sets, of the entries that pass
// the per-entry guards, telling rejected (when not nil) of the others.
func (g guard) accepted(sets [][]Entry, rejected func(Rejection)) []int32 {
	n := 0
	for _, s := range sets {
		n += len(s)
	}
	out := make([]int32, 0, n)
	pos := int32(0)
	for _, s := range sets {
		for _, e := range s {
			if r, ok := g.check(e); ok {
				out = append(out, pos)
			} else if rejected != nil {
				rejected(r)
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
	if opt.Force || g.MaxChurn <= 0 || len(res.Del) == 0 {
		return nil
	}
	prev := SortedCopy(opt.Previous)
	for _, w := range withdrawn(prev, res.Prefixes) {
		if w.share > g.MaxChurn {
			return &ChurnError{Removed: len(res.Del), Previous: len(prev), Family: w.family, Share: w.share, Limit: g.MaxChurn}
		}
	}
	return nil
}

// familyShare is a share of one family's address space.
type familyShare struct {
	family string
	share  float64
}

// withdrawn is, per family, the share of prev's addresses that next does
// not cover. next is a compiled set (aggregated: sorted, no two prefixes
// overlap), so a prefix of prev either lies inside one prefix of next or
// holds a run of them: a binary search and a sum per prefix of prev. An
// address set of prev minus next, its first form, held 28 MiB at the
// daemon's peak when next was the 159 k routes of a full table.
func withdrawn(prev, next []netip.Prefix) []familyShare {
	var had, gone [2]float64 // IPv4, IPv6
	for _, p := range Aggregate(prev) {
		f, n := prefixSize(p)
		had[f] += n
		gone[f] += n - covered(next, p)
	}
	var out []familyShare
	for f, name := range []string{"IPv4", "IPv6"} {
		if had[f] > 0 {
			out = append(out, familyShare{name, gone[f] / had[f]})
		}
	}
	return out
}

// prefixSize is p's family (0 IPv4, 1 IPv6) and how many addresses it holds.
func prefixSize(p netip.Prefix) (int, float64) {
	if p.Addr().Is4() {
		return 0, math.Ldexp(1, 32-p.Bits())
	}
	return 1, math.Ldexp(1, 128-p.Bits())
}

// covered is how many of p's addresses the aggregated set next holds.
// In ComparePrefix order the prefixes of next inside p start where p would
// sort; only the one just before can contain p (two that overlap cannot
// both be in next).
func covered(next []netip.Prefix, p netip.Prefix) float64 {
	i, _ := slices.BinarySearchFunc(next, p, ComparePrefix)
	_, all := prefixSize(p)
	if i > 0 && next[i-1].Overlaps(p) {
		return all
	}
	var n float64
	for ; i < len(next) && next[i].Overlaps(p); i++ {
		_, s := prefixSize(next[i])
		n += s
	}
	return n
}
