package fib

import (
	"errors"
	"net/netip"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func r(p, gw string) Route {
	nh := Nexthop{Blackhole: gw == "blackhole"}
	if gw != "blackhole" && gw != "" {
		nh.Gateway = netip.MustParseAddr(gw)
	}
	return Route{Prefix: netip.MustParsePrefix(p), Nexthop: nh}
}

func TestDiffRoutes(t *testing.T) {
	dev := func(rt Route, link int) Route { rt.Nexthop.LinkIndex = link; return rt }
	tests := []struct {
		name            string
		desired, actual []Route
		want            diffView
	}{
		{name: "empty"},
		{
			name:    "add all",
			desired: []Route{r("10.0.0.0/8", "192.0.2.1"), r("2001:db8::/32", "blackhole")},
			want:    diffView{add: []Route{r("10.0.0.0/8", "192.0.2.1"), r("2001:db8::/32", "blackhole")}},
		},
		{
			name:   "delete all",
			actual: []Route{r("10.0.0.0/8", "192.0.2.1")},
			want:   diffView{del: []Route{r("10.0.0.0/8", "192.0.2.1")}},
		},
		{
			name:    "mixed",
			desired: []Route{r("10.0.0.0/8", "192.0.2.1"), r("10.1.0.0/16", "192.0.2.2"), r("10.3.0.0/16", "192.0.2.1")},
			actual:  []Route{r("10.0.0.0/8", "192.0.2.1"), r("10.1.0.0/16", "192.0.2.1"), r("10.2.0.0/16", "192.0.2.1")},
			want: diffView{
				add:       []Route{r("10.3.0.0/16", "192.0.2.1")},
				replace:   []Route{r("10.1.0.0/16", "192.0.2.2")},
				del:       []Route{r("10.2.0.0/16", "192.0.2.1")},
				unchanged: 1,
			},
		},
		{
			name:    "same prefix, other length",
			desired: []Route{r("10.0.0.0/8", "192.0.2.1")},
			actual:  []Route{r("10.0.0.0/9", "192.0.2.1")},
			want:    diffView{add: []Route{r("10.0.0.0/8", "192.0.2.1")}, del: []Route{r("10.0.0.0/9", "192.0.2.1")}},
		},
		{
			name:    "kernel-resolved device accepted when none asked",
			desired: []Route{r("10.0.0.0/8", "192.0.2.1")},
			actual:  []Route{dev(r("10.0.0.0/8", "192.0.2.1"), 7)},
			want:    diffView{unchanged: 1},
		},
		{
			name:    "other device replaced",
			desired: []Route{dev(r("10.0.0.0/8", "192.0.2.1"), 3)},
			actual:  []Route{dev(r("10.0.0.0/8", "192.0.2.1"), 7)},
			want:    diffView{replace: []Route{dev(r("10.0.0.0/8", "192.0.2.1"), 3)}},
		},
		{
			name:    "blackhole to gateway",
			desired: []Route{r("10.0.0.0/8", "192.0.2.1")},
			actual:  []Route{r("10.0.0.0/8", "blackhole")},
			want:    diffView{replace: []Route{r("10.0.0.0/8", "192.0.2.1")}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := viewOf(diffRoutes(Routes(tt.desired), tt.actual))
			if diff := cmp.Diff(tt.want, got, netipEq, cmp.AllowUnexported(diffView{}), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("diffRoutes (-want +got):\n%s", diff)
			}
		})
	}
}

// diffView is a routeDiff as the routes its positions stand for.
type diffView struct {
	add, replace, del []Route
	unchanged         int
}

func viewOf(d routeDiff) diffView {
	v := diffView{unchanged: d.unchanged}
	for _, i := range d.add {
		v.add = append(v.add, d.desired.At(int(i)))
	}
	for _, i := range d.replace {
		v.replace = append(v.replace, d.desired.At(int(i)))
	}
	for _, j := range d.del {
		v.del = append(v.del, d.actual[j])
	}
	return v
}

// TestViaSet: a prefix set paired with its gateways diffs like the routes
// it stands for, IPv4 via the IPv4 nexthop and IPv6 via the IPv6 one, and
// is used as it is when already normal (no slice of routes made).
func TestViaSet(t *testing.T) {
	v := ViaSet{
		Prefixes: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")},
		Nexthop4: r("0.0.0.0/0", "192.0.2.1").Nexthop, Nexthop6: r("::/0", "2001:db8::1").Nexthop,
	}
	want := []Route{r("10.0.0.0/8", "192.0.2.1"), r("2001:db8::/32", "2001:db8::1")}
	got, err := normalizeSet(v)
	if err != nil {
		t.Fatal(err)
	}
	if _, same := got.(ViaSet); !same {
		t.Errorf("normalizeSet made a %T of a normal ViaSet", got)
	}
	d := viewOf(diffRoutes(got, []Route{r("10.0.0.0/8", "192.0.2.9")}))
	if diff := cmp.Diff(diffView{add: want[1:], replace: want[:1]}, d, netipEq, cmp.AllowUnexported(diffView{}), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("diff of a ViaSet (-want +got):\n%s", diff)
	}
	unsorted := ViaSet{Prefixes: []netip.Prefix{v.Prefixes[1], v.Prefixes[0]}, Nexthop4: v.Nexthop4, Nexthop6: v.Nexthop6}
	got, err = normalizeSet(unsorted)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Routes(want), got, netipEq); diff != "" {
		t.Errorf("normalizeSet of an unsorted ViaSet (-want +got):\n%s", diff)
	}
}

func TestSpreadIsAPermutation(t *testing.T) {
	for _, n := range []int{1, 2, 3, 10, 1000, 998042} {
		at := spread(n)
		seen := make([]bool, n)
		for i := range n {
			j := at(i)
			if j < 0 || j >= n || seen[j] {
				t.Fatalf("spread(%d): message %d carries route %d twice or out of range", n, i, j)
			}
			seen[j] = true
		}
	}
}

func TestNormalize(t *testing.T) {
	got, err := normalize([]Route{r("10.1.2.3/8", "192.0.2.1"), r("2001:db8::1/32", ""), r("10.0.0.0/8", "192.0.2.1")})
	if err != nil {
		t.Fatal(err)
	}
	want := []Route{r("10.0.0.0/8", "192.0.2.1"), r("2001:db8::/32", "")}
	if diff := cmp.Diff(want, got, netipEq); diff != "" {
		t.Errorf("normalize masks, sorts and drops duplicates (-want +got):\n%s", diff)
	}
	sorted := []Route{r("10.0.0.0/8", "192.0.2.1"), r("10.0.0.0/7", "192.0.2.1"), r("2001:db8::/32", "")}
	if got, _ := normalize(sorted); &got[0] != &sorted[0] {
		t.Error("normalize copied an already normal set")
	}
	for name, in := range map[string][]Route{
		"invalid prefix":        {{}},
		"conflicting duplicate": {r("10.0.0.0/8", "192.0.2.1"), r("10.0.0.0/8", "192.0.2.2")},
	} {
		if _, err := normalize(in); err == nil {
			t.Errorf("normalize accepted %s", name)
		}
	}
}

func TestBatchErrorMessage(t *testing.T) {
	be := &BatchError{Op: "add routes table 100", Total: 1000}
	for _, i := range []int{90, 3, 50, 7, 1, 60, 2} {
		be.add(i, ItemError{Object: r("198.51.100.0/24", "10.0.0.9").String(), Err: syscall.ENETUNREACH, Msg: "Nexthop has invalid gateway"})
	}
	var idx []int
	for _, ie := range be.First {
		idx = append(idx, ie.Index)
	}
	if diff := cmp.Diff([]int{1, 2, 3, 7, 50}, idx); diff != "" {
		t.Errorf("reported items (-want +got):\n%s", diff)
	}
	msg := be.Error()
	for _, want := range []string{"add routes table 100: 7 of 1000 failed: 198.51.100.0/24 via 10.0.0.9: network is unreachable (Nexthop has invalid gateway)", "and 2 more"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if !errors.Is(be, syscall.ENETUNREACH) {
		t.Error("errors.Is(BatchError, ENETUNREACH) = false")
	}
	if (&BatchError{}).errOrNil() != nil {
		t.Error("an empty BatchError must be a nil error")
	}
}

func TestValidateMultipath(t *testing.T) {
	gw := netip.MustParseAddr("10.0.0.1")
	def := netip.MustParsePrefix("0.0.0.0/0")
	tests := []struct {
		name     string
		prefix   string
		nhs      []WeightedNexthop
		needLink bool
		wantErr  string
	}{
		{name: "ok", nhs: []WeightedNexthop{{Gateway: gw, LinkIndex: 2, Weight: 256}}},
		{name: "weight 0", nhs: []WeightedNexthop{{Gateway: gw, Weight: 0}}, wantErr: "weight must be 1..256"},
		{name: "weight 257", nhs: []WeightedNexthop{{Gateway: gw, Weight: 257}}, wantErr: "weight must be 1..256"},
		{name: "neither gateway nor device", nhs: []WeightedNexthop{{Weight: 1}}, wantErr: "gateway or device required"},
		{name: "device only", nhs: []WeightedNexthop{{LinkIndex: 3, Weight: 1}}, needLink: true},
		{name: "device only, plain IPv6", prefix: "::/0", nhs: []WeightedNexthop{{LinkIndex: 3, Weight: 1}}, wantErr: "device-only IPv6"},
		{name: "object needs device", nhs: []WeightedNexthop{{Gateway: gw, Weight: 1}}, needLink: true, wantErr: "device required"},
		{name: "duplicate", nhs: []WeightedNexthop{{Gateway: gw, Weight: 1}, {Gateway: gw, Weight: 2}}, wantErr: "listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := def
			if tt.prefix != "" {
				p = netip.MustParsePrefix(tt.prefix)
			}
			err := validateMultipath(Multipath{Prefix: p, Nexthops: tt.nhs}, tt.needLink)
			if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("validateMultipath: %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestSameNexthops(t *testing.T) {
	a := netip.MustParseAddr("10.0.0.1")
	b := netip.MustParseAddr("10.0.1.1")
	want := []WeightedNexthop{{Gateway: a, Weight: 2}, {Gateway: b, LinkIndex: 4, Weight: 1}}
	got := []WeightedNexthop{{Gateway: b, LinkIndex: 4, Weight: 1}, {Gateway: a, LinkIndex: 3, Weight: 2}}
	if !sameNexthops(want, got) {
		t.Error("same set in another order with a kernel-resolved device: want equal")
	}
	got[1].Weight = 1
	if sameNexthops(want, got) {
		t.Error("weights differ: want unequal")
	}
	if !sameNexthops([]WeightedNexthop{{Gateway: a, Weight: 5}}, []WeightedNexthop{{Gateway: a, Weight: 1}}) {
		t.Error("one nexthop: the kernel keeps no weight, want equal")
	}
}
