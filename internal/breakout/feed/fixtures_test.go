package feed

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/uplinkd/uplinkd/internal/breakout"
)

// The expected counts below were computed from the fixture files with
// python3 (json.load / ipaddress / gzip), independently of this package.
// See the comment on each case for the expression.

// netipOpt lets cmp compare netip values, whose fields are unexported.
var netipOpt = cmpopts.EquateComparable(netip.Prefix{}, netip.Addr{})

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// familyCount returns (IPv4 entries, IPv6 entries).
func familyCount(es []breakout.Entry) [2]int {
	var n [2]int
	for _, e := range es {
		if e.Prefix().Addr().Is4() {
			n[0]++
		} else {
			n[1]++
		}
	}
	return n
}

func TestAWSFixture(t *testing.T) {
	body := fixture(t, "aws-ip-ranges.json")
	tests := []struct {
		name string
		f    AWSFilter
		want [2]int
	}{
		// len(a['prefixes']), len(a['ipv6_prefixes'])
		{"all", AWSFilter{}, [2]int{8971, 4373}},
		// sum(e['service']=='EC2' for e in P), same for P6
		{"EC2", AWSFilter{Services: []string{"EC2"}}, [2]int{1457, 1566}},
		{"AMAZON", AWSFilter{Services: []string{"AMAZON"}}, [2]int{5171, 2113}},
		{"CLOUDFRONT", AWSFilter{Services: []string{"CLOUDFRONT"}}, [2]int{193, 27}},
		{"GLOBALACCELERATOR", AWSFilter{Services: []string{"GLOBALACCELERATOR"}}, [2]int{109, 40}},
		// service=='S3' and region=='ap-northeast-1'
		{"S3 ap-northeast-1", AWSFilter{Services: []string{"S3"}, Regions: []string{"ap-northeast-1"}}, [2]int{16, 10}},
		{"EC2 ap-northeast-1", AWSFilter{Services: []string{"EC2"}, Regions: []string{"ap-northeast-1"}}, [2]int{67, 54}},
		// service in {EC2,S3} and network_border_group=='ap-northeast-1'
		{"EC2+S3 nbg", AWSFilter{Services: []string{"EC2", "S3"}, NetworkBorderGroups: []string{"ap-northeast-1"}}, [2]int{81, 60}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es, err := ParseAWS(body, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, familyCount(es)); diff != "" {
				t.Errorf("v4/v6 counts (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAWSExactService: 3.112.0.0/14 is listed under AMAZON and EC2; the EC2
// filter must yield it once, tagged EC2.
func TestAWSExactService(t *testing.T) {
	es, err := ParseAWS(fixture(t, "aws-ip-ranges.json"), AWSFilter{Services: []string{"EC2"}})
	if err != nil {
		t.Fatal(err)
	}
	p := netip.MustParsePrefix("3.112.0.0/14")
	var got []breakout.Entry
	for _, e := range es {
		if e.Service() != "EC2" {
			t.Fatalf("entry %v has service %s", e.Prefix(), e.Service())
		}
		if e.Prefix() == p {
			got = append(got, e)
		}
	}
	want := []breakout.Entry{breakout.NewEntry(p, 0, breakout.Attrs{Service: "EC2", Region: "ap-northeast-1", NetworkBorderGroup: "ap-northeast-1"})}
	if diff := cmp.Diff(want, got, netipOpt); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestGoogleFixtures(t *testing.T) {
	goog, cloud := fixture(t, "google-goog.json"), fixture(t, "google-cloud.json")
	es, err := ParseGoogle(goog)
	if err != nil {
		t.Fatal(err)
	}
	// 73 ipv4Prefix, 11 ipv6Prefix (SOURCES.md, checked with python3)
	if diff := cmp.Diff([2]int{73, 11}, familyCount(es)); diff != "" {
		t.Errorf("goog (-want +got):\n%s", diff)
	}
	es, err = ParseGoogle(cloud)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([2]int{736, 46}, familyCount(es)); diff != "" {
		t.Errorf("cloud (-want +got):\n%s", diff)
	}
	if es[0].Service() != "Google Cloud" || es[0].Region() != "africa-south1" {
		t.Errorf("cloud entry 0 = %+v, want service and scope kept", es[0])
	}
	// python3: collapse goog, address_exclude every cloud network,
	// collapse_addresses again: 304 prefixes, 225 of them IPv4.
	es, err = ParseGoogleMinusCloud(goog, cloud)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([2]int{225, 79}, familyCount(es)); diff != "" {
		t.Errorf("goog minus cloud (-want +got):\n%s", diff)
	}
}

func TestPrefixListFixtures(t *testing.T) {
	tests := []struct {
		file string
		want [2]int
	}{
		// grep -c . (no comments in Cloudflare's lists; no final newline)
		{"cloudflare-ips-v4.txt", [2]int{15, 0}},
		{"cloudflare-ips-v6.txt", [2]int{0, 7}},
		// grep -v '^#' FILE | grep -c .
		{"asn/ipverse-AS2516-ipv4-aggregated.txt", [2]int{180, 0}},
		{"asn/ipverse-AS2906-ipv4-aggregated.txt", [2]int{14, 0}},
		{"asn/ipverse-AS38631-ipv4-aggregated.txt", [2]int{13, 0}},
		{"asn/ipverse-AS40027-ipv4-aggregated.txt", [2]int{5, 0}},
		{"asn/ipverse-AS55095-ipv4-aggregated.txt", [2]int{12, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			es, err := ParsePrefixList(fixture(t, tt.file), breakout.NewEntry(netip.Prefix{}, 0, breakout.Attrs{Name: "X"}))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, familyCount(es)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if es[0].Name() != "X" {
				t.Errorf("template not applied: %+v", es[0])
			}
		})
	}
}

func TestGitHubFixture(t *testing.T) {
	body := fixture(t, "github-meta.json")
	// python3: len(meta[k]), sum(':' not in x for x in meta[k])
	tests := []struct {
		key  string
		want [2]int
	}{
		{"web", [2]int{19, 2}},
		{"api", [2]int{19, 2}},
		{"git", [2]int{34, 2}},
		{"hooks", [2]int{4, 2}},
		{"actions", [2]int{4340, 974}},
		{"actions_macos", [2]int{311, 0}},
		{"copilot", [2]int{13, 2}},
		{"pages", [2]int{6, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			es, err := ParseGitHub(body, []string{tt.key})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, familyCount(es)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	es, err := ParseGitHub(body, []string{"web", "api", "git"})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 21+21+36 {
		t.Errorf("web+api+git = %d entries, want 78", len(es))
	}
}

func TestM365Fixture(t *testing.T) {
	body := fixture(t, "m365-endpoints.json")
	// python3: ips of sets with category in C (and serviceArea in S):
	// total, IPv4 = sum(':' not in ip)
	tests := []struct {
		name string
		f    M365Filter
		want [2]int
	}{
		{"all", M365Filter{}, [2]int{90, 204}},
		{"Optimize", M365Filter{Categories: []string{"Optimize"}}, [2]int{19, 30}},
		{"Optimize+Allow", M365Filter{Categories: []string{"Optimize", "Allow"}}, [2]int{90, 204}},
		{"Exchange Optimize", M365Filter{Categories: []string{"Optimize"}, ServiceAreas: []string{"Exchange"}}, [2]int{11, 27}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es, err := ParseM365(body, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, familyCount(es)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestPfx2asFixture parses the whole 998,042-row CAIDA table.
func TestPfx2asFixture(t *testing.T) {
	if testing.Short() {
		t.Skip("large table")
	}
	body := fixture(t, "bgp-caida-routeviews-prefix2as-v4-20240406.pfx2as.gz")
	es, err := ParsePfx2as(body, nil)
	if err != nil {
		t.Fatal(err)
	}
	// zcat | wc -l
	if len(es) != 998042 {
		t.Errorf("whole table: %d rows, want 998042", len(es))
	}
	// zcat | awk: split($3, a, /[_,]/) holds the ASN; "moas" counts those
	// rows whose origin field is not the ASN alone.
	tests := []struct {
		asn        uint32
		rows, moas int
	}{
		{16509, 9828, 20},
		{2906, 212, 17},
	}
	for _, tt := range tests {
		es, err := ParsePfx2as(body, []uint32{tt.asn})
		if err != nil {
			t.Fatal(err)
		}
		if len(es) != tt.rows {
			t.Errorf("AS%d: %d prefixes, want %d", tt.asn, len(es), tt.rows)
		}
		for _, e := range es {
			if e.ASN != tt.asn {
				t.Fatalf("AS%d: entry %v recorded as AS%d", tt.asn, e.Prefix(), e.ASN)
			}
		}
	}
}

func TestPrefixOriginFixtures(t *testing.T) {
	tests := []struct {
		file string
		asn  uint32
		want [2]int
	}{
		// grep -v '^#' FILE | grep -c . (MOAS rows included)
		{"asn/caida-pfx2as-20240406-AS2516-ipv4.txt", 2516, [2]int{522, 0}},
		{"asn/caida-pfx2as-20240406-AS2906-ipv4.txt", 2906, [2]int{212, 0}},
		{"asn/caida-pfx2as-20240406-AS38631-ipv4.txt", 38631, [2]int{66, 0}},
		{"asn/caida-pfx2as-20240406-AS40027-ipv4.txt", 40027, [2]int{12, 0}},
		{"asn/caida-pfx2as-20240406-AS55095-ipv4.txt", 55095, [2]int{19, 0}},
		// awk -F'\t' '$2==ASN' pyasn-*.dat, split by ':' in $1
		{"pyasn-ipasn-20151101-AS2906-AS2516-AS55095.dat", 2906, [2]int{124, 106}},
		{"pyasn-ipasn-20151101-AS2906-AS2516-AS55095.dat", 2516, [2]int{553, 7}},
		{"pyasn-ipasn-20151101-AS2906-AS2516-AS55095.dat", 55095, [2]int{18, 5}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			es, err := ParseASN(fixture(t, tt.file), []uint32{tt.asn})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, familyCount(es)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestSpecKinds runs every kind through Spec.Parse on its fixture.
func TestSpecKinds(t *testing.T) {
	tests := []struct {
		spec   Spec
		bodies []string
		want   int
	}{
		{Spec{Kind: KindAWS, Services: []string{"CLOUDFRONT"}}, []string{"aws-ip-ranges.json"}, 193 + 27},
		{Spec{Kind: KindGoogle}, []string{"google-goog.json"}, 84},
		{Spec{Kind: KindGoogle}, []string{"google-goog.json", "google-cloud.json"}, 304},
		{Spec{Kind: KindCloudflare}, []string{"cloudflare-ips-v6.txt"}, 7},
		{Spec{Kind: KindGitHub, Keys: []string{"git"}}, []string{"github-meta.json"}, 36},
		{Spec{Kind: KindM365, Categories: []string{"Optimize"}}, []string{"m365-endpoints.json"}, 49},
		{Spec{Kind: KindURL}, []string{"asn/ipverse-AS55095-ipv4-aggregated.txt"}, 12},
		{Spec{Kind: KindASN, ASNs: []uint32{2906}}, []string{"asn/ipverse-AS2906-ipv4-aggregated.txt"}, 14},
		{Spec{Kind: KindASN, ASNs: []uint32{2906}}, []string{"asn/caida-pfx2as-20240406-AS2906-ipv4.txt"}, 212},
	}
	for _, tt := range tests {
		t.Run(string(tt.spec.Kind)+" "+tt.bodies[0], func(t *testing.T) {
			var bodies [][]byte
			for _, b := range tt.bodies {
				bodies = append(bodies, fixture(t, b))
			}
			tt.spec.Name = "src"
			es, err := tt.spec.Parse(bodies...)
			if err != nil {
				t.Fatal(err)
			}
			if len(es) != tt.want {
				t.Errorf("%d entries, want %d", len(es), tt.want)
			}
			if es[0].Source() != "src" {
				t.Errorf("source not set: %+v", es[0])
			}
			if tt.spec.Kind == KindASN && es[0].ASN != 2906 {
				t.Errorf("ASN not recorded: %+v", es[0])
			}
		})
	}
}
