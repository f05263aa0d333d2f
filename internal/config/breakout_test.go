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
			[]string{`29:1: breakout.max_churn_percent: 150 is out of range (1 to 100; an update removing more of the installed set waits for force = true)`}},
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
