//go:build linux

package bfd

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/net/ipv4"
)

// pair returns the session configs of both ends for one address family.
func (l *lab) pair(v6 bool) (onA, onB SessionConfig) {
	a, b := l.a4, l.b4
	if v6 {
		a, b = l.a6, l.b6
	}
	return SessionConfig{Interface: l.ifA, Local: a, Peer: b}, SessionConfig{Interface: l.ifB, Local: b, Peer: a}
}

// TestManagerVeth runs two Managers in two namespaces over a veth pair,
// IPv4 and IPv6 sessions side by side: bring-up, loss of the link, GTSM,
// AdminDown, a graceful stop and a restart.
func TestManagerVeth(t *testing.T) {
	l := newLab(t)
	base := goroutines()
	recA, recB := newRecorder(), newRecorder()
	ma := NewManager(Config{Logger: testLogger(t), OnChange: recA.OnChange})
	mb := NewManager(Config{Logger: testLogger(t), OnChange: recB.OnChange})
	a4, b4 := l.pair(false)
	a6, b6 := l.pair(true)
	start := time.Now()
	for _, c := range []SessionConfig{a4, a6} {
		addIn(t, l.a, ma, c)
	}
	for _, c := range []SessionConfig{b4, b6} {
		addIn(t, l.b, mb, c)
	}
	waitUp(t, ma, mb)
	t.Logf("4 sessions Up after %v", time.Since(start).Round(time.Millisecond))
	for _, st := range ma.Snapshot() {
		waitNegotiatedKey(t, ma, Key{st.Interface, st.Peer})
	}

	t.Run("link down detected", func(t *testing.T) { linkDown(t, l, recA, a4, a6) })
	waitUp(t, ma, mb)
	t.Run("gtsm", func(t *testing.T) { gtsm(t, l, ma, recA, a4) })
	waitUp(t, ma, mb)

	t.Run("new timers without going down", func(t *testing.T) {
		recA.drain(a4.Key())
		recB.drain(b4.Key())
		for _, m := range []struct {
			m *Manager
			c SessionConfig
		}{{ma, a4}, {mb, b4}} {
			c := m.c
			c.DesiredMinTx, c.RequiredMinRx, c.DetectMult = 300*time.Millisecond, 300*time.Millisecond, 5
			if changed, err := m.m.Update(c); err != nil || !changed {
				t.Fatalf("Update: changed %v, %v", changed, err)
			}
			if changed, _ := m.m.Update(c); changed {
				t.Error("the same timers again reported a change")
			}
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			st := statusOf(t, ma, a4.Key())
			if st.TxInterval == 300*time.Millisecond && st.DetectTime == 1500*time.Millisecond && !st.PollActive {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after new timers: tx %v detect %v poll %v; want 300ms, 1.5s, none", st.TxInterval, st.DetectTime, st.PollActive)
			}
			time.Sleep(20 * time.Millisecond)
		}
		for _, r := range []struct {
			rec *recorder
			k   Key
		}{{recA, a4.Key()}, {recB, b4.Key()}} {
			select {
			case c := <-r.rec.chanFor(r.k):
				t.Errorf("%s changed state on new timers: %v → %v", r.k, c.Old, c.New)
			default:
			}
		}
		for _, m := range []struct {
			m *Manager
			c SessionConfig
		}{{ma, a4}, {mb, b4}} {
			if _, err := m.m.Update(m.c); err != nil {
				t.Fatal(err)
			}
		}
	})
	waitUp(t, ma, mb)

	t.Run("admin down propagates", func(t *testing.T) {
		recA.drain(a4.Key())
		at := time.Now()
		if err := mb.SetAdminDown(b4.Key(), true); err != nil {
			t.Fatal(err)
		}
		c := recA.wait(t, a4.Key(), StateDown, 2*time.Second)
		t.Logf("peer AdminDown seen after %v: diag %v, remote %v", c.At.Sub(at).Round(time.Microsecond), c.Diag, c.RemoteState)
		if c.Diag != DiagNeighborDown || c.RemoteState != StateAdminDown {
			t.Errorf("diag %v remote %v, want %v and %v", c.Diag, c.RemoteState, DiagNeighborDown, StateAdminDown)
		}
		if err := mb.SetAdminDown(b4.Key(), false); err != nil {
			t.Fatal(err)
		}
		recA.wait(t, a4.Key(), StateUp, 5*time.Second)
	})

	t.Run("graceful stop and restart", func(t *testing.T) {
		recA.drain(a4.Key())
		recA.drain(a6.Key())
		at := time.Now()
		if err := mb.Close(); err != nil {
			t.Fatal(err)
		}
		for _, k := range []Key{a4.Key(), a6.Key()} {
			c := recA.wait(t, k, StateDown, 2*time.Second)
			t.Logf("%s: peer stopped, Down after %v (diag %v)", k, c.At.Sub(at).Round(time.Microsecond), c.Diag)
		}
		recB = newRecorder()
		mb = NewManager(Config{Logger: testLogger(t), OnChange: recB.OnChange})
		at = time.Now()
		for _, c := range []SessionConfig{b4, b6} {
			addIn(t, l.b, mb, c)
		}
		waitUp(t, ma, mb)
		t.Logf("restarted peer Up again after %v", time.Since(at).Round(time.Millisecond))
	})

	t.Run("address added after session", func(t *testing.T) {
		a, b := netip.MustParseAddr("198.18.7.4"), netip.MustParseAddr("198.18.7.5")
		ca := SessionConfig{Interface: l.ifA, Local: a, Peer: b}
		addIn(t, l.a, ma, ca)
		addIn(t, l.b, mb, SessionConfig{Interface: l.ifB, Local: b, Peer: a})
		run(t, "ip", "-n", l.nsA, "addr", "add", a.String()+"/31", "dev", l.ifA)
		run(t, "ip", "-n", l.nsB, "addr", "add", b.String()+"/31", "dev", l.ifB)
		waitUp(t, ma, mb)
		if err := ma.Remove(ca.Key()); err != nil {
			t.Fatal(err)
		}
	})

	if err := ma.Remove(a6.Key()); err != nil {
		t.Fatal(err)
	}
	if got := len(ma.Snapshot()); got != 1 {
		t.Errorf("after Remove: %d sessions, want 1", got)
	}
	ma.Close()
	mb.Close()
	checkGoroutines(t, base)
}

// waitUp waits until every session of both managers is Up.
func waitUp(t *testing.T, ms ...*Manager) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		up, all := 0, 0
		var last []Status
		for _, m := range ms {
			for _, st := range m.Snapshot() {
				all++
				if st.State == StateUp {
					up++
				}
				last = append(last, st)
			}
		}
		if up == all && all > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d sessions Up after 10s: %+v", up, all, last)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func waitNegotiatedKey(t *testing.T, m *Manager, k Key) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		for _, st := range m.Snapshot() {
			if (Key{st.Interface, st.Peer}) == k && st.State == StateUp && !st.PollActive &&
				st.TxInterval == 100*time.Millisecond && st.DetectTime == 300*time.Millisecond {
				t.Logf("%s: %v, remote %v, tx %v, rx %v, detect %v, tx/rx packets %d/%d",
					k, st.State, st.RemoteState, st.TxInterval, st.RxInterval, st.DetectTime, st.TxPackets, st.RxPackets)
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not at 100ms × 3: %+v", k, m.Snapshot())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// linkDown takes the far end's link down, as when a carrier dies, and
// measures how long A takes to notice. The bound is loose on purpose.
func linkDown(t *testing.T, l *lab, recA *recorder, cs ...SessionConfig) {
	for _, c := range cs {
		recA.drain(c.Key())
	}
	at := time.Now()
	run(t, "ip", "-n", l.nsB, "link", "set", l.ifB, "down")
	for _, c := range cs {
		ch := recA.wait(t, c.Key(), StateDown, 2*time.Second)
		took := ch.At.Sub(at)
		t.Logf("%s: link down detected after %v (configured 100ms × 3 = 300ms), diag %v", c.Key(), took.Round(time.Millisecond), ch.Diag)
		if took > time.Second || ch.Diag != DiagControlExpired {
			t.Errorf("%s: Down after %v, diag %v; want < 1s, %v", c.Key(), took, ch.Diag, DiagControlExpired)
		}
	}
	run(t, "ip", "-n", l.nsB, "link", "set", l.ifB, "up")
}

// gtsm sends a forged AdminDown from the peer's own address but with TTL
// 64, then a genuine-looking Down with TTL 255. Only the second may move
// the session, which the change's remote state shows.
func gtsm(t *testing.T, l *lab, ma *Manager, recA *recorder, c SessionConfig) {
	recA.drain(c.Key())
	send := func(ttl int, st State) {
		in(t, l.b, func() {
			conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(c.Peer, 0)))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if err := ipv4.NewConn(conn).SetTTL(ttl); err != nil {
				t.Fatal(err)
			}
			p := Packet{State: st, DetectMult: 3, MyDiscr: 99, DesiredMinTx: 1000000, RequiredMinRx: 1000000}
			if _, err := conn.WriteToUDPAddrPort(p.Marshal(), netip.AddrPortFrom(c.Local, Port)); err != nil {
				t.Fatal(err)
			}
		})
	}
	send(64, StateAdminDown)
	send(255, StateDown)
	ch := recA.wait(t, c.Key(), StateDown, 2*time.Second)
	if ch.RemoteState != StateDown {
		t.Errorf("session moved by the TTL-64 packet (remote state %v), GTSM not enforced", ch.RemoteState)
	}
	if d := ma.Drops(); d.BadTTL == 0 {
		t.Errorf("drops %+v: the TTL-64 packet was not counted", d)
	}
}

func statusOf(t *testing.T, m *Manager, k Key) Status {
	t.Helper()
	for _, st := range m.Snapshot() {
		if st.Interface == k.Interface && st.Peer == k.Peer {
			return st
		}
	}
	t.Fatalf("no session %s", k)
	return Status{}
}
