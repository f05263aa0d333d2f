package daemon

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/uplinkd/uplinkd/internal/breakout/feed"
	"github.com/uplinkd/uplinkd/internal/breakout/source"
	"github.com/uplinkd/uplinkd/internal/config"
)

func TestSourceConfigDNS(t *testing.T) {
	got := sourceConfig(config.BreakoutSource{Name: "media", Type: "dns", Names: []string{"media.example.net"},
		Resolver: "198.18.0.53:53", Refresh: time.Hour})
	want := source.Config{Spec: feed.Spec{Name: "media", Kind: feed.KindDNS}, Names: []string{"media.example.net"},
		Resolver: "198.18.0.53:53", Every: time.Hour}
	if diff := cmp.Diff(want, got, cmpopts.EquateComparable(netip.Prefix{})); diff != "" {
		t.Errorf("sourceConfig (-want +got):\n%s", diff)
	}
}
