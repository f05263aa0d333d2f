package breakout

import (
	"math/rand/v2"
	"net/netip"
	"runtime"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go4.org/netipx"
)

// viaIPSet is the reference: what netipx's IPSet makes of ps.
func viaIPSet(ps []netip.Prefix) []netip.Prefix {
	var b netipx.IPSetBuilder
	for _, p := range ps {
		b.AddPrefix(p)
	}
	s, _ := b.IPSet()
	return s.Prefixes()
}

// randomPrefixes is up to 50 prefixes, a quarter IPv6, crowded into a
// few blocks so that they overlap, nest and touch.
func randomPrefixes(r *rand.Rand) []netip.Prefix {
	var ps []netip.Prefix
	for range r.IntN(50) {
		if r.IntN(4) == 0 {
			var a [16]byte
			a[0], a[1], a[2] = 0x20, 0x01, byte(r.IntN(4))
			ps = append(ps, netip.PrefixFrom(netip.AddrFrom16(a), 16+r.IntN(16)).Masked())
			continue
		}
		a := netip.AddrFrom4([4]byte{10, byte(r.IntN(4)), byte(r.IntN(256)), 0})
		ps = append(ps, netip.PrefixFrom(a, 14+r.IntN(11)).Masked())
	}
	return ps
}

func TestAggregateMatchesIPSet(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for round := range 200 {
		ps := randomPrefixes(r)
		ps = append(ps, netip.MustParsePrefix("255.255.255.0/24"), netip.MustParsePrefix("255.255.255.128/25"))
		if diff := cmp.Diff(viaIPSet(ps), Aggregate(ps), netipOpt); diff != "" {
			t.Fatalf("round %d, input %v (-ipset +Aggregate):\n%s", round, ps, diff)
		}
	}
}

// withdrawnViaIPSet is the reference for withdrawn: prev's address set
// minus next's, counted per family.
func withdrawnViaIPSet(prev, next []netip.Prefix) []familyShare {
	var had, gone [2]float64
	var b netipx.IPSetBuilder
	for _, p := range prev {
		b.AddPrefix(p)
	}
	for _, p := range next {
		b.RemovePrefix(p)
	}
	left, _ := b.IPSet()
	for _, p := range viaIPSet(prev) {
		f, n := prefixSize(p)
		had[f] += n
	}
	for _, p := range left.Prefixes() {
		f, n := prefixSize(p)
		gone[f] += n
	}
	var out []familyShare
	for f, name := range []string{"IPv4", "IPv6"} {
		if had[f] > 0 {
			out = append(out, familyShare{name, gone[f] / had[f]})
		}
	}
	return out
}

// TestWithdrawnMatchesIPSet: the churn backstop's share of withdrawn
// addresses, computed by search over the compiled set, is what the address
// sets give, for sets that nest either way, touch and mix families.
func TestWithdrawnMatchesIPSet(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	for round := range 500 {
		prev, next := randomPrefixes(r), Aggregate(randomPrefixes(r))
		want, got := withdrawnViaIPSet(prev, next), withdrawn(SortedCopy(prev), next)
		if diff := cmp.Diff(want, got, cmp.AllowUnexported(familyShare{})); diff != "" {
			t.Fatalf("round %d, prev %v, next %v (-ipset +withdrawn):\n%s", round, prev, next, diff)
		}
	}
}

func FuzzAggregate(f *testing.F) {
	f.Add([]byte{10, 0, 0, 0, 24, 10, 0, 1, 0, 24})
	f.Fuzz(func(t *testing.T, b []byte) {
		var ps []netip.Prefix
		for ; len(b) >= 5; b = b[5:] {
			p, err := netip.AddrFrom4([4]byte(b[:4])).Prefix(int(b[4] % 33))
			if err == nil {
				ps = append(ps, p)
			}
		}
		if diff := cmp.Diff(viaIPSet(ps), Aggregate(ps), netipOpt); diff != "" {
			t.Fatalf("(-ipset +Aggregate):\n%s", diff)
		}
	})
}

// TestWithdrawnAllocatesOnlyForPrev: the churn check of a small installed
// set against a large compiled one allocates for the small set, not in
// proportion to the large one (an address set of the two held 28 MiB at
// the daemon's peak with a full table's 159 k routes).
func TestWithdrawnAllocatesOnlyForPrev(t *testing.T) {
	var next []netip.Prefix
	for i := range 40000 {
		next = append(next, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 25))
	}
	prev := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/16"), netip.MustParsePrefix("10.7.0.0/24"), netip.MustParsePrefix("2001:db8::/32")}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got := withdrawn(prev, next)
	runtime.ReadMemStats(&after)
	if want := []familyShare{{"IPv4", 0.5}, {"IPv6", 1}}; !slices.Equal(got, want) {
		t.Fatalf("withdrawn = %v, want %v", got, want)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 16<<10 {
		t.Errorf("withdrawn allocated %d bytes for a 3-prefix previous set against %d prefixes", n, len(next))
	}
}
