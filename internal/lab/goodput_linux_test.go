package lab

import (
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// goodputSLA judges docomo alone, by its goodput under load (its own
// [uplink.sla]); [sla] gives quick timings and no limit of its own, so
// the other carriers are not probed at all.
const goodputSLA = `
[sla]
probe_interval_ms = 200
window_ms = 2000
breach_ms = 1000
recover_ms = 3000
`

// TestSLAGoodput: a carrier throttled to 128 kbit/s answers its probes
// while idle; under load its probes queue behind its own traffic and its
// goodput is judged: docomo leaves the ECMP set with its BFD up, the
// others carry on, and docomo returns once the throttle is gone. Its
// limit comes from its own [uplink.sla], and only it is probed. Both
// daemons are first reloaded to BFD at 300 ms × 5 (mobileBFD), which
// also shows new timers taking effect on a reload without a flap.
func TestSLAGoodput(t *testing.T) {
	l := needLab(t)
	editConfig(t, l, "hub", "[liveness]\n", "[liveness]\n"+mobileBFD)
	editConfig(t, l, "edge", "[liveness]\n", "[liveness]\n"+mobileBFD)
	restore, err := l.EditConfig("edge", func(c string) string {
		at := strings.Index(c, "\n[[uplink]]\nname = \"softbank\"")
		return c[:at] + "\n[uplink.sla]\nmin_goodput_kbps = 1000\n" + c[at:] + goodputSLA
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		l.Shape("docomo", 0)
		if err := restore(); err != nil {
			t.Error(err)
		}
	})
	eventually(t, 10*time.Second, func() string {
		for _, link := range status(t, l, "edge").ECMP.Links {
			if link.BFD != "Up" || link.BFDDetect != 1500*time.Millisecond {
				return fmt.Sprintf("edge: %s BFD %s, detection %v ms after the reload to 300 ms × 5", link.Name, link.BFD, link.BFDDetect.Milliseconds())
			}
		}
		return ""
	})
	if err := l.WaitSLAJudging(1, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	if st := status(t, l, "edge"); len(st.SLA) != 1 || st.SLA[0].Link != "docomo" {
		t.Fatalf("sla %+v, want docomo alone probed (its [uplink.sla])", st.SLA)
	}
	all, rest := tunnelsOf(l), tunnelsOf(l)[1:]
	w := watch(t, l)
	// The flows must start with docomo in the set: the resilient groups
	// keep a busy flow where it is, so none would move to docomo later.
	if _, got, err := w.Wait(t.Context(), time.Now(), 30*time.Second, OnlyVia(all...)); err != nil {
		t.Fatalf("edge default via %v in frugal mode, want %v", got, all)
	}
	up := startUploads(t, l)
	defer up.stop()
	// Flows are added one by one until one is on docomo (its rate shows
	// it): one or two TCP flows fill a 128 kbit/s carrier; more would
	// keep its queue overflowing, and BFD's packets would be lost with it.
	eventually(t, 20*time.Second, func() string {
		if st := status(t, l, "edge").SLA[0]; st.RateKbps >= 1500 {
			return ""
		}
		up.add()
		time.Sleep(500 * time.Millisecond)
		return fmt.Sprintf("no flow on docomo after %d", up.n())
	})
	time.Sleep(2 * time.Second)
	st := status(t, l, "edge").SLA[0]
	if st.Degraded || st.RateKbps < 1500 {
		t.Fatalf("docomo unthrottled: %+v; want it carrying a flow (≥ 1.5 Mbit/s) and not degraded", st)
	}
	t.Logf("MEASURE docomo unthrottled under load (%d flows): rate %.0f kbit/s, goodput %.0f kbit/s over %d full probes, baseline %.1f ms",
		up.n(), st.RateKbps, st.GoodputKbps, st.LoadedSamples, st.BaselineRTTMs)

	if err := l.Shape("docomo", 128); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	took, got, err := w.Wait(t.Context(), start, 20*time.Second, OnlyVia(rest...))
	if err != nil {
		t.Fatalf("edge default via %v with docomo throttled to 128 kbit/s, want %v", got, rest)
	}
	ls := status(t, l, "edge")
	s, link := ls.SLA[0], linkNamed(ls.ECMP, "docomo")
	t.Logf("MEASURE docomo throttled to 128 kbit/s under load: out of the ECMP set %v after the throttle; %s; rate %.0f kbit/s, goodput %.0f kbit/s, rtt %.0f ms (baseline %.1f ms); BFD %s",
		took.Round(time.Millisecond), link.SLANote, s.RateKbps, s.GoodputKbps, s.RTTMs, s.BaselineRTTMs, link.BFD)
	if !s.Degraded || !strings.Contains(s.Reason, "goodput") || !strings.Contains(link.SLANote, "goodput") {
		t.Errorf("docomo %+v, note %q: want it degraded for its goodput", s, link.SLANote)
	}
	// The goodput is what the tunnel moved at the edge's end: for an
	// upload what the edge sent, retransmissions included, which is more
	// than the 128 kbit/s that arrived, but far below the limit.

	if err := l.Shape("docomo", 0); err != nil {
		t.Fatal(err)
	}
	back, got, err := w.Wait(t.Context(), time.Now(), 20*time.Second, OnlyVia(all...))
	if err != nil {
		t.Fatalf("edge default via %v after the throttle ended, want %v", got, all)
	}
	t.Logf("MEASURE docomo back %v after the throttle ended (recover 3 s)", back.Round(time.Millisecond))
}

// uploader runs TCP flows from the LAN host to a sink on ul-web, each
// paced at 2 Mbit/s (enough to fill a throttled carrier, little enough to
// leave the lab's CPUs to the daemons).
type uploader struct {
	t     *testing.T
	l     *Lab
	ln    net.Listener
	done  chan struct{}
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
	flows int
}

func startUploads(t *testing.T, l *Lab) *uploader {
	t.Helper()
	u := &uploader{t: t, l: l, done: make(chan struct{})}
	if err := InNS(l.NS("web"), func() (err error) {
		u.ln, err = net.Listen("tcp", net.JoinHostPort(WebAddr, "9099"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		for {
			c, err := u.ln.Accept()
			if err != nil {
				return
			}
			u.keep(c)
			go io.Copy(io.Discard, c)
		}
	}()
	return u
}

func (u *uploader) keep(c net.Conn) { u.mu.Lock(); u.conns = append(u.conns, c); u.mu.Unlock() }

func (u *uploader) n() int { u.mu.Lock(); defer u.mu.Unlock(); return u.flows }

// add starts one more flow.
func (u *uploader) add() {
	c, err := u.l.DialFrom("lan", "tcp", u.ln.Addr().String(), 2*time.Second)
	if err != nil {
		u.t.Fatalf("upload: %v", err)
	}
	u.keep(c)
	u.mu.Lock()
	u.flows++
	u.mu.Unlock()
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		buf := make([]byte, 2000)
		tick := time.NewTicker(8 * time.Millisecond) // 2000 B / 8 ms = 2 Mbit/s
		defer tick.Stop()
		for {
			select {
			case <-u.done:
				return
			case <-tick.C:
			}
			c.SetWriteDeadline(time.Now().Add(time.Second))
			c.Write(buf) // a flow on the throttled carrier just falls behind
		}
	}()
}

func (u *uploader) stop() {
	select {
	case <-u.done:
		return
	default:
	}
	close(u.done)
	u.ln.Close()
	u.mu.Lock()
	for _, c := range u.conns {
		c.Close()
	}
	u.mu.Unlock()
	u.wg.Wait()
}

// mobileBFD is BFD at FRR's default interval with a detection time of
// 1.5 s, as a mobile home might set it. At 100 ms × 3 (and in the frugal
// mode, whose probes run at that rate) a carrier throttled to 128 kbit/s
// loses or delays enough BFD packets behind a single TCP flow that BFD
// itself takes the tunnel out within 300 ms, and again after every
// hold-down, before anything can judge its goodput.
const mobileBFD = "interval_ms = 300\nmultiplier = 5\n"
