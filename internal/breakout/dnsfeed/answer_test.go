package dnsfeed

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/miekg/dns"
)

func TestAddresses(t *testing.T) {
	tests := []struct {
		name    string
		answer  []string
		want    []string
		wantTTL time.Duration
	}{
		{"cname TTL counts", []string{"a.example. 20 IN CNAME b.example.", "b.example. 300 IN A 192.0.2.1"}, []string{"192.0.2.1"}, 20 * time.Second},
		{"owner case ignored", []string{"A.Example. 300 IN A 192.0.2.1"}, []string{"192.0.2.1"}, 300 * time.Second},
		{"other owners ignored", []string{"a.example. 300 IN A 192.0.2.1", "x.example. 5 IN A 192.0.2.9"}, []string{"192.0.2.1"}, 300 * time.Second},
		{"cname loop ends", []string{"a.example. 60 IN CNAME b.example.", "b.example. 60 IN CNAME a.example."}, nil, 0},
		{"dangling cname", []string{"a.example. 60 IN CNAME b.example."}, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := new(dns.Msg)
			for _, s := range tt.answer {
				rr, err := dns.NewRR(s)
				if err != nil {
					t.Fatal(err)
				}
				m.Answer = append(m.Answer, rr)
			}
			addrs, ttl := addresses(m, "a.example", dns.TypeA)
			var want []netip.Addr
			for _, s := range tt.want {
				want = append(want, netip.MustParseAddr(s))
			}
			if diff := cmp.Diff(want, addrs, cmpopts.EquateComparable(netip.Addr{})); diff != "" || ttl != tt.wantTTL {
				t.Errorf("addresses (-want +got):\n%s ttl %s, want %s", diff, ttl, tt.wantTTL)
			}
		})
	}
}
