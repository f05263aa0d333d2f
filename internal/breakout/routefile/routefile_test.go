package routefile_test

import (
	"bytes"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/uplinkd/uplinkd/internal/breakout"
	"github.com/uplinkd/uplinkd/internal/breakout/feed"
	"github.com/uplinkd/uplinkd/internal/breakout/routefile"
)

var netipOpt = cmpopts.EquateComparable(netip.Prefix{}, netip.Addr{})

// seed is the format users already have (DESIGN.md), byte for byte as
// this package writes it.
const seed = `- asn: 16509
  asn_name: AMAZON-02
  category: internet
  name: AMAZON
  routes:
  - ip: 3.0.0.0/15
    network_border_group: ap-southeast-1
    region: ap-southeast-1
    service: EC2
  - ip: 2600:1f00::/24
    region: GLOBAL
    service: AMAZON
`

func TestSeedRoundTrip(t *testing.T) {
	es, err := routefile.Read([]byte(seed), "aws")
	if err != nil {
		t.Fatal(err)
	}
	want := []breakout.Entry{
		breakout.NewEntry(netip.MustParsePrefix("3.0.0.0/15"), 16509, breakout.Attrs{Source: "aws", ASNName: "AMAZON-02", Category: "internet", Name: "AMAZON", Service: "EC2", Region: "ap-southeast-1", NetworkBorderGroup: "ap-southeast-1"}),
		breakout.NewEntry(netip.MustParsePrefix("2600:1f00::/24"), 16509, breakout.Attrs{Source: "aws", ASNName: "AMAZON-02", Category: "internet", Name: "AMAZON", Service: "AMAZON", Region: "GLOBAL"}),
	}
	if diff := cmp.Diff(want, es, netipOpt); diff != "" {
		t.Fatalf("read (-want +got):\n%s", diff)
	}
	var b bytes.Buffer
	if err := routefile.Write(&b, es); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(seed, b.String()); diff != "" {
		t.Errorf("write (-want +got):\n%s", diff)
	}
}

func TestReadForms(t *testing.T) {
	mapping := "asn: AS2906\nname: NETFLIX\nroutes:\n- ip: 23.246.0.0/18\n- ip: 192.0.2.1\n"
	multi := "- name: A\n  routes:\n  - ip: 10.0.0.0/8\n---\nname: B\nroutes:\n- ip: 2001:db8::/32\n"
	tests := []struct {
		name, in string
		want     []string
	}{
		{"single mapping", mapping, []string{"AS2906 NETFLIX 23.246.0.0/18", "AS2906 NETFLIX 192.0.2.1/32"}},
		{"multi document", multi, []string{"AS0 A 10.0.0.0/8", "AS0 B 2001:db8::/32"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es, err := routefile.Read([]byte(tt.in), "s")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range es {
				got = append(got, "AS"+strconv.FormatUint(uint64(e.ASN), 10)+" "+e.Name()+" "+e.Prefix().String())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string // substrings, each with its line
	}{
		{"unknown route field", "- name: A\n  routes:\n  - ip: 10.0.0.0/8\n    rgion: x\n", []string{`line 4: unknown field "rgion" in route`}},
		{"unknown doc field and bad ip", "- name: A\n  nmae: B\n  routes:\n  - ip: 10.0.0.1/8\n", []string{`line 2: unknown field "nmae"`, "line 4: ip 10.0.0.1/8 has host bits set"}},
		{"no ip", "- name: A\n  routes:\n  - region: x\n", []string{"line 3: route has no ip"}},
		{"no routes", "- name: A\n", []string{"line 1: document has no routes"}},
		{"bad asn", "- asn: x\n  routes:\n  - ip: 10.0.0.0/8\n", []string{`line 1: asn "x" is not a number`}},
		{"duplicate", "- name: A\n  name: B\n  routes: []\n", []string{`line 2: duplicate field "name"`}},
		{"scalar", "hello\n", []string{"line 1: want a list"}},
		{"yaml syntax", "- name: [\n", []string{"line"}},
		{"empty", "", []string{"no routes"}},
		{"empty routes", "- name: A\n  routes: []\n", []string{"no routes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es, err := routefile.Read([]byte(tt.in), "s")
			if err == nil {
				t.Fatalf("no error, entries %v", es)
			}
			if es != nil {
				t.Errorf("entries returned with error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	if _, err := routefile.Read(nil, "s"); !errors.Is(err, routefile.ErrEmpty) {
		t.Errorf("empty file: %v, want ErrEmpty", err)
	}
}

// TestFixtureRoundTrip: the AWS fixture written as a route file reads back
// to the same (sorted, deduplicated) entries, and rewriting gives the same
// bytes.
func TestFixtureRoundTrip(t *testing.T) {
	body, err := os.ReadFile("../testdata/aws-ip-ranges.json")
	if err != nil {
		t.Fatal(err)
	}
	spec := feed.Spec{Name: "aws", Kind: feed.KindAWS, Meta: breakout.NewEntry(netip.Prefix{}, 16509, breakout.Attrs{ASNName: "AMAZON-02", Category: "internet", Name: "AMAZON"})}
	es, err := spec.Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	var b1, b2 bytes.Buffer
	if err := routefile.Write(&b1, es); err != nil {
		t.Fatal(err)
	}
	back, err := routefile.Read(b1.Bytes(), "aws")
	if err != nil {
		t.Fatal(err)
	}
	if err := routefile.Write(&b2, back); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b1.Bytes(), b2.Bytes()) {
		t.Error("rewrite of a written file differs")
	}
	// Entries written are the parsed ones, sorted and deduplicated: the
	// fixture has 8971 + 4373 records and no exact duplicates.
	breakout.SortEntries(es)
	if diff := cmp.Diff(es, back, netipOpt); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if len(back) != 8971+4373 {
		t.Errorf("%d entries, want %d", len(back), 8971+4373)
	}
	// Input order must not matter.
	rev := append([]breakout.Entry(nil), es...)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	var b3 bytes.Buffer
	routefile.Write(&b3, rev)
	if !bytes.Equal(b1.Bytes(), b3.Bytes()) {
		t.Error("output depends on input order")
	}
}

func TestFileName(t *testing.T) {
	tests := []struct {
		e    breakout.Entry
		want string
	}{
		{breakout.NewEntry(netip.Prefix{}, 16509, breakout.Attrs{Name: "AMAZON"}), "AS16509_AMAZON.yml"},
		{breakout.NewEntry(netip.Prefix{}, 0, breakout.Attrs{Name: "Google Cloud"}), "Google_Cloud.yml"},
		{breakout.NewEntry(netip.Prefix{}, 0, breakout.Attrs{Source: "cf"}), "cf.yml"},
		{breakout.NewEntry(netip.Prefix{}, 0, breakout.Attrs{Name: "../etc/passwd"}), ".._etc_passwd.yml"},
	}
	for _, tt := range tests {
		if got := routefile.FileName(tt.e); got != tt.want {
			t.Errorf("FileName(%+v) = %q, want %q", tt.e, got, tt.want)
		}
	}
}

func FuzzRouteFile(f *testing.F) {
	f.Add([]byte(seed))
	f.Add([]byte("name: A\nroutes:\n- ip: 192.0.2.1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		es, err := routefile.Read(b, "s")
		if err != nil {
			return
		}
		var w1, w2 bytes.Buffer
		if err := routefile.Write(&w1, es); err != nil {
			t.Fatal(err)
		}
		back, err := routefile.Read(w1.Bytes(), "s")
		if err != nil {
			t.Fatalf("written file does not read back: %v\n%s", err, w1.Bytes())
		}
		routefile.Write(&w2, back)
		if !bytes.Equal(w1.Bytes(), w2.Bytes()) {
			t.Fatalf("not stable:\n%s\n---\n%s", w1.Bytes(), w2.Bytes())
		}
	})
}

func TestWriteFile(t *testing.T) {
	es, err := routefile.Read([]byte(seed), "aws")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), routefile.FileName(es[0]))
	for i, want := range []bool{true, false} {
		changed, err := routefile.WriteFile(path, es)
		if err != nil || changed != want {
			t.Fatalf("write %d: changed %v, %v; want %v", i, changed, err, want)
		}
	}
	got, _ := os.ReadFile(path)
	if string(got) != seed || filepath.Base(path) != "AS16509_AMAZON.yml" {
		t.Errorf("%s holds:\n%s", path, got)
	}
	if m, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".routefile-*")); len(m) != 0 {
		t.Errorf("temporary files left: %v", m)
	}
}
