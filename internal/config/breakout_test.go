package config

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// goodEdge plus a [breakout] section from line 27 on.
const breakoutTail = `
[breakout]
gateway = "198.18.5.1"

[[breakout.source]]
name = "aws"
type = "aws"
url = "https://ip-ranges.amazonaws.com/ip-ranges.json"
services = ["EC2"]
`

func TestBadBreakout(t *testing.T) {
	tests := []struct {
		name  string
		pairs []string
		want  []string
	}{
		{"gateway missing", []string{`gateway = "198.18.5.1"` + "\n", ""},
			[]string{`27:1: breakout: missing required key "gateway" (add the local gateway breakout traffic leaves by, e.g. gateway = "198.18.5.1" (the home 5G router))`}},
		{"gateway not an address", []string{`gateway = "198.18.5.1"`, `gateway = "5g-router"`},
			[]string{`28:1: breakout.gateway: "5g-router" is not a gateway address (write the carrier router's IP, or leave gateway out to learn it from the interface)`}},
		{"table in the uplinks' range", []string{`gateway = "198.18.5.1"`, "gateway = \"198.18.5.1\"\ntable = 6001"},
			[]string{`29:1: breakout.table: 6001 is in the uplinks' table range 6001-6099 (use another; the default is 6100)`}},
		{"rule after main", []string{`gateway = "198.18.5.1"`, "gateway = \"198.18.5.1\"\nrule_priority = 32766"},
			[]string{`29:1: breakout.rule_priority: 32766 is not a usable rule priority (1 to 32765: it must come before the main table's 32766)`}},
		{"unknown source type", []string{`type = "aws"`, `type = "azure"`},
			[]string{`32:1: breakout.source[0].type: "azure" is not a source type (use one of aws, google, cloudflare, github, m365, url, asn, file, static, dns)`}},
		{"source without url", []string{`url = "https://ip-ranges.amazonaws.com/ip-ranges.json"` + "\n", ""},
			[]string{`30:1: breakout.source[0]: type aws needs url = "https://…" (the feed to fetch)`}},
		{"url not http", []string{`url = "https://ip-ranges.amazonaws.com/ip-ranges.json"`, `url = "ftp://example.net/x"`},
			[]string{`33:1: breakout.source[0].url: "ftp://example.net/x" is not an http(s) URL`}},
		{"asn source without asns", []string{`type = "aws"`, `type = "asn"`},
			[]string{`30:1: breakout.source[0]: an asn source needs asns = [2906, …] (the origin ASNs to take)`}},
		{"refresh too often", []string{`services = ["EC2"]`, "services = [\"EC2\"]\nrefresh = 5"},
			[]string{`35:1: breakout.source[0].refresh: 5 is out of range (seconds, 60 to 604800; seconds between refreshes)`}},
		{"dns source without names", []string{`type = "aws"`, `type = "dns"`},
			[]string{`30:1: breakout.source[0]: a dns source needs names = ["media.example.net", …]`}},
		{"dns name with a space", []string{`type = "aws"`, "type = \"dns\"\nnames = [\"media.example.net\", \"bad name\"]"},
			[]string{`33:31: breakout.source[0].names[1]: "bad name" is not a DNS name (write a host name, e.g. "media.example.net")`}},
		{"resolver by name", []string{`type = "aws"`, "type = \"dns\"\nnames = [\"media.example.net\"]\nresolver = \"ns.example.net\""},
			[]string{`34:1: breakout.source[0].resolver: "ns.example.net" is not a resolver address (write ip:port, e.g. "198.18.0.53:53")`}},
		{"churn over 100", []string{`gateway = "198.18.5.1"`, "gateway = \"198.18.5.1\"\nmax_churn_percent = 150"},
			[]string{"29:1: breakout.max_churn_percent: 150 is out of range (1 to 100; an update removing more of a source's set is held until `uplinkd breakout accept`)"}},
		{"plain http", []string{`url = "https://ip-ranges.amazonaws.com/ip-ranges.json"`, `url = "http://feeds.example.net/ip-ranges.json"`},
			[]string{`33:1: breakout.source[0].url: "http://feeds.example.net/ip-ranges.json" is plain http: anyone on the path could rewrite the feed (use https, or add allow_http = true to this source if the path is one you trust)`}},
		{"plain http in urls", []string{`url = "https://ip-ranges.amazonaws.com/ip-ranges.json"`, `urls = ["https://a.example.net/goog.json", "HTTP://b.example.net/cloud.json"]`},
			[]string{`33:44: breakout.source[0].urls[1]: "HTTP://b.example.net/cloud.json" is plain http: anyone on the path could rewrite the feed (use https, or add allow_http = true to this source if the path is one you trust)`}},
		{"allow_http without a url", []string{`url = "https://ip-ranges.amazonaws.com/ip-ranges.json"` + "\n", "", `type = "aws"`, "type = \"static\"\nprefixes = [\"198.51.100.0/24\"]\nallow_http = true"},
			[]string{`34:1: breakout.source[0].allow_http: applies only to a source fetched from a url (remove it)`}},
		{"source coverage 0", []string{`services = ["EC2"]`, "services = [\"EC2\"]\nmax_coverage_percent = 0"},
			[]string{`35:1: breakout.source[0].max_coverage_percent: 0 is out of range (1 to 100; the share of the IPv4 address space this source may cover)`}},
		{"total coverage over 100", []string{`gateway = "198.18.5.1"`, "gateway = \"198.18.5.1\"\nmax_total_coverage_percent = 101"},
			[]string{`29:1: breakout.max_total_coverage_percent: 101 is out of range (1 to 100; the share of the IPv4 address space all sources together may cover)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := edit(t, goodEdge+breakoutTail, tt.pairs...)
			_, err := parse("t.toml", []byte(src), testKeys)
			if diff := cmp.Diff(tt.want, positions(t, err)); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestBreakoutGuardOptions: the guards' options and a source's opt-ins are
// read as written; plain http passes with allow_http.
func TestBreakoutGuardOptions(t *testing.T) {
	src := edit(t, goodEdge+breakoutTail,
		`gateway = "198.18.5.1"`, "gateway = \"198.18.5.1\"\nmax_growth_percent = 300\nmax_coverage_percent = 5\nmax_total_coverage_percent = 75\nmax_entries = 1500000\nread_back_interval = 10",
		`url = "https://ip-ranges.amazonaws.com/ip-ranges.json"`, "url = \"http://198.18.0.80/ip-ranges.json\"\nallow_http = true\nmax_coverage_percent = 70")
	c, err := parse("t.toml", []byte(src), testKeys)
	if err != nil {
		t.Fatal(err)
	}
	b := c.Breakout
	got := []any{b.MaxGrowth, b.MaxCoverage, b.MaxTotalCoverage, b.MaxEntries, b.ReadBack, b.Sources[0].AllowHTTP, b.Sources[0].MaxCoverage, b.Sources[0].URLs}
	want := []any{300, 5, 75, 1_500_000, 10 * time.Second, true, 70, []string{"http://198.18.0.80/ip-ranges.json"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestBreakoutInHubFile(t *testing.T) {
	_, err := parse("t.toml", []byte(goodHub+"\n[breakout]\ngateway = \"198.18.5.1\"\n"), testKeys)
	want := []string{`28:1: wrong role: [breakout] belongs in a role = "edge" file (the hub sends everything out of its public interface)`}
	if diff := cmp.Diff(want, positions(t, err)); diff != "" {
		t.Errorf("errors mismatch (-want +got):\n%s", diff)
	}
}

// TestDNSSource: names are kept as written; a resolver without a port
// gets 53.
func TestDNSSource(t *testing.T) {
	src := goodEdge + breakoutTail + `
[[breakout.source]]
name = "media"
type = "dns"
names = ["media.example.net", "cdn.example.com."]
resolver = "198.18.0.53"
`
	c, err := parse("t.toml", []byte(src), testKeys)
	if err != nil {
		t.Fatal(err)
	}
	got := c.Breakout.Sources[1]
	want := BreakoutSource{Name: "media", Type: "dns", Names: []string{"media.example.net", "cdn.example.com."},
		Resolver: "198.18.0.53:53", Refresh: 86400 * time.Second}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("source (-want +got):\n%s", diff)
	}
}
