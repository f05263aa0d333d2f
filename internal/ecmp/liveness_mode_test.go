package ecmp

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/uplinkd/uplinkd/internal/config"
)

// TestPlanFromLivenessMode: every tunnel over a frugal carrier offers the
// frugal mode, to every hub; the others stay fast; the idle rate comes
// from [liveness].
func TestPlanFromLivenessMode(t *testing.T) {
	c := twoHubConfig()
	c.Liveness.IdleInterval = 900 * time.Millisecond
	for i := range c.Uplinks {
		c.Uplinks[i].Liveness = config.LivenessFast
		if c.Uplinks[i].Name == "docomo" {
			c.Uplinks[i].Liveness = config.LivenessFrugal
		}
	}
	p := PlanFrom(c)
	got := map[string]bool{}
	for _, l := range p.Links {
		got[l.Name] = l.Frugal
	}
	want := map[string]bool{"docomo@tokyo": true, "softbank@tokyo": false, "docomo@osaka": true, "softbank@osaka": false}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	if p.IdleInterval != 900*time.Millisecond {
		t.Errorf("idle interval %v", p.IdleInterval)
	}
	for _, l := range p.Links {
		if sc := bfdSession(p, l); sc.Frugal != l.Frugal || sc.IdleInterval != p.IdleInterval {
			t.Errorf("%s: session %+v", l.Name, sc)
		}
	}
}
