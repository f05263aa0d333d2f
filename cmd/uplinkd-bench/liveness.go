package main

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/uplinkd/uplinkd/internal/api"
	"github.com/uplinkd/uplinkd/internal/lab"
)

// Row 12: frugal liveness, both daemons in [liveness] mode = "frugal"
// (reloaded into it), against fast mode (100 ms × 3) measured the same way
// and FRR's and BIRD's default BFD timers computed from the same packet
// size.

// bfdWireBytes is one BFD control packet in a WireGuard tunnel on the
// carrier link: 24 B of BFD, 8 UDP, 20 IP, 32 WireGuard data header and
// tag, padded to 16, 8 UDP and 20 IP outside, and the 14 B Ethernet header
// the interface counters include.
const bfdWireBytes = 124

// thirtyDays converts a rate in bytes a second to GB per 30 days.
func thirtyDays(bytesPerSecond float64) float64 { return bytesPerSecond * 30 * 86400 / 1e9 }

// livenessRows measures 12a (idle cost per carrier), 12b (a busy tunnel
// blackholed), 12c (an idle one blackholed) and 12d (a new flow on a
// tunnel that died while idle).
func livenessRows(ctx context.Context, l *benchLab, n int) []row {
	// A minute: the frugal mode's BGP keepalives go once a minute each
	// way and session, and must be in the count.
	const span = time.Minute
	fast, err := idleBytes(ctx, l, span)
	if err != nil {
		return []row{failed("12a", "liveness: idle bytes per carrier", err)}
	}
	var restores []func() error
	defer func() {
		for i := len(restores) - 1; i >= 0; i-- {
			restores[i]()
		}
	}()
	for _, site := range []string{"hub", "edge"} {
		restore, err := l.EditConfig(site, func(c string) string {
			return strings.Replace(c, "[liveness]\n", "[liveness]\nmode = \"frugal\"\n", 1)
		})
		if err != nil {
			return []row{failed("12a", "liveness: idle bytes per carrier", err)}
		}
		restores = append(restores, restore)
	}
	if err := waitFrugal(ctx, l); err != nil {
		return []row{failed("12a", "liveness: idle bytes per carrier", err)}
	}
	frugal, err := idleBytes(ctx, l, span)
	if err != nil {
		return []row{failed("12a", "liveness: idle bytes per carrier", err)}
	}
	rows := []row{idleCostRow(fast, frugal, span)}
	rows = append(rows, frugalFailovers(ctx, l, n)...)
	return rows
}

// idleCostRow compares the liveness exchange of the busiest carrier in
// each mode with the default BFD timers of FRR (300 ms × 3: 3.3 packets a
// second each way) and BIRD 2 (its 100 ms transmit interval against our
// 10 ms receive: 10 a second each way), computed at bfdWireBytes a packet,
// plus what the rest of fast mode's exchange costs (BGP, WireGuard:
// measured, fast minus its BFD). The carrier link's whole traffic (the
// lab's feed checks too) is printed beside it.
func idleCostRow(fastCost, frugalCost idleCost, span time.Duration) row {
	fast, frugal := fastCost.liveness, frugalCost.liveness
	worst := func(m map[string]float64) (string, float64) {
		best, most := "", -1.0
		for _, c := range lab.Carriers {
			if m[c] > most {
				best, most = c, m[c]
			}
		}
		return best, most
	}
	fc, fastMost := worst(fast)
	gc, frugalMost := worst(frugal)
	bfdFast := 2 * 10 * float64(bfdWireBytes)
	rest := max(fastMost-bfdFast, 0) // BGP, WireGuard keepalives, the lab's feed checks
	frr := 2*(1000.0/300)*bfdWireBytes + rest
	bird := 2*10.0*bfdWireBytes + rest
	var per []string
	for _, c := range lab.Carriers {
		per = append(per, fmt.Sprintf("%.2f", thirtyDays(frugal[c])))
	}
	_, linkFrugal := worst(frugalCost.link)
	_, linkFast := worst(fastCost.link)
	return row{id: "12a", name: fmt.Sprintf("liveness exchange (BFD, BGP, WireGuard), idle: GB per 30 days, the busiest carrier, frugal (%s; all %s) vs fast (%s), over %s each; whole carrier link %.2f / %.2f GB",
		gc, strings.Join(per, "/"), fc, span, thirtyDays(linkFrugal), thirtyDays(linkFast)),
		uplinkd: fmt.Sprintf("frugal %.2f GB / fast %.2f GB", thirtyDays(frugalMost), thirtyDays(fastMost)),
		peer:    fmt.Sprintf("FRR default %.2f GB, BIRD default %.2f GB (computed)", thirtyDays(frr), thirtyDays(bird)),
		ratio:   fmt.Sprintf("%.2f of FRR's; goal ≤ 1 GB", frugalMost/frr),
		verdict: verdict(thirtyDays(frugalMost) <= 1)}
}

// idleCost is one mode's idle cost per carrier, in bytes a second: all
// that crossed the carrier link, and the liveness exchange alone.
type idleCost struct{ link, liveness map[string]float64 }

// idleBytes measures the idle cost over span: the edge's carrier links'
// rx+tx bytes, and, counted by nftables, the liveness exchange alone: BFD
// and BGP inside each tunnel (at their size on the carrier: the inner
// packet, padded to 16, with WireGuard's 32 bytes and the outer IP and
// UDP headers) and WireGuard's own keepalives and handshakes on the
// carrier link. The lab's other traffic (feed checks through the
// tunnels) is in the first figure only.
func idleBytes(ctx context.Context, l *benchLab, span time.Duration) (idleCost, error) {
	if _, err := l.waitVia(ctx, 30*time.Second, allThree()); err != nil {
		return idleCost{}, err
	}
	time.Sleep(5 * time.Second) // the last flaps' and reloads' packets out of the way
	meter, err := l.MeterLiveness()
	if err != nil {
		return idleCost{}, err
	}
	defer meter.Close()
	before, err := carrierBytes(l)
	if err != nil {
		return idleCost{}, err
	}
	probes0 := bfdProbes(l)
	t0 := time.Now()
	time.Sleep(span)
	after, err := carrierBytes(l)
	if err != nil {
		return idleCost{}, err
	}
	live, err := meter.Read()
	if err != nil {
		return idleCost{}, err
	}
	probes := bfdProbes(l)
	for c, n := range probes0 {
		probes[c] -= n
	}
	secs := time.Since(t0).Seconds()
	out := idleCost{link: map[string]float64{}, liveness: map[string]float64{}}
	for _, c := range lab.Carriers {
		out.link[c] = float64(after[c]-before[c]) / secs
		v := live[c]
		out.liveness[c] = float64(v.CarrierBytes()) / secs
		logf("idle %s over %s: BFD %d packets, BGP %d, WireGuard %d (%.2f GB/30 days); BFD probes %d",
			c, span, v.BFD.Packets, v.BGP.Packets, v.WireGuard.Packets, thirtyDays(out.liveness[c]), probes[c])
	}
	return out, nil
}

// bfdProbes reads the edge's frugal probe count per carrier.
func bfdProbes(l *benchLab) map[string]uint64 {
	out := map[string]uint64{}
	st, err := api.NewClient(l.Socket("edge")).Status()
	if err != nil || st.ECMP == nil {
		return out
	}
	for _, link := range st.ECMP.Links {
		out[link.Name] += link.BFDProbes
	}
	return out
}

// carrierBytes reads rx+tx bytes of the edge's carrier links.
func carrierBytes(l *benchLab) (map[string]uint64, error) {
	h, err := l.nl()
	if err != nil {
		return nil, err
	}
	defer h.Close()
	out := map[string]uint64{}
	for _, c := range lab.Carriers {
		link, err := h.LinkByName("wwan-" + c)
		if err != nil {
			return nil, err
		}
		s := link.Attrs().Statistics
		out[c] = s.RxBytes + s.TxBytes
	}
	return out, nil
}

// waitFrugal waits until every edge tunnel's BFD is Up in frugal mode.
func waitFrugal(ctx context.Context, l *benchLab) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		st, err := api.NewClient(l.Socket("edge")).Status()
		ok := err == nil && st.ECMP != nil && len(st.ECMP.Links) == len(lab.Carriers)
		for _, link := range st.ECMP.Links {
			ok = ok && link.BFD == "Up" && strings.HasPrefix(link.BFDMode, "frugal") && link.InECMP
		}
		if ok {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("the edge's tunnels not all Up in frugal mode within 30 s")
}

// frugalFailovers: 12b a busy tunnel (UDP streams from the LAN on it)
// blackholed → out of the edge's default; 12c an idle one; 12d an idle
// one blackholed, then new flows: their first packet → the default
// without that tunnel (the flows' packets then leave by a live one). The
// flows are streamFlows at once, so that some land on the tunnel (`ip
// route get` does not tell which: it does not follow the resilient
// groups' buckets): 1 − (2/3)^16, over 99.8 %.
func frugalFailovers(ctx context.Context, l *benchLab, n int) []row {
	kinds := []struct {
		id, name string
		goal     time.Duration
		kind     frugalFault
	}{
		{"12b", fmt.Sprintf("frugal: a busy tunnel (%d UDP streams over the tunnels) blackholed → FIB without it", streamFlows), 300 * time.Millisecond, busyTunnel},
		{"12c", "frugal: an idle tunnel blackholed → FIB without it", 3 * time.Second, idleTunnel},
		{"12d", fmt.Sprintf("frugal: new flows' first packet (%d UDP streams) on a tunnel that died while idle → FIB without it", streamFlows), time.Second, newFlow},
	}
	var rows []row
	for k, kind := range kinds {
		var took []time.Duration
		var err error
		for i := range n {
			c := lab.Carriers[i%len(lab.Carriers)]
			var d time.Duration
			if d, err = frugalFail(ctx, l, c, kind.kind, 40000+1000*k+streamFlows*i); err != nil {
				err = fmt.Errorf("iteration %d (%s): %w", i+1, c, err)
				break
			}
			logf("row %s %d/%d: %v", kind.id, i+1, n, d.Round(time.Millisecond))
			took = append(took, d)
		}
		if len(took) == 0 {
			rows = append(rows, failed(kind.id, kind.name, err))
			continue
		}
		_, p99, s := dist(took)
		rows = append(rows, row{id: kind.id, name: kind.name, uplinkd: s, err: err,
			ratio: fmt.Sprintf("p99 goal ≤ %v", kind.goal), verdict: verdict(p99 <= kind.goal)})
	}
	return rows
}

// streamFlows is how many UDP flows a busy tunnel's and a new flow's
// measure start over the three tunnels.
const streamFlows = 16

// frugalFault is what runs on the tunnel when it is blackholed.
type frugalFault int

const (
	busyTunnel frugalFault = iota // streams on it from a second before
	idleTunnel                    // nothing
	newFlow                       // nothing, then new streams 500 ms after
)

// frugalFail blackholes carrier and times it out of the edge's default,
// from the blackhole, or for new flows from their first packet. Flows
// stop and the blackhole is lifted before it returns.
func frugalFail(ctx context.Context, l *benchLab, carrier string, kind frugalFault, base int) (time.Duration, error) {
	if _, err := l.waitVia(ctx, 30*time.Second, allThree()); err != nil {
		return 0, fmt.Errorf("before the fault: %w", err)
	}
	time.Sleep(2*time.Second + settle()) // idle again: the frugal rate
	if kind == busyTunnel {
		stop, err := udpStreams(l, base)
		if err != nil {
			return 0, err
		}
		defer stop()
		time.Sleep(time.Second) // busy for a while
	}
	t0 := time.Now()
	if err := lab.Blackhole(l.NS(carrier), "home0"); err != nil {
		return 0, err
	}
	defer lab.Unblackhole(l.NS(carrier))
	if kind == newFlow {
		time.Sleep(500 * time.Millisecond) // dead while idle, not yet seen
		t0 = time.Now()
		stop, err := udpStreams(l, base)
		if err != nil {
			return 0, err
		}
		defer stop()
	}
	at, err := l.waitVia(ctx, 10*time.Second, without(carrier))
	if err != nil {
		return 0, err
	}
	return at.Sub(t0), nil
}

// udpStreams sends a datagram every 10 ms on each of streamFlows flows
// from the LAN host's source ports base… to ul-web's discard port
// (nothing comes back), until stop.
func udpStreams(l *benchLab, base int) (stop func(), err error) {
	var conns []*net.UDPConn
	err = lab.InNS(l.NS("lan"), func() error {
		for i := range streamFlows {
			c, err := net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP(lab.LANHost), Port: base + i},
				&net.UDPAddr{IP: net.ParseIP(lab.WebAddr), Port: lab.WhoAmIPort})
			if err != nil {
				return err
			}
			conns = append(conns, c)
		}
		return nil
	})
	if err != nil {
		for _, c := range conns {
			c.Close()
		}
		return nil, fmt.Errorf("udp streams from port %d: %w", base, err)
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			for _, c := range conns {
				c.Write([]byte("stream"))
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		close(done)
		for _, c := range conns {
			c.Close()
		}
	}, nil
}
