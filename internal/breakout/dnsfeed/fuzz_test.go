package dnsfeed

import (
	"testing"
	"time"

	"github.com/miekg/dns"
)

// answer packs the records (zone-file syntax) as the answer to name.
func answer(f *testing.F, name string, qtype uint16, rcode int, rrs ...string) []byte {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.Response, m.Rcode = true, rcode
	for _, s := range rrs {
		rr, err := dns.NewRR(s)
		if err != nil {
			f.Fatal(err)
		}
		m.Answer = append(m.Answer, rr)
	}
	b, err := m.Pack()
	if err != nil {
		f.Fatal(err)
	}
	return b
}

// FuzzAnswer: whatever a server sends back, the entries read from it are
// host routes of the asked family to global unicast addresses, no more
// than the answer's records, each named after the asked name, with a TTL
// no longer than a record's; and reading never panics or loops.
func FuzzAnswer(f *testing.F) {
	f.Add(answer(f, "media.example.net", dns.TypeA, dns.RcodeSuccess, "media.example.net. 300 IN A 198.18.5.10"), false)
	f.Add(answer(f, "media.example.net", dns.TypeAAAA, dns.RcodeSuccess,
		"media.example.net. 20 IN CNAME edge.example.net.", "edge.example.net. 60 IN AAAA 2001:db8:5::10", "edge.example.net. 60 IN AAAA ::ffff:198.18.5.1"), true)
	f.Add(answer(f, "media.example.net", dns.TypeA, dns.RcodeSuccess,
		"media.example.net. 60 IN CNAME b.example.net.", "b.example.net. 60 IN CNAME media.example.net.", "b.example.net. 1 IN A 127.0.0.1"), false)
	f.Add(answer(f, "media.example.net", dns.TypeA, dns.RcodeServerFailure), false)
	f.Add(answer(f, "media.example.net", dns.TypeA, dns.RcodeNameError), false)
	f.Fuzz(func(t *testing.T, wire []byte, v6 bool) {
		m := new(dns.Msg)
		if err := m.Unpack(wire); err != nil {
			return
		}
		qtype := dns.TypeA
		if v6 {
			qtype = dns.TypeAAAA
		}
		const name = "media.example.net"
		es, ttl, err := answerEntries(m, name, qtype)
		if err != nil {
			if es != nil || m.Rcode == dns.RcodeSuccess || m.Rcode == dns.RcodeNameError {
				t.Fatalf("error %v with %d entries, rcode %s", err, len(es), dns.RcodeToString[m.Rcode])
			}
			return
		}
		if len(es) > len(m.Answer) {
			t.Fatalf("%d entries from %d records", len(es), len(m.Answer))
		}
		var longest uint32
		for _, rr := range m.Answer {
			longest = max(longest, rr.Header().Ttl)
		}
		if ttl < 0 || ttl > time.Duration(longest)*time.Second || (len(es) == 0 && ttl != 0) {
			t.Fatalf("ttl %s for %d entries, longest record %d s", ttl, len(es), longest)
		}
		for _, e := range es {
			a := e.Prefix().Addr()
			switch {
			case !a.IsGlobalUnicast() || a.Is4In6() || a.Is6() != v6:
				t.Fatalf("entry %s for a %s question", e, dns.TypeToString[qtype])
			case e.Prefix().Bits() != a.BitLen():
				t.Fatalf("entry %s is not a host route", e)
			case e.Name() != name:
				t.Fatalf("entry %s not named %s", e, name)
			}
		}
	})
}
