package breakout

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// fakeLookup resolves the names of m; any other name does not exist.
func fakeLookup(m map[string][]string) LookupFunc {
	return func(_ context.Context, host string) ([]netip.Addr, error) {
		ss, ok := m[host]
		if !ok {
			return nil, errors.New("lookup " + host + ": no such host")
		}
		var out []netip.Addr
		for _, s := range ss {
			out = append(out, netip.MustParseAddr(s))
		}
		return out, nil
	}
}

// TestEndpointGuard: every hub endpoint's address is protected, and one
// whose name does not resolve is a warning, not a silent gap; a name that
// stops resolving keeps the protection of its last addresses.
func TestEndpointGuard(t *testing.T) {
	names := map[string][]string{
		"hub1.example.net":   {"198.51.100.7", "2001:db8::7"},
		"empty.example.net":  {},
		"mapped.example.net": {"::ffff:203.0.113.9"},
	}
	eps := []Endpoint{
		{"hub1.example.net:51820", "docomo hub endpoint"},
		{"hub1.example.net:51821", "softbank hub endpoint"}, // the same addresses, listed once
		{"203.0.113.1:51820", "rakuten hub endpoint"},
		{"nowhere.example.net:51820", "hub2 endpoint"},
		{"nowhere.example.net:51821", "hub2 endpoint"}, // one warning for the host
		{"empty.example.net:51820", "hub3 endpoint"},
		{"mapped.example.net:51820", "hub4 endpoint"},
	}
	var g EndpointGuard
	prot, warnings := g.Resolve(context.Background(), fakeLookup(names), eps)
	want := []Protected{
		{netip.MustParsePrefix("198.51.100.7/32"), "docomo hub endpoint"},
		{netip.MustParsePrefix("203.0.113.1/32"), "rakuten hub endpoint"},
		{netip.MustParsePrefix("203.0.113.9/32"), "hub4 endpoint"},
		{netip.MustParsePrefix("2001:db8::7/128"), "docomo hub endpoint"},
	}
	if diff := cmp.Diff(want, prot, cmpopts.EquateComparable(netip.Prefix{})); diff != "" {
		t.Errorf("protected (-want +got):\n%s", diff)
	}
	wantWarn := []string{
		"hub2 endpoint nowhere.example.net:51820 (and 1 more on this host): does not resolve (lookup nowhere.example.net: no such host): its address is not protected from breakout routes",
		"hub3 endpoint empty.example.net:51820: resolves to no address: its address is not protected from breakout routes",
	}
	if diff := cmp.Diff(wantWarn, warnings); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}

	delete(names, "hub1.example.net")
	prot, warnings = g.Resolve(context.Background(), fakeLookup(names), eps[:1])
	if diff := cmp.Diff([]Protected{want[0], want[3]}, prot, cmpopts.EquateComparable(netip.Prefix{})); diff != "" {
		t.Errorf("protected once the name is gone (-want +got):\n%s", diff)
	}
	wantWarn = []string{"docomo hub endpoint hub1.example.net:51820: does not resolve (lookup hub1.example.net: no such host): still protecting the addresses it last had, [198.51.100.7 2001:db8::7]"}
	if diff := cmp.Diff(wantWarn, warnings); diff != "" {
		t.Errorf("warnings once the name is gone (-want +got):\n%s", diff)
	}
}
