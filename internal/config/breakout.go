package config

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// Breakout defaults: a table and rule of its own, after the uplink block.
const (
	BreakoutTable    = 6100
	BreakoutPriority = 6100
)

var sourceTypes = []string{"aws", "google", "cloudflare", "github", "m365", "url", "asn", "file", "static", "dns"}

// validateBreakout checks [breakout] and its [[breakout.source]] tables.
func validateBreakout(v *validator, raw *rawFile, c *Config) {
	if v.ix.bad["breakout"] {
		return
	}
	_, written := v.ix.pos["breakout"]
	if !written {
		return
	}
	if c.Role == RoleHub {
		v.errorAt(v.at("breakout"), `wrong role: [breakout] belongs in a role = "edge" file (the hub sends everything out of its public interface)`)
		return
	}
	b := raw.Breakout
	out := &c.Breakout
	if v.required("breakout", "gateway", `add the local gateway breakout traffic leaves by, e.g. gateway = "198.18.5.1" (the home 5G router)`) {
		out.Gateway = v.gateway("breakout.gateway", b.Gateway)
	}
	if v.has("breakout.gateway6") {
		out.Gateway6 = v.gateway("breakout.gateway6", b.Gateway6)
	}
	if v.has("breakout.interface") && v.checkIfName("breakout.interface", b.Interface) {
		out.Interface = b.Interface
	}
	out.Table = BreakoutTable
	if v.has("breakout.table") {
		out.Table = v.breakoutTable(b.Table)
	}
	out.RulePriority = BreakoutPriority
	if v.has("breakout.rule_priority") {
		out.RulePriority = v.breakoutPriority(b.RulePriority)
	}
	out.MinBits4 = int(v.intIn("breakout.min_length_v4", b.MinLength4, 8, 1, 32, "the shortest IPv4 prefix a feed may add"))
	out.MinBits6 = int(v.intIn("breakout.min_length_v6", b.MinLength6, 16, 1, 128, "the shortest IPv6 prefix a feed may add"))
	out.MaxPrefixes = int(v.intIn("breakout.max_prefixes", b.MaxPrefixes, 2_000_000, 1, 10_000_000, "the most prefixes breakout may install"))
	out.MaxChurn = int(v.intIn("breakout.max_churn_percent", b.MaxChurnPercent, 50, 1, 100, "an update removing more of a source's set is held until `uplinkd breakout accept`"))
	out.MaxGrowth = int(v.intIn("breakout.max_growth_percent", b.MaxGrowth, 100, 1, 100_000, "an update adding more to a source's set is held until `uplinkd breakout accept`"))
	out.MaxCoverage = int(v.intIn("breakout.max_coverage_percent", b.MaxCoverage, 10, 1, 100, "the share of the IPv4 address space one source may cover; all of AWS is 2.2"))
	out.MaxTotalCoverage = int(v.intIn("breakout.max_total_coverage_percent", b.MaxTotalCover, 20, 1, 100, "the share of the IPv4 address space all sources together may cover"))
	out.MaxEntries = int(v.intIn("breakout.max_entries", b.MaxEntries, 2_000_000, 1, 10_000_000, "entries one source's feed may list, duplicates included"))
	out.ReadBack = v.seconds("breakout.read_back_interval", b.ReadBack, 30, 1, 3600, "how often the rule and table are checked and repaired")
	out.Force = b.Force
	out.Probe = true
	if v.has("breakout.probe") {
		out.Probe = b.Probe
	}
	out.ProbeEvery = v.millis("breakout.probe_interval_ms", b.ProbeMS, 1000, 100, 60000, "how often the gateway is pinged")
	out.DownAfter = int(v.intIn("breakout.probe_down_after", b.DownAfter, 3, 1, 100, "missed pings before breakout is withdrawn"))
	out.UpAfter = int(v.intIn("breakout.probe_up_after", b.UpAfter, 2, 1, 100, "answered pings before it returns"))
	out.FetchTimeout = v.seconds("breakout.fetch_timeout", b.FetchTimeout, 30, 1, 3600, "one feed download")
	out.MaxFeedBytes = v.intIn("breakout.max_feed_mb", b.MaxFeedMB, 32, 1, 1024, "a larger feed is refused, not truncated") << 20
	for i, s := range b.Source {
		out.Sources = append(out.Sources, v.breakoutSource(i, s))
	}
	for i, p := range b.Peer {
		out.Peers = append(out.Peers, v.breakoutPeer(i, p))
	}
}

// breakoutPeer validates one [[breakout.peer]], a BGP receiver.
func (v *validator) breakoutPeer(i int, r rawBreakoutPeer) BreakoutPeer {
	p := fmt.Sprintf("breakout.peer[%d]", i)
	var out BreakoutPeer
	if v.required(p, "address", `add the receiver's address, e.g. address = "198.18.10.254"`) {
		a, err := netip.ParseAddr(r.Address)
		if err != nil {
			v.errorf(p+".address", "%q is not an IP address", r.Address)
		} else {
			out.Address = a
		}
	}
	if v.required(p, "asn", "add the receiver's AS number, e.g. asn = 65000") {
		if r.ASN < 1 || r.ASN > 4294967294 {
			v.errorf(p+".asn", "%d is not an AS number", r.ASN)
		} else {
			out.ASN = uint32(r.ASN)
		}
	}
	out.Port = 179
	if v.has(p + ".port") {
		out.Port = v.port(p+".port", r.Port)
	}
	return out
}

func (v *validator) breakoutTable(n int64) int {
	switch {
	case n < 1 || n > maxTable || (n >= 253 && n <= 255):
		v.errorf("breakout.table", "%d cannot hold breakout routes (use a table of its own; the default is %d)", n, BreakoutTable)
	case n > TableBase && n < TableBase+RuleBlockSize:
		v.errorf("breakout.table", "%d is in the uplinks' table range %d-%d (use another; the default is %d)", n, TableBase+1, TableBase+RuleBlockSize-1, BreakoutTable)
	default:
		return int(n)
	}
	return BreakoutTable
}

func (v *validator) breakoutPriority(n int64) int {
	switch {
	case n < 1 || n >= 32766:
		v.errorf("breakout.rule_priority", "%d is not a usable rule priority (1 to 32765: it must come before the main table's 32766)", n)
	case n >= RulePriority && n < RulePriority+RuleBlockSize:
		v.errorf("breakout.rule_priority", "%d is in the uplinks' rule block %d-%d (use another; the default is %d)", n, RulePriority, RulePriority+RuleBlockSize-1, BreakoutPriority)
	default:
		return int(n)
	}
	return BreakoutPriority
}

// intIn reads an integer with a default and a range.
func (v *validator) intIn(path string, n, def, lo, hi int64, what string) int64 {
	if !v.has(path) {
		return def
	}
	if n < lo || n > hi {
		v.errorf(path, "%d is out of range (%d to %d; %s)", n, lo, hi, what)
		return def
	}
	return n
}

// breakoutSource validates one [[breakout.source]].
func (v *validator) breakoutSource(i int, s rawBreakoutSource) BreakoutSource {
	p := fmt.Sprintf("breakout.source[%d]", i)
	var out BreakoutSource
	if v.required(p, "name", `name the source, e.g. name = "aws-ec2-tokyo" (it names its state and route file)`) && v.checkName(p+".name", s.Name) {
		if v.unique("breakout.source", s.Name, claim{p + ".name", true}, "name", "each source needs its own name") {
			out.Name = s.Name
		}
	}
	if v.required(p, "type", "say what the feed is, e.g. type = \"aws\" (one of "+strings.Join(sourceTypes, ", ")+")") {
		if contains(sourceTypes, s.Type) {
			out.Type = s.Type
		} else {
			v.errorf(p+".type", "%q is not a source type (use one of %s)", s.Type, strings.Join(sourceTypes, ", "))
		}
	}
	out.URLs = v.sourceURLs(p, s)
	out.Files, out.Services, out.Regions = s.Files, s.Services, s.Regions
	out.NetworkBorderGroups, out.Keys = s.NetworkBorderGroups, s.Keys
	out.Categories, out.ServiceAreas = s.Categories, s.ServiceAreas
	for j, a := range s.ASNs {
		if a < 1 || a > 4294967294 {
			v.errorf(fmt.Sprintf("%s.asns[%d]", p, j), "%d is not an AS number", a)
			continue
		}
		out.ASNs = append(out.ASNs, uint32(a))
	}
	out.Prefixes = v.prefixList(p+".prefixes", s.Prefixes, nil)
	out.Refresh = v.seconds(p+".refresh", s.Refresh, 86400, 60, 7*86400, "seconds between refreshes")
	out.Header = v.routeHeader(p+".header", s.Header)
	out.Names = v.dnsNames(p+".names", s.Names)
	if v.has(p + ".resolver") {
		out.Resolver = v.resolver(p+".resolver", s.Resolver)
	}
	out.AllowHTTP = s.AllowHTTP
	if v.has(p + ".max_coverage_percent") {
		out.MaxCoverage = int(v.intIn(p+".max_coverage_percent", s.MaxCoverage, 0, 1, 100, "the share of the IPv4 address space this source may cover"))
	}
	v.sourceNeeds(p, out)
	v.plainHTTP(p, out)
	return out
}

// plainHTTP refuses http:// feed URLs unless the source opts in: a feed
// says where traffic goes, and anyone on the path of a plain http fetch
// could rewrite it. The fetcher refuses redirects to http just the same.
func (v *validator) plainHTTP(p string, s BreakoutSource) {
	if s.AllowHTTP && !v.has(p+".url") && !v.has(p+".urls") {
		v.errorf(p+".allow_http", "applies only to a source fetched from a url (remove it)")
		return
	}
	if s.AllowHTTP {
		return
	}
	for j, u := range s.URLs {
		if !strings.HasPrefix(strings.ToLower(u), "http://") {
			continue
		}
		key := p + ".url"
		if !v.has(key) {
			key = fmt.Sprintf("%s.urls[%d]", p, j)
		}
		v.errorf(key, "%q is plain http: anyone on the path could rewrite the feed (use https, or add allow_http = true to this source if the path is one you trust)", u)
	}
}

// sourceURLs takes url or urls (google: goog.json, then cloud.json).
func (v *validator) sourceURLs(p string, s rawBreakoutSource) []string {
	list := s.URLs
	if v.has(p + ".url") {
		if v.has(p + ".urls") {
			v.errorf(p+".url", "give url or urls, not both")
		}
		list = []string{s.URL}
	}
	key := p + ".urls"
	if v.has(p + ".url") {
		key = p + ".url"
	}
	for _, u := range list {
		parsed, err := url.Parse(u)
		if err != nil || (parsed.Scheme != "http" && parsed.Scheme != "https") || parsed.Host == "" {
			v.errorf(key, "%q is not an http(s) URL", u)
			return nil
		}
	}
	return list
}

// sourceNeeds checks what each type cannot do without.
func (v *validator) sourceNeeds(p string, s BreakoutSource) {
	switch s.Type {
	case "":
	case "static":
		if len(s.Prefixes) == 0 && !v.reported(p+".prefixes") {
			v.errorAt(v.at(p), p+`: a static source needs prefixes = ["203.0.113.0/24", …]`)
		}
	case "file":
		if len(s.Files) == 0 {
			v.errorAt(v.at(p), p+`: a file source needs files = ["/etc/uplinkd/routes/AS16509_AMAZON.yml", …]`)
		}
	case "dns":
		if len(s.Names) == 0 && !v.reported(p+".names") {
			v.errorAt(v.at(p), p+`: a dns source needs names = ["media.example.net", …]`)
		}
	default:
		if !v.has(p+".url") && !v.has(p+".urls") && !v.reported(p+".url") && !v.reported(p+".urls") {
			v.errorAt(v.at(p), fmt.Sprintf("%s: type %s needs url = \"https://…\" (the feed to fetch)", p, s.Type))
		}
		if s.Type == "asn" && len(s.ASNs) == 0 {
			v.errorAt(v.at(p), p+": an asn source needs asns = [2906, …] (the origin ASNs to take)")
		}
	}
}

func (v *validator) routeHeader(p string, h rawRouteHeader) RouteHeader {
	out := RouteHeader{ASNName: h.ASNName, Category: h.Category, Name: h.Name}
	if v.has(p + ".asn") {
		if h.ASN < 1 || h.ASN > 4294967294 {
			v.errorf(p+".asn", "%d is not an AS number", h.ASN)
		} else {
			out.ASN = uint32(h.ASN)
		}
	}
	return out
}
