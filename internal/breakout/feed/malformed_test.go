package feed

import (
	"bytes"
	"compress/gzip"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/uplinkd/uplinkd/internal/breakout"
)

func gz(t *testing.T, s string) []byte {
	t.Helper()
	return gzSeed(s)
}

func gzSeed(s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

// TestMalformed: every bad body is an error that names the problem and
// where it is, and no entries come back with it.
func TestMalformed(t *testing.T) {
	aws := string(fixture(t, "aws-ip-ranges.json"))
	tests := []struct {
		name   string
		parse  func() ([]breakout.Entry, error)
		is     error  // sentinel, or nil
		substr string // part of the message
	}{
		{"aws empty", func() ([]breakout.Entry, error) { return ParseAWS(nil, AWSFilter{}) }, ErrEmpty, "parse aws"},
		{"aws truncated", func() ([]breakout.Entry, error) { return ParseAWS([]byte(aws[:len(aws)/2]), AWSFilter{}) }, ErrMalformed, "line "},
		{"aws object", func() ([]breakout.Entry, error) { return ParseAWS([]byte(`{}`), AWSFilter{}) }, ErrMalformed, "no syncToken"},
		{"aws no prefixes", func() ([]breakout.Entry, error) {
			return ParseAWS([]byte(`{"syncToken":"1","ipv6_prefixes":[]}`), AWSFilter{})
		}, ErrMalformed, "no prefixes key"},
		{"aws empty lists", func() ([]breakout.Entry, error) {
			return ParseAWS([]byte(`{"syncToken":"1","prefixes":[],"ipv6_prefixes":[]}`), AWSFilter{})
		}, ErrEmpty, ""},
		{"aws bad prefix", func() ([]breakout.Entry, error) {
			return ParseAWS([]byte(`{"syncToken":"1","prefixes":[{"ip_prefix":"3.0.0.0/15","region":"r","service":"EC2"},{"ip_prefix":"3.0.0.1/15","region":"r","service":"EC2"}],"ipv6_prefixes":[]}`), AWSFilter{})
		}, ErrMalformed, "$.prefixes[1]: ip_prefix: prefix 3.0.0.1/15 has host bits set"},
		{"aws v6 in v4 list", func() ([]breakout.Entry, error) {
			return ParseAWS([]byte(`{"syncToken":"1","prefixes":[{"ip_prefix":"2001:db8::/32","region":"r","service":"EC2"}],"ipv6_prefixes":[]}`), AWSFilter{})
		}, ErrMalformed, "wrong address family"},
		{"aws wrong type", func() ([]breakout.Entry, error) {
			return ParseAWS([]byte(`{"syncToken":"1","prefixes":[{"ip_prefix":3}],"ipv6_prefixes":[]}`), AWSFilter{})
		}, ErrMalformed, "ip_prefix"},
		{"aws service typo", func() ([]breakout.Entry, error) { return ParseAWS([]byte(aws), AWSFilter{Services: []string{"EC3"}}) }, ErrNoMatch, "service EC3 not in feed"},
		{"aws html", func() ([]breakout.Entry, error) { return ParseAWS([]byte("<html>503</html>"), AWSFilter{}) }, ErrMalformed, "line 1 col 1"},
		{"google no prefixes", func() ([]breakout.Entry, error) { return ParseGoogle([]byte(`{"syncToken":"1"}`)) }, ErrMalformed, "no prefixes key"},
		{"google neither", func() ([]breakout.Entry, error) {
			return ParseGoogle([]byte(`{"syncToken":"1","prefixes":[{"ipv4Prefix":"8.8.8.0/24"},{}]}`))
		}, nil, "$.prefixes[1]: neither"},
		{"list empty", func() ([]breakout.Entry, error) { return ParsePrefixList([]byte(" \n\n"), breakout.Entry{}) }, ErrEmpty, ""},
		{"list comments only", func() ([]breakout.Entry, error) { return ParsePrefixList([]byte("# x\n"), breakout.Entry{}) }, ErrEmpty, ""},
		{"list bad line", func() ([]breakout.Entry, error) {
			return ParsePrefixList([]byte("1.1.1.0/24\n# c\n\n1.1.1.\n"), breakout.Entry{})
		}, ErrMalformed, "line 4: invalid address \"1.1.1.\""},
		{"list truncated gzip", func() ([]breakout.Entry, error) {
			b := gz(t, strings.Repeat("1.1.1.0/24\n", 1000))
			return ParsePrefixList(b[:len(b)/2], breakout.Entry{})
		}, ErrMalformed, "gzip"},
		{"github no keys", func() ([]breakout.Entry, error) { return ParseGitHub([]byte(`{}`), nil) }, nil, "no keys chosen"},
		{"github not meta", func() ([]breakout.Entry, error) { return ParseGitHub([]byte(`{"web":[]}`), []string{"web"}) }, ErrMalformed, ""},
		{"github missing key", func() ([]breakout.Entry, error) {
			return ParseGitHub([]byte(`{"verifiable_password_authentication":false}`), []string{"web"})
		}, ErrNoMatch, "$.web"},
		{"github bad entry", func() ([]breakout.Entry, error) {
			return ParseGitHub([]byte(`{"verifiable_password_authentication":false,"web":["1.2.3.0/24","x"]}`), []string{"web"})
		}, ErrMalformed, "$.web[1]"},
		{"m365 empty array", func() ([]breakout.Entry, error) { return ParseM365([]byte(`[]`), M365Filter{}) }, ErrEmpty, ""},
		{"m365 not array", func() ([]breakout.Entry, error) { return ParseM365([]byte(`{"a":1}`), M365Filter{}) }, ErrMalformed, ""},
		{"m365 no id", func() ([]breakout.Entry, error) {
			return ParseM365([]byte(`[{"serviceArea":"Exchange"}]`), M365Filter{})
		}, ErrMalformed, "$[0]"},
		{"m365 category typo", func() ([]breakout.Entry, error) {
			return ParseM365(fixture(t, "m365-endpoints.json"), M365Filter{Categories: []string{"Optimise"}})
		}, ErrNoMatch, "category Optimise"},
		{"pfx2as fields", func() ([]breakout.Entry, error) { return ParsePfx2as([]byte("1.0.0.0\t24\t13335\n1.0.4.0\t22\n"), nil) }, ErrMalformed, "line 2: want 3 fields"},
		{"pfx2as host bits", func() ([]breakout.Entry, error) { return ParsePfx2as([]byte("1.0.0.1\t24\t13335"), nil) }, ErrMalformed, "line 1: invalid prefix"},
		{"pfx2as bad origin", func() ([]breakout.Entry, error) { return ParsePfx2as([]byte("1.0.0.0\t24\t133x"), nil) }, ErrMalformed, "origin"},
		{"pfx2as dangling moas", func() ([]breakout.Entry, error) { return ParsePfx2as([]byte("1.0.0.0\t24\t1_"), nil) }, ErrMalformed, "separator"},
		{"pfx2as no such asn", func() ([]breakout.Entry, error) { return ParsePfx2as([]byte("1.0.0.0\t24\t13335"), []uint32{1}) }, ErrNoMatch, ""},
		{"pfx2as empty gzip", func() ([]breakout.Entry, error) { return ParsePfx2as(gz(t, ""), nil) }, ErrEmpty, ""},
		{"pfx2as truncated gzip", func() ([]breakout.Entry, error) {
			b := fixture(t, "asn/caida-pfx2as-20240406-AS2516-ipv4.txt")
			z := gz(t, strings.ReplaceAll(string(b), "/", "\t"))
			return ParseASN(z[:len(z)-10], nil)
		}, ErrMalformed, "gzip"},
		{"pyasn fields", func() ([]breakout.Entry, error) { return ParsePrefixOrigin([]byte("; c\n1.0.0.0/24\t1\t2\n"), nil) }, ErrMalformed, "line 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es, err := tt.parse()
			if err == nil {
				t.Fatalf("no error, %d entries", len(es))
			}
			if es != nil {
				t.Errorf("%d entries returned with error %v", len(es), err)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %q is not %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.substr) {
				t.Errorf("error %q does not mention %q", err, tt.substr)
			}
		})
	}
}

func TestPrefixListForms(t *testing.T) {
	es, err := ParsePrefixList([]byte("# list\r\n10.0.0.0/8 # trailing\r\n\r\n192.0.2.1\n2001:db8::1\n2001:db8::/32"), breakout.Entry{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		got = append(got, e.Prefix().String())
	}
	want := "10.0.0.0/8 192.0.2.1/32 2001:db8::1/128 2001:db8::/32"
	if g := strings.Join(got, " "); g != want {
		t.Errorf("got %s, want %s", g, want)
	}
}

func TestOriginForms(t *testing.T) {
	body := []byte("1.0.0.0\t24\t10\n2.0.0.0\t24\t20_30\n3.0.0.0\t24\t40,30\n4.0.0.0\t24\t209_3356,6223,30\n5.0.0.0\t24\t31\n")
	es, err := ParsePfx2as(body, []uint32{30})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 3 {
		t.Fatalf("got %d entries, want 3 (MOAS, AS-set, both): %v", len(es), es)
	}
	es, err = ParsePfx2as(body, nil)
	if err != nil {
		t.Fatal(err)
	}
	if es[1].ASN != 20 || es[3].ASN != 209 {
		t.Errorf("whole table records the first origin, got %d and %d", es[1].ASN, es[3].ASN)
	}
}

func TestSpecFill(t *testing.T) {
	s := Spec{Name: "cf", Kind: KindCloudflare, Meta: breakout.NewEntry(netip.Prefix{}, 13335, breakout.Attrs{Name: "CLOUDFLARE", Category: "internet"})}
	es, err := s.Parse(fixture(t, "cloudflare-ips-v4.txt"))
	if err != nil {
		t.Fatal(err)
	}
	e := es[0]
	if e.Source() != "cf" || e.ASN != 13335 || e.Name() != "CLOUDFLARE" || e.Category() != "internet" {
		t.Errorf("entry = %+v", e)
	}
	if _, err := (Spec{Name: "x", Kind: "nope"}).Parse([]byte("1.1.1.1")); err == nil || !strings.Contains(err.Error(), "source x") {
		t.Errorf("unknown kind: err = %v", err)
	}
}

func TestParseIPv4MatchesNetip(t *testing.T) {
	for _, s := range []string{"1.2.3.4", "0.0.0.0", "255.255.255.255", "256.1.1.1", "01.2.3.4", "1.2.3", "1.2.3.4.5", "1..2.3", "1.2.3.", "", "::1", "1.2.3.4a", "00.0.0.0", "10.0.0.0"} {
		a, ok := parseIPv4([]byte(s))
		b, err := netip.ParseAddr(s)
		if want := err == nil && b.Is4(); ok != want || (ok && a != b) {
			t.Errorf("parseIPv4(%q) = %v, %v; netip says %v, %v", s, a, ok, b, err)
		}
	}
}

func FuzzParseIPv4(f *testing.F) {
	f.Add("192.0.2.1")
	f.Fuzz(func(t *testing.T, s string) {
		a, ok := parseIPv4([]byte(s))
		b, err := netip.ParseAddr(s)
		if want := err == nil && b.Is4(); ok != want || (ok && a != b) {
			t.Fatalf("parseIPv4(%q) = %v, %v; netip says %v, %v", s, a, ok, b, err)
		}
	})
}
