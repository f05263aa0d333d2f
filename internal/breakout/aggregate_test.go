package breakout

import (
	"math/rand/v2"
	"net/netip"
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

func TestAggregateMatchesIPSet(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for round := range 200 {
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
		ps = append(ps, netip.MustParsePrefix("255.255.255.0/24"), netip.MustParsePrefix("255.255.255.128/25"))
		if diff := cmp.Diff(viaIPSet(ps), Aggregate(ps), netipOpt); diff != "" {
			t.Fatalf("round %d, input %v (-ipset +Aggregate):\n%s", round, ps, diff)
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
