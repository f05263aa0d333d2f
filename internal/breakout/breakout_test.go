package breakout

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var netipOpt = cmpopts.EquateComparable(netip.Prefix{}, netip.Addr{})

func pfxs(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(ss))
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

func ents(source string, ss ...string) []Entry {
	var out []Entry
	for _, p := range pfxs(ss...) {
		out = append(out, NewEntry(p, 0, Attrs{Source: source}))
	}
	return out
}

func TestAggregate(t *testing.T) {
	tests := []struct {
		name    string
		in, out []string
	}{
		{"siblings merge", []string{"10.0.1.0/24", "10.0.0.0/24"}, []string{"10.0.0.0/23"}},
		{"contained dropped", []string{"10.0.0.0/8", "10.1.0.0/16", "10.1.0.0/16"}, []string{"10.0.0.0/8"}},
		{"non-aligned stays", []string{"10.0.1.0/24", "10.0.2.0/24"}, []string{"10.0.1.0/24", "10.0.2.0/24"}},
		{"families kept apart, v4 first", []string{"2001:db8::/33", "2001:db8:8000::/33", "192.0.2.0/24"}, []string{"192.0.2.0/24", "2001:db8::/32"}},
		{"empty", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Aggregate(pfxs(tt.in...))
			if diff := cmp.Diff(pfxs(tt.out...), got, netipOpt, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestDiff(t *testing.T) {
	tests := []struct {
		name                 string
		prev, next, add, del []string
	}{
		{"same", []string{"10.0.0.0/8"}, []string{"10.0.0.0/8"}, nil, nil},
		{"add and delete", []string{"10.0.0.0/8", "192.0.2.0/24"}, []string{"10.0.0.0/8", "198.51.100.0/24"}, []string{"198.51.100.0/24"}, []string{"192.0.2.0/24"}},
		{"length matters", []string{"10.0.0.0/8"}, []string{"10.0.0.0/9"}, []string{"10.0.0.0/9"}, []string{"10.0.0.0/8"}},
		{"unsorted with duplicates", []string{"2001:db8::/32", "10.0.0.0/8", "10.0.0.0/8"}, []string{"10.0.0.0/8"}, nil, []string{"2001:db8::/32"}},
		{"from empty", nil, []string{"10.0.0.0/8"}, []string{"10.0.0.0/8"}, nil},
		{"to empty", []string{"10.0.0.0/8"}, nil, nil, []string{"10.0.0.0/8"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			add, del := Diff(pfxs(tt.prev...), pfxs(tt.next...))
			if diff := cmp.Diff(pfxs(tt.add...), add, netipOpt, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("add (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(pfxs(tt.del...), del, netipOpt, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("del (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDiffDoesNotModifyInput(t *testing.T) {
	prev := pfxs("10.0.0.0/8", "1.0.0.0/8")
	Diff(prev, nil)
	if prev[0] != netip.MustParsePrefix("10.0.0.0/8") {
		t.Error("Diff sorted its input in place")
	}
}

var guards = Guards{
	Protected: []Protected{
		{netip.MustParsePrefix("203.0.113.1/32"), "hub endpoint"},
		{netip.MustParsePrefix("192.168.1.0/24"), "lan"},
		{netip.MustParsePrefix("2001:db8:1::/48"), "lan"},
	},
	MinBits4: 8,
	MinBits6: 16,
}

func TestCompileGuards(t *testing.T) {
	in := append(ents("aws", "3.112.0.0/14", "3.116.0.0/14", "0.0.0.0/0", "203.0.0.0/16", "192.168.1.128/25", "4.0.0.0/7"),
		ents("v6", "::/0", "2001:db8::/32", "2600:1f00::/24", "2000::/12")...)
	in = append(in, NewEntry(netip.PrefixFrom(netip.MustParseAddr("10.1.2.3"), 8), 0, Attrs{Source: "bad"}))
	res, err := Compile(in, Options{Guards: guards})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(pfxs("3.112.0.0/13", "2600:1f00::/24"), res.Prefixes, netipOpt); diff != "" {
		t.Errorf("prefixes (-want +got):\n%s", diff)
	}
	var got []string
	for _, r := range res.Rejected {
		got = append(got, r.String())
	}
	want := []string{
		"aws: 0.0.0.0/0 default route",
		"aws: 203.0.0.0/16 overlaps protected hub endpoint 203.0.113.1/32",
		"aws: 192.168.1.128/25 overlaps protected lan 192.168.1.0/24",
		"aws: 4.0.0.0/7 shorter than minimum length /8",
		"v6: ::/0 default route",
		"v6: 2001:db8::/32 overlaps protected lan 2001:db8:1::/48",
		"v6: 2000::/12 shorter than minimum length /16",
		"bad: 10.1.2.3/8 invalid prefix",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rejections (-want +got):\n%s", diff)
	}
	wantCounts := map[RejectKey]int{
		{"aws", ReasonDefault}: 1, {"aws", ReasonProtected}: 2, {"aws", ReasonTooShort}: 1,
		{"v6", ReasonDefault}: 1, {"v6", ReasonProtected}: 1, {"v6", ReasonTooShort}: 1, {"bad", ReasonInvalid}: 1,
	}
	if diff := cmp.Diff(wantCounts, res.Counts); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	if res.Accepted != 3 {
		t.Errorf("accepted %d, want 3", res.Accepted)
	}
}

func TestCompileMaxRejections(t *testing.T) {
	res, _ := Compile(ents("x", "0.0.0.0/0", "0.0.0.0/0", "0.0.0.0/0", "10.0.0.0/8"), Options{MaxRejections: 2})
	if len(res.Rejected) != 2 || res.Counts[RejectKey{"x", ReasonDefault}] != 3 {
		t.Errorf("rejected %d (want 2 kept), counted %v (want 3)", len(res.Rejected), res.Counts)
	}
}

func TestCompileMaxCount(t *testing.T) {
	res, err := Compile(ents("x", "10.0.0.0/24", "10.0.1.0/24", "10.9.0.0/24"), Options{Guards: Guards{MaxCount: 1}})
	if !errors.Is(err, ErrTooMany) {
		t.Fatalf("error %v, want ErrTooMany", err)
	}
	if len(res.Prefixes) != 2 {
		t.Errorf("result still filled: %v", res.Prefixes)
	}
	if _, err := Compile(ents("x", "10.0.0.0/24", "10.0.1.0/24"), Options{Guards: Guards{MaxCount: 1}}); err != nil {
		t.Errorf("counted before aggregation: %v", err)
	}
}

// TestCompileChurnBackstop: an install that withdraws more than MaxChurn
// of the installed address space waits for Force; addresses are counted,
// so a route split by aggregation is no withdrawal.
func TestCompileChurnBackstop(t *testing.T) {
	prev := pfxs("10.0.0.0/24", "10.0.2.0/24", "10.0.4.0/24", "10.0.6.0/24", "2001:db8::/32")
	tests := []struct {
		name    string
		next    []Entry
		limit   float64
		force   bool
		wantErr string // part of the error; "" for none
	}{
		{"over limit", ents("x", "10.0.0.0/24", "10.0.2.0/24", "10.0.8.0/24", "2001:db8::/32"), 0.4, false, "withdraw 50.0% of the installed IPv4 address space (2 of 5 routes deleted; limit 40.0%)"},
		{"at limit", ents("x", "10.0.0.0/24", "10.0.2.0/24", "10.0.8.0/24", "2001:db8::/32"), 0.5, false, ""},
		{"a split route withdraws little", ents("x", "10.0.0.0/25", "10.0.2.0/24", "10.0.4.0/24", "10.0.6.0/24", "2001:db8::/32"), 0.2, false, ""},
		{"ipv6 counted apart", ents("x", "10.0.0.0/24", "10.0.2.0/24", "10.0.4.0/24", "10.0.6.0/24"), 0.5, false, "100.0% of the installed IPv6"},
		{"everything gone", nil, 0.5, false, "100.0% of the installed IPv4"},
		{"forced", nil, 0.1, true, ""},
		{"no limit", nil, 0, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(tt.next, Options{Guards: Guards{MaxChurn: tt.limit}, Previous: prev, Force: tt.force})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ce *ChurnError
			if !errors.Is(err, ErrChurn) || !errors.As(err, &ce) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want a *ChurnError saying %q", err, tt.wantErr)
			}
		})
	}
	if _, err := Compile(nil, Options{Guards: Guards{MaxChurn: 0.5}}); err != nil {
		t.Errorf("first compile (nothing installed) refused: %v", err)
	}
}

func TestIndex(t *testing.T) {
	es := []Entry{
		NewEntry(netip.MustParsePrefix("3.112.0.0/14"), 0, Attrs{Source: "aws", Service: "EC2", Region: "ap-northeast-1"}),
		NewEntry(netip.MustParsePrefix("3.112.0.0/14"), 0, Attrs{Source: "aws", Service: "AMAZON", Region: "ap-northeast-1"}),
		NewEntry(netip.MustParsePrefix("3.112.0.0/16"), 16509, Attrs{Source: "asn"}),
		NewEntry(netip.MustParsePrefix("3.116.0.0/14"), 0, Attrs{Source: "aws", Service: "EC2"}),
		NewEntry(netip.MustParsePrefix("2600:1f00::/24"), 0, Attrs{Source: "aws", Service: "AMAZON"}),
	}
	x := NewIndex(es)
	str := func(es []Entry) []string {
		var s []string
		for _, e := range es {
			s = append(s, e.String())
		}
		return s
	}
	tests := []struct {
		name string
		got  []Entry
		want []string
	}{
		{"lookup in both", x.Lookup(netip.MustParseAddr("3.112.5.6")), []string{
			"aws EC2 ap-northeast-1 3.112.0.0/14", "aws AMAZON ap-northeast-1 3.112.0.0/14", "asn AS16509 3.112.0.0/16"}},
		{"lookup one", x.Lookup(netip.MustParseAddr("3.113.0.1")), []string{
			"aws EC2 ap-northeast-1 3.112.0.0/14", "aws AMAZON ap-northeast-1 3.112.0.0/14"}},
		{"lookup none", x.Lookup(netip.MustParseAddr("8.8.8.8")), nil},
		{"lookup v6", x.Lookup(netip.MustParseAddr("2600:1f00::1")), []string{"aws AMAZON 2600:1f00::/24"}},
		{"within aggregate", x.Within(netip.MustParsePrefix("3.112.0.0/13")), []string{
			"aws EC2 ap-northeast-1 3.112.0.0/14", "aws AMAZON ap-northeast-1 3.112.0.0/14", "asn AS16509 3.112.0.0/16", "aws EC2 3.116.0.0/14"}},
		{"within excludes shorter", x.Within(netip.MustParsePrefix("3.112.0.0/15")), []string{"asn AS16509 3.112.0.0/16"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, str(tt.got)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestComparePrefixGroupsSubtrees(t *testing.T) {
	ps := SortPrefixes(pfxs("10.0.0.0/16", "9.0.0.0/8", "10.0.0.0/8", "10.0.0.0/8", "2001:db8::/32", "10.1.0.0/16"))
	want := pfxs("9.0.0.0/8", "10.0.0.0/8", "10.0.0.0/16", "10.1.0.0/16", "2001:db8::/32")
	if diff := cmp.Diff(want, ps, netipOpt); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestExplain(t *testing.T) {
	in := []Entry{
		NewEntry(netip.MustParsePrefix("3.112.0.0/14"), 0, Attrs{Source: "aws", Service: "EC2", Region: "ap-northeast-1"}),
		NewEntry(netip.MustParsePrefix("3.116.0.0/14"), 0, Attrs{Source: "aws", Service: "EC2", Region: "ap-northeast-1"}),
		NewEntry(netip.MustParsePrefix("2600:1f00::/24"), 0, Attrs{Source: "aws", Service: "AMAZON"}),
	}
	res, err := Compile(in, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		addr  string
		route string // "" when not routed
		n     int
	}{
		{"3.113.1.1", "3.112.0.0/13", 1},
		{"3.119.255.255", "3.112.0.0/13", 1},
		{"3.120.0.0", "", 0},
		{"3.111.255.255", "", 0},
		{"2600:1f00::1", "2600:1f00::/24", 1},
		{"::1", "", 0},
	}
	for _, tt := range tests {
		route, es, ok := res.Explain(netip.MustParseAddr(tt.addr))
		got := ""
		if ok {
			got = route.String()
		}
		if got != tt.route || len(es) != tt.n {
			t.Errorf("Explain(%s) = %q, %d entries; want %q, %d", tt.addr, got, len(es), tt.route, tt.n)
		}
	}
}

// TestDiffMatchesMaps holds the sorted merge to the obvious set algorithm.
func TestDiffMatchesMaps(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	gen := func() []netip.Prefix {
		var ps []netip.Prefix
		for range r.IntN(300) {
			p, _ := netip.AddrFrom4([4]byte{10, byte(r.IntN(4)), byte(r.IntN(8)), 0}).Prefix(16 + r.IntN(9))
			ps = append(ps, p)
		}
		return ps
	}
	for range 100 {
		prev, next := gen(), gen()
		add, del := Diff(prev, next)
		wantAdd, wantDel := mapMinus(next, prev), mapMinus(prev, next)
		if diff := cmp.Diff(wantAdd, add, netipOpt, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("add (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(wantDel, del, netipOpt, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("del (-want +got):\n%s", diff)
		}
	}
}

// mapMinus returns a \ b, sorted.
func mapMinus(a, b []netip.Prefix) []netip.Prefix {
	in := map[netip.Prefix]bool{}
	for _, p := range b {
		in[p] = true
	}
	var out []netip.Prefix
	for _, p := range a {
		if !in[p] {
			out = append(out, p)
			in[p] = true // once
		}
	}
	return SortPrefixes(out)
}

func TestGuardsValidate(t *testing.T) {
	if err := guards.Validate(); err != nil {
		t.Errorf("good guards: %v", err)
	}
	bad := Guards{MinBits4: 33, MinBits6: -1, MaxCount: -1, MaxChurn: 1.5, MaxGrowth: -1, MaxCoverage: 2, Protected: []Protected{{Label: "hub"}}}
	err := bad.Validate()
	for _, w := range []string{"IPv4", "IPv6", "count", "churn", "growth", "coverage", "protected hub"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v does not mention %q", err, w)
		}
	}
}

// TestCompileSetsIsCompileOfTheUnion: compiling sources' sets side by side
// gives what compiling their concatenation gives, rejections, aggregation
// and explanations included, and every source's entries stay findable.
func TestCompileSetsIsCompileOfTheUnion(t *testing.T) {
	a := ents("a", "10.0.0.0/25", "10.0.0.128/25", "0.0.0.0/0", "198.18.0.0/16")
	b := ents("b", "10.0.1.0/24", "198.18.5.0/24", "10.0.0.0/24")
	c := ents("c", "203.0.113.0/24")
	opt := Options{Guards: Guards{MinBits4: 8}}
	whole, err := Compile(slices.Concat(a, b, c), opt)
	if err != nil {
		t.Fatal(err)
	}
	sets, err := CompileSets([][]Entry{a, b, c}, opt)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(pfxs("10.0.0.0/23", "198.18.0.0/16", "203.0.113.0/24"), sets.Prefixes, netipOpt); diff != "" {
		t.Errorf("prefixes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(whole.Prefixes, sets.Prefixes, netipOpt); diff != "" {
		t.Errorf("prefixes differ from the joined compile (-joined +sets):\n%s", diff)
	}
	if whole.Accepted != 7 || sets.Accepted != 7 || len(sets.Rejected) != 1 || sets.Rejected[0].Entry.Source() != "a" {
		t.Errorf("accepted %d/%d, rejected %v; want 7 and the default route of a", whole.Accepted, sets.Accepted, sets.Rejected)
	}
	if diff := cmp.Diff(whole.Index.Entries(), sets.Index.Entries()); diff != "" {
		t.Errorf("index (-joined +sets):\n%s", diff)
	}
	var got []string
	for _, e := range sets.Index.Lookup(netip.MustParseAddr("10.0.0.130")) {
		got = append(got, e.String())
	}
	want := []string{"b 10.0.0.0/24", "a 10.0.0.128/25"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lookup 10.0.0.130 (-want +got):\n%s", diff)
	}
}

// TestEntrySize guards the memory budget: a full RouteViews table as one
// source is a million entries, and the edge's goal is 128 MiB with it.
func TestEntrySize(t *testing.T) {
	if s := unsafe.Sizeof(Entry{}); s > 32 {
		t.Errorf("Entry is %d bytes, want at most 32 (attributes interned, the prefix without netip's room for a zone)", s)
	}
	a := NewEntry(netip.MustParsePrefix("3.112.0.0/14"), 16509, Attrs{Source: "aws", Service: "EC2"})
	b := NewEntry(netip.MustParsePrefix("3.116.0.0/14"), 16509, Attrs{Source: "aws", Service: "EC2"})
	if !a.SameAttrs(b) || a.Service() != "EC2" || a == b || a.WithPrefix(b.Prefix()) != b {
		t.Errorf("entries with equal attributes should share them: %v %v", a, b)
	}
	if (Entry{}).Attrs() != (Attrs{}) || (Entry{}).Source() != "" {
		t.Error("the zero entry has attributes")
	}
}

// TestEntryPrefix: an entry gives back the prefix it was made with, host
// bits, IPv4-mapped IPv6 and all, and sorts as ComparePrefix sorts the
// prefixes themselves.
func TestEntryPrefix(t *testing.T) {
	for _, s := range []string{"0.0.0.0/0", "3.112.0.0/14", "255.255.255.255/32", "10.1.2.3/8",
		"::/0", "2001:db8::/32", "2001:db8::1/128", "::ffff:1.2.3.0/120", "::1.2.3.4/128"} {
		p := netip.MustParsePrefix(s)
		if got := PrefixEntry(p, 0).Prefix(); got != p {
			t.Errorf("entry of %s gives back %s", p, got)
		}
	}
	if p := (Entry{}).Prefix(); p.IsValid() {
		t.Errorf("the zero entry has prefix %s", p)
	}
	if p := PrefixEntry(netip.Prefix{}, 1).Prefix(); p.IsValid() {
		t.Errorf("an entry of the invalid prefix has prefix %s", p)
	}
	r := rand.New(rand.NewPCG(3, 4))
	var es []Entry
	for range 2000 {
		var p netip.Prefix
		switch r.IntN(3) {
		case 0:
			p = netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(r.IntN(4)), byte(r.IntN(256)), 0, byte(r.IntN(2))}), r.IntN(33))
		case 1:
			var a [16]byte
			a[0], a[1], a[15] = 0x20, byte(r.IntN(3)), byte(r.IntN(2))
			p = netip.PrefixFrom(netip.AddrFrom16(a), r.IntN(129))
		default:
			p = netip.PrefixFrom(netip.AddrFrom16(netip.AddrFrom4([4]byte{1, byte(r.IntN(2)), 0, 0}).As16()), 96+r.IntN(33))
		}
		es = append(es, PrefixEntry(p, 0))
	}
	for i := 1; i < len(es); i++ {
		a, b := es[i-1], es[i]
		if got, want := comparePrefix(&a, &b), ComparePrefix(a.Prefix(), b.Prefix()); got != want {
			t.Fatalf("comparePrefix(%s, %s) = %d, ComparePrefix says %d", a.Prefix(), b.Prefix(), got, want)
		}
	}
}
