package breakout

import (
	"errors"
	"net/netip"
	"runtime"
	"strings"
	"testing"
)

// spread returns n /26 entries of source, from slot off in steps of 4 so
// that no two aggregate: they stay n prefixes.
func spread(source string, off, n int) []Entry {
	base := netip.MustParseAddr("100.64.0.0").As4()
	start := uint32(base[0])<<24 | uint32(base[1])<<16
	out := make([]Entry, n)
	for i := range n {
		a := start + uint32(4*i+off)<<6
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}), 26)
		out[i] = NewEntry(p, 0, Attrs{Source: source})
	}
	return out
}

// slash8s returns every unicast /8 from first to 223, as one source.
func slash8s(source string, first int) []Entry {
	var out []Entry
	for i := first; i <= 223; i++ {
		out = append(out, NewEntry(netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(i)}), 8), 0, Attrs{Source: source}))
	}
	return out
}

// limits are the config's defaults, as fractions.
var limits = Guards{MinBits4: 8, MinBits6: 16, MaxCount: 2_000_000, MaxChurn: 0.5, MaxGrowth: 1, MinChurn: 16,
	MaxCoverage: 0.10, MaxTotalCoverage: 0.20,
	Protected: []Protected{{Prefix: netip.MustParsePrefix("198.51.100.0/24"), Label: "lan"}}}

func TestCheckUpdate(t *testing.T) {
	thousand := spread("a", 0, 1000)
	big := spread("b", 2, 50_000)
	tests := []struct {
		name   string
		g      Guards
		u      Update
		limit  error  // nil: taken
		scope  string // of the HoldError
		detail string // part of its message
	}{
		{"1000 to 10 held", limits, Update{Source: "a", Previous: thousand, Next: thousand[:10]},
			ErrChurn, ScopeSource, "removes 990 of 1000 prefixes (99.0%, limit 50.0%)"},
		{"1000 to 10 beside a larger source held", limits, Update{Source: "a", Previous: thousand, Next: thousand[:10], Others: [][]Entry{big}},
			ErrChurn, ScopeSource, "removes 990 of 1000"},
		{"1000 to 600 taken", limits, Update{Source: "a", Previous: thousand, Next: thousand[:600]}, nil, "", ""},
		{"10 to 1000 held", limits, Update{Source: "a", Previous: thousand[:10], Next: thousand},
			ErrChurn, ScopeSource, "adds 990 prefixes to 10"},
		{"a small swap taken whatever its share", limits, Update{Source: "a", Previous: thousand[:3], Next: thousand[2:5]}, nil, "", ""},
		{"every /8 added held", limits, Update{Source: "a", Previous: thousand, Next: append(slash8s("a", 1), thousand...)},
			ErrCoverage, ScopeSource, "would cover 86.7% of the IPv4 address space (limit 10.0%)"},
		{"every /8 as a new source held", limits, Update{Source: "a", Next: slash8s("a", 1)},
			ErrCoverage, ScopeSource, "86.7%"},
		{"two sources too wide together held", limits, Update{Source: "a", Next: slash8s("a", 200), Others: [][]Entry{slash8s("b", 160)[:36]}},
			ErrCoverage, ScopeWhole, "would cover 23.4% of the IPv4 address space (limit 20.0%)"},
		{"the whole set past the count held", func() Guards { g := limits; g.MaxCount = 50_500; return g }(),
			Update{Source: "a", Previous: thousand[:600], Next: thousand, Others: [][]Entry{big}},
			ErrTooMany, ScopeWhole, "would leave 51000 prefixes after aggregation (limit 50500)"},
		{"no baseline: a new set of any size taken", limits, Update{Source: "a", Next: thousand, Others: [][]Entry{thousand[:10]}}, nil, "", ""},
		{"entries the guards refuse do not count", limits,
			Update{Source: "a", Previous: thousand, Next: append(ents("a", "0.0.0.0/0", "198.51.100.0/25", "0.0.0.0/1"), thousand...)}, nil, "", ""},
		{"no limits", Guards{}, Update{Source: "a", Previous: thousand, Next: append(slash8s("a", 1), thousand[:1]...)}, nil, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := CheckUpdate(tt.g, tt.u)
			if tt.limit == nil {
				if err != nil {
					t.Fatalf("held: %v", err)
				}
				return
			}
			var he *HoldError
			if !errors.As(err, &he) || !errors.Is(err, tt.limit) {
				t.Fatalf("error %v, want a *HoldError for %v", err, tt.limit)
			}
			if he.Scope != tt.scope || he.Source != "a" || !strings.Contains(err.Error(), tt.detail) {
				t.Errorf("held on %q: %q; want scope %q and %q", he.Scope, err, tt.scope, tt.detail)
			}
		})
	}
}

// TestCheckUpdateMeasures: the numbers behind the verdict, on the source's
// own set and on the whole, where prefixes another source also has are
// neither added to nor removed from the whole.
func TestCheckUpdateMeasures(t *testing.T) {
	a := spread("a", 0, 100)
	b := spread("b", 0, 50) // the same prefixes as a's first 50
	v, err := CheckUpdate(Guards{}, Update{Source: "a", Previous: a, Next: append(a[40:], spread("a", 2, 10)...), Others: [][]Entry{b}})
	if err != nil {
		t.Fatal(err)
	}
	src, whole := v.Source, v.Whole
	if src.Previous != 100 || src.Next != 70 || src.Removed != 40 || src.Added != 10 {
		t.Errorf("source change %+v, want 100 -> 70, -40 +10", src)
	}
	if whole.Previous != 100 || whole.Next != 110 || whole.Removed != 0 || whole.Added != 10 {
		t.Errorf("whole change %+v, want 100 -> 110, -0 +10", whole)
	}
	if want := 70.0 / (1 << 26); src.Coverage4 != want {
		t.Errorf("source covers %g of IPv4, want %g", src.Coverage4, want)
	}
}

// TestCheckUpdateMemory: the gate of a large source measures it through
// positions into its entries (4 bytes a prefix), not copies of its
// prefixes and of their diff (32 bytes each, 61 MB for the 998 k table on
// top of its entries). Both a new source and a refresh of one.
func TestCheckUpdateMemory(t *testing.T) {
	const n = 400_000
	prev, next := spread("big", 0, n), spread("big", 1, n) // every prefix moved: the largest diff
	others := [][]Entry{spread("other", 2, 1000)}
	g := limits
	g.MaxChurn, g.MaxGrowth = 0, 0 // measure all of it: no early hold
	for _, tc := range []struct {
		name string
		u    Update
	}{
		{"new source", Update{Source: "big", Next: next, Others: others}},
		{"refresh", Update{Source: "big", Previous: prev, Next: next, Others: others}},
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		v, err := CheckUpdate(g, tc.u)
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if v.Source.Next != n || v.Source.Added != n {
			t.Errorf("%s: measured %+v, want %d next, all added", tc.name, v.Source, n)
		}
		perEntry := float64(after.TotalAlloc-before.TotalAlloc) / float64(len(tc.u.Previous)+n)
		t.Logf("%s: %.1f bytes allocated per entry", tc.name, perEntry)
		if perEntry > 8 {
			t.Errorf("%s: allocated %.1f bytes per entry, want ≤ 8 (positions, not prefix copies)", tc.name, perEntry)
		}
	}
}
