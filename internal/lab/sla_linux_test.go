package lab

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uplinkd/uplinkd/internal/api"
	"github.com/uplinkd/uplinkd/internal/ecmp"
	"github.com/uplinkd/uplinkd/internal/sla"
)

// TestSLASteering: a carrier that stays up but turns bad leaves the ECMP
// set while its BFD stays up, and comes back once it is good again; the
// other tunnels keep carrying throughout. 300 ms of extra delay, jitter of
// 0 to 160 ms, then 25 % loss, on docomo, with [sla] on the edge.
func TestSLASteering(t *testing.T) {
	l := needLab(t)
	enableSLA(t, l)
	all, rest := tunnelsOf(l), tunnelsOf(l)[1:]
	if err := l.WaitSLAJudging(len(Carriers), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	// Both ends are uplinkd and run BFD fast: the probes ride on BFD's
	// own packets (timestamps), no ICMP echo.
	eventually(t, 5*time.Second, func() string {
		for _, s := range status(t, l, "edge").SLA {
			if s.Probe != "bfd" || s.Samples == 0 {
				return fmt.Sprintf("%s: probed by %q, %d samples; want BFD's timestamps", s.Link, s.Probe, s.Samples)
			}
		}
		return ""
	})
	w := watch(t, l)

	t.Run("300 ms delay", func(t *testing.T) {
		dl, err := l.Delay("docomo", 300*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		took, got, err := w.Wait(t.Context(), start, 15*time.Second, OnlyVia(rest...))
		if err != nil {
			dl.Close()
			t.Fatalf("edge default via %v with docomo 300 ms slower, want %v", got, rest)
		}
		st := status(t, l, "edge")
		link := linkNamed(st.ECMP, "docomo")
		t.Logf("MEASURE docomo's delay ramping to +300 ms (+100 ms/s): out of the ECMP set %v after the ramp began; %s", took.Round(time.Millisecond), link.SLANote)
		if link.BFD != "Up" || !strings.Contains(link.SLANote, "rtt") {
			t.Errorf("docomo: BFD %s, note %q; want BFD up and the SLA naming the rtt", link.BFD, link.SLANote)
		}
		// The downloads leave it too: the edge prepends its AS on
		// docomo's sessions, and the hub's route to the LAN drops it.
		hubStart := time.Now()
		eventually(t, 5*time.Second, func() string {
			if hops := hubNextHops(t, l, LANPrefix); len(hops) != 2 || slices.Contains(hops, l.HubTunnel("docomo")) {
				return fmt.Sprintf("the hub's route to the LAN over %v with docomo out by its SLA, want the other two", hops)
			}
			return ""
		})
		t.Logf("MEASURE docomo out of the hub's route to the LAN %v after the edge's", time.Since(hubStart).Round(time.Millisecond))
		if err := dl.Close(); err != nil {
			t.Fatal(err)
		}
		back, got, err := w.Wait(t.Context(), time.Now(), 15*time.Second, OnlyVia(all...))
		if err != nil {
			t.Fatalf("edge default via %v after the delay ended, want %v", got, all)
		}
		t.Logf("MEASURE docomo back %v after the delay was gone (recover 2 s)", back.Round(time.Millisecond))
		eventually(t, 5*time.Second, func() string {
			if hops := hubNextHops(t, l, LANPrefix); len(hops) != 3 {
				return fmt.Sprintf("the hub's route to the LAN over %v after docomo recovered, want all three", hops)
			}
			return ""
		})
	})

	t.Run("jitter", func(t *testing.T) {
		// Each packet from docomo held 0 to 160 ms more, in order: the
		// round trips differ by about 50 ms on average, BFD's packets
		// still arriving within its 300 ms (100 ms apart, at most 160 ms late).
		dl, err := l.Delay("docomo", 0)
		if err != nil {
			t.Fatal(err)
		}
		dl.SetJitter(160 * time.Millisecond)
		took, got, err := w.Wait(t.Context(), time.Now(), 15*time.Second, OnlyVia(rest...))
		if err != nil {
			dl.Close()
			t.Fatalf("edge default via %v with docomo jittering 0-160 ms, want %v", got, rest)
		}
		st := status(t, l, "edge")
		link := linkNamed(st.ECMP, "docomo")
		t.Logf("MEASURE docomo jittering 0-160 ms: out of the ECMP set in %v; %s", took.Round(time.Millisecond), link.SLANote)
		if !strings.Contains(link.SLANote, "jitter") {
			t.Errorf("docomo: note %q, want the SLA naming the jitter", link.SLANote)
		}
		if err := dl.Close(); err != nil {
			t.Fatal(err)
		}
		if _, got, err := w.Wait(t.Context(), time.Now(), 15*time.Second, OnlyVia(all...)); err != nil {
			t.Fatalf("edge default via %v after the jitter ended, want %v", got, all)
		}
	})

	t.Run("25 % loss", func(t *testing.T) {
		if err := l.Loss("docomo", 25); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Loss("docomo", 0) })
		// BFD may also see three in a row lost and take it out for a moment;
		// what counts is that the SLA judges it and keeps it out.
		// 30 s: BFD flaps too at 25 %, and only the spells up are probed
		// (9 to 20 s seen).
		eventually(t, 30*time.Second, func() string {
			for _, s := range status(t, l, "edge").SLA {
				if s.Link == "docomo" && s.Degraded && strings.Contains(s.Reason, "loss") {
					return ""
				}
			}
			return fmt.Sprintf("docomo not judged degraded by its loss: %+v", status(t, l, "edge").SLA)
		})
		if _, got, err := w.Wait(t.Context(), time.Now(), 5*time.Second, OnlyVia(rest...)); err != nil {
			t.Fatalf("edge default via %v with docomo losing 25 %%, want %v", got, rest)
		}
		if err := l.Loss("docomo", 0); err != nil {
			t.Fatal(err)
		}
		if _, got, err := w.Wait(t.Context(), time.Now(), 15*time.Second, OnlyVia(all...)); err != nil {
			t.Fatalf("edge default via %v after the loss ended, want %v", got, all)
		}
	})
}

// enableSLA adds SLAConfig to the edge's file and reloads it; the test's
// end puts the file back and reloads again.
func enableSLA(t *testing.T, l *Lab) {
	t.Helper()
	restore, err := l.WithEdgeConfig(SLAConfig)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := restore(); err != nil {
			t.Error(err)
		}
		eventually(t, 10*time.Second, func() string {
			for _, s := range status(t, l, "edge").SLA {
				if s.Limits {
					return fmt.Sprintf("the SLA still judges %s after its config was removed", s.Link)
				}
			}
			return ""
		})
	})
}

func linkNamed(e *ecmp.Status, name string) ecmp.LinkStatus {
	if e != nil {
		for _, l := range e.Links {
			if l.Name == name {
				return l
			}
		}
	}
	return ecmp.LinkStatus{}
}

// slaOf is one link's SLA status.
func slaOf(t *testing.T, st api.Status, link string) sla.LinkStatus {
	t.Helper()
	for _, s := range st.SLA {
		if s.Link == link {
			return s
		}
	}
	t.Fatalf("no SLA status of %s: %+v", link, st.SLA)
	return sla.LinkStatus{}
}
