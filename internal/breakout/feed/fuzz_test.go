package feed

import (
	"testing"

	"github.com/uplinkd/uplinkd/internal/breakout"
)

// Fuzz targets: no panic, and either an error with no entries or a non-empty
// list of valid, masked prefixes. Seeds are small slices of the fixtures.

func checkParse(t *testing.T, es []breakout.Entry, err error) {
	t.Helper()
	if err != nil {
		if es != nil {
			t.Fatalf("entries returned with error %v", err)
		}
		return
	}
	if len(es) == 0 {
		t.Fatal("no error and no entries")
	}
	for _, e := range es {
		if !e.Prefix().IsValid() || e.Prefix() != e.Prefix().Masked() {
			t.Fatalf("bad prefix %v accepted", e.Prefix())
		}
	}
}

func seedHead(f *testing.F, name string, n int) {
	b := fixture(f, name)
	f.Add(b[:min(n, len(b))])
}

func FuzzAWS(f *testing.F) {
	f.Add([]byte(`{"syncToken":"1","prefixes":[{"ip_prefix":"3.0.0.0/15","region":"ap-northeast-1","service":"EC2","network_border_group":"ap-northeast-1"}],"ipv6_prefixes":[{"ipv6_prefix":"2600:1f00::/24","region":"GLOBAL","service":"AMAZON"}]}`))
	seedHead(f, "aws-ip-ranges.json", 600)
	f.Fuzz(func(t *testing.T, b []byte) {
		es, err := ParseAWS(b, AWSFilter{Services: []string{"EC2"}})
		checkParse(t, es, err)
	})
}

func FuzzGoogle(f *testing.F) {
	f.Add([]byte(`{"syncToken":"1","prefixes":[{"ipv4Prefix":"8.8.8.0/24"},{"ipv6Prefix":"2001:4860::/32","scope":"x"}]}`))
	seedHead(f, "google-goog.json", 300)
	f.Fuzz(func(t *testing.T, b []byte) {
		es, err := ParseGoogle(b)
		checkParse(t, es, err)
	})
}

func FuzzPrefixList(f *testing.F) {
	f.Add(fixture(f, "cloudflare-ips-v4.txt"))
	f.Add(fixture(f, "cloudflare-ips-v6.txt"))
	f.Add(fixture(f, "asn/ipverse-AS40027-ipv4-aggregated.txt"))
	f.Add([]byte("# c\n192.0.2.1\n2001:db8::/32 # x"))
	f.Fuzz(func(t *testing.T, b []byte) {
		es, err := ParsePrefixList(b, breakout.Entry{})
		checkParse(t, es, err)
	})
}

func FuzzGitHub(f *testing.F) {
	f.Add([]byte(`{"verifiable_password_authentication":false,"web":["192.30.252.0/22","2a0a:a440::/29"]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		es, err := ParseGitHub(b, []string{"web"})
		checkParse(t, es, err)
	})
}

func FuzzM365(f *testing.F) {
	f.Add([]byte(`[{"id":1,"serviceArea":"Exchange","category":"Optimize","ips":["13.107.6.152/31","2603:1006::/40"]},{"id":2,"serviceArea":"Common","category":"Default"}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		es, err := ParseM365(b, M365Filter{})
		checkParse(t, es, err)
	})
}

func FuzzPfx2as(f *testing.F) {
	f.Add([]byte("1.0.0.0\t24\t13335\n1.2.4.0\t24\t24151_24409\n67.14.0.0\t17\t209_3356,6223,6224,19901"))
	f.Add(gzSeed("49.15.128.0\t20\t45271,55644\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		es, err := ParsePfx2as(b, nil)
		checkParse(t, es, err)
	})
}

func FuzzPrefixOrigin(f *testing.F) {
	seedHead(f, "pyasn-ipasn-20151101-AS2906-AS2516-AS55095.dat", 300)
	seedHead(f, "asn/caida-pfx2as-20240406-AS40027-ipv4.txt", 400)
	f.Fuzz(func(t *testing.T, b []byte) {
		es, err := ParseASN(b, nil)
		checkParse(t, es, err)
	})
}

// FuzzParseWithin: whatever the body and kind, a set past the limits is
// never returned.
func FuzzParseWithin(f *testing.F) {
	f.Add([]byte("198.18.0.0/24\n198.18.0.0/24\n198.18.0.0/24\n"), uint8(0))
	f.Add([]byte("198.18.0.0\t24\t2906\n198.18.1.0\t24\t2906\n198.18.2.0\t24\t2906\n"), uint8(1))
	f.Add(repeated(f, "198.18.0.0/24\n", 10000, true), uint8(0))
	kinds := []Spec{{Kind: KindURL}, {Kind: KindASN}, {Kind: KindASN, ASNs: []uint32{2906}}, {Kind: KindAWS}, {Kind: KindGoogle}}
	lim := Limits{MaxBytes: 4096, MaxEntries: 2}
	f.Fuzz(func(t *testing.T, b []byte, kind uint8) {
		es, err := kinds[int(kind)%len(kinds)].ParseWithin(lim, b)
		checkParse(t, es, err)
		if len(es) > lim.MaxEntries {
			t.Fatalf("%d entries returned, limit %d", len(es), lim.MaxEntries)
		}
	})
}
