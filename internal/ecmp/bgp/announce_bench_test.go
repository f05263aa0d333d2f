package bgp

import (
	"context"
	"net/netip"
	"testing"
	"time"
)

// BenchmarkAnnouncerSet measures Set of 100 k prefixes into an empty
// announcer (its peer never comes up: this is GoBGP's RIB alone), then
// their withdrawal, with paths added one AddPath call each or streamed.
func BenchmarkAnnouncerSet(b *testing.B) {
	set := testPrefixes(0, 16384, 0, 100_000-16384)
	for _, tc := range []struct {
		name    string
		perPath bool
	}{{"AddPath", true}, {"stream", false}} {
		b.Run(tc.name, func(b *testing.B) {
			for range b.N {
				benchSetOnce(b, tc.perPath, set)
			}
		})
	}
}

func benchSetOnce(b *testing.B, perPath bool, set []netip.Prefix) {
	b.StopTimer()
	ctx := context.Background()
	a := NewAnnouncer(nil)
	a.perPath = perPath
	c := AnnouncerConfig{ASN: announcerASN, RouterID: addr("10.255.9.1"),
		Peers: []Peer{{Name: "none", Address: addr("127.0.0.99"), ASN: receiverASN, Port: 1}}}
	if err := a.Start(ctx, c); err != nil {
		b.Fatal(err)
	}
	defer a.Stop(ctx)
	b.StartTimer()
	begin := time.Now()
	if _, _, err := a.Set(ctx, set, gw4, gw6); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(time.Since(begin).Nanoseconds())/float64(len(set))/1e3, "µs/add")
	begin = time.Now()
	if err := a.Withdraw(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(time.Since(begin).Nanoseconds())/float64(len(set))/1e3, "µs/withdraw")
}
