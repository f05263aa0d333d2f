package dnsfeed

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/miekg/dns"

	"github.com/uplinkd/uplinkd/internal/breakout"
	"github.com/uplinkd/uplinkd/internal/breakout/dnsfeed/dnstest"
)

var zone = []string{
	"media.example.net. 300 IN CNAME edge.cdn.example.",
	"edge.cdn.example. 60 IN A 192.0.2.11",
	"edge.cdn.example. 90 IN A 192.0.2.10",
	"edge.cdn.example. 120 IN AAAA 2001:db8::10",
	"api.example.net. 600 IN A 198.51.100.7",
	"api.example.net. 600 IN A 198.51.100.7", // a duplicate counts once
	"sink.example.net. 30 IN A 0.0.0.0",      // a blocklist's sinkhole
	"v6only.example.net. 45 IN AAAA 2001:db8::45",
}

func host(name, addr string) breakout.Entry {
	a := netip.MustParseAddr(addr)
	return breakout.NewEntry(netip.PrefixFrom(a, a.BitLen()), 0, breakout.Attrs{Name: name})
}

func TestResolve(t *testing.T) {
	srv := dnstest.Start(t, zone...)
	tests := []struct {
		name    string
		names   []string
		want    []breakout.Entry
		wantTTL time.Duration
	}{
		{"cname chain and a plain name", []string{"media.example.net", "api.example.net"}, []breakout.Entry{
			host("media.example.net", "192.0.2.10"), host("media.example.net", "192.0.2.11"),
			host("api.example.net", "198.51.100.7"), host("media.example.net", "2001:db8::10"),
		}, 60 * time.Second},
		{"nxdomain contributes nothing", []string{"gone.example.net", "api.example.net"}, []breakout.Entry{
			host("api.example.net", "198.51.100.7"),
		}, 600 * time.Second},
		{"only nxdomain", []string{"gone.example.net"}, nil, 0},
		{"sinkhole address dropped, its TTL ignored", []string{"sink.example.net", "api.example.net"}, []breakout.Entry{
			host("api.example.net", "198.51.100.7"),
		}, 600 * time.Second},
		{"no A record", []string{"v6only.example.net"}, []breakout.Entry{host("v6only.example.net", "2001:db8::45")}, 45 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ttl, err := Resolve(context.Background(), tt.names, srv.Addr)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateComparable(netip.Prefix{})); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
			if ttl != tt.wantTTL {
				t.Errorf("minTTL = %s, want %s", ttl, tt.wantTTL)
			}
		})
	}
}

// TestResolveTruncated: an answer too big for UDP is asked again over TCP.
func TestResolveTruncated(t *testing.T) {
	srv := dnstest.Start(t, zone...)
	srv.TruncateUDP()
	got, _, err := Resolve(context.Background(), []string{"api.example.net"}, srv.Addr)
	if err != nil || len(got) != 1 {
		t.Fatalf("Resolve over TCP = %v, %v; want the one address", got, err)
	}
}

// TestResolveFails: a server that does not answer, or cannot, fails the
// whole set, so that the caller keeps what it has.
func TestResolveFails(t *testing.T) {
	down := dnstest.Start(t, zone...)
	down.Stop()
	servfail := dnstest.Start(t, zone...)
	servfail.Fail(dns.RcodeServerFailure)
	silent, err := net.ListenPacket("udp", "127.0.0.1:0") // reads nothing, answers nothing
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	for _, tt := range []struct{ name, server string }{
		{"server down", down.Addr},
		{"servfail", servfail.Addr},
		{"silent", silent.LocalAddr().String()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			got, _, err := Resolve(ctx, []string{"api.example.net"}, tt.server)
			if err == nil {
				t.Fatalf("Resolve = %v, want an error", got)
			}
		})
	}
}

// TestResolveCancel: a cancelled refresh does not wait out a silent server.
func TestResolveCancel(t *testing.T) {
	silent, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	if _, _, err := Resolve(ctx, []string{"api.example.net"}, silent.LocalAddr().String()); err == nil {
		t.Fatal("Resolve of a silent server succeeded")
	}
	if took := time.Since(start); took > queryTimeout/2 {
		t.Errorf("cancelled Resolve took %s", took)
	}
}
