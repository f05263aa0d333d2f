package bfd

import (
	"fmt"
	"reflect"
	"testing"
	"time"
)

// TestStampProbes: two of our sessions, fast (100 ms), one way 15 ms. A
// probe asked every 250 ms rides on the next periodic packet and is
// answered by the echo in the peer's next one: a round trip of 30 ms each
// (the peer's hold taken off), no packet beyond the periodic ones, no
// state change. The packet of one probe is lost: that probe alone has no
// answer.
func TestStampProbes(t *testing.T) {
	for seed := range uint64(seeds) {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			n := newSimNet(t)
			n.delay = 15 * time.Millisecond
			ss := [2]*Session{n.addFrugal(0, seed, false), n.addFrugal(1, seed, false)}
			n.run(n.at(5 * time.Second))
			// Past the trial, with no probe asked, no packet carries
			// the trailer: it costs nothing until the SLA probes.
			for i := range 2 {
				for _, sp := range n.sent[i][stampTrial+5:] {
					if sp.p.Stamp != nil {
						t.Fatalf("end %d: a packet at %v carries a trailer with no probe asked", i, n.since(sp.sent))
					}
				}
			}
			ch := make(chan Echo, 64)
			const asks = 20
			from, sent0 := n.now, len(n.sent[0])+len(n.sent[1])
			const lostSeq = 10
			for seq := 1; seq <= asks; seq++ {
				if err := ss[0].askStamp(seq, ch); err != nil {
					t.Fatal(err)
				}
				if seq == lostSeq {
					next := ss[0].st.nextTx
					n.cutFrom[0], n.healAt[0] = next, next.Add(time.Millisecond)
				}
				n.run(n.now.Add(250 * time.Millisecond))
			}
			close(ch)
			got := map[int]time.Duration{}
			for e := range ch {
				got[e.Seq] = e.RTT
			}
			for seq := 1; seq <= asks; seq++ {
				rtt, ok := got[seq]
				switch {
				case seq == lostSeq && ok:
					t.Errorf("probe %d: its packet was lost, yet an echo (%v)", seq, rtt)
				case seq != lostSeq && !ok:
					t.Errorf("probe %d: no echo", seq)
				case ok && (rtt < 30*time.Millisecond-time.Microsecond || rtt > 30*time.Millisecond+time.Microsecond):
					t.Errorf("probe %d: rtt %v, want 30 ms", seq, rtt)
				}
			}
			// Only periodic packets: 10 to 13.4 a second each way.
			if r := float64(len(n.sent[0])+len(n.sent[1])-sent0) / n.now.Sub(from).Seconds(); r < 20 || r > 27 {
				t.Errorf("%.1f packets a second both ways while probing, want the periodic 20 to 27", r)
			}
			for i := range ss {
				if c := n.upChanges(i); len(c) != 0 {
					t.Errorf("end %d left Up:%s", i, describe(c))
				}
			}
		})
	}
}

// TestStampsNeedOurPeer: against FRR's model, which sends no trailer, a
// session stops sending its own after the trial packets, and refuses
// probes; a Down session refuses them too.
func TestStampsNeedOurPeer(t *testing.T) {
	n := newSimNet(t)
	s := n.addFrugal(0, 1, false)
	if err := s.askStamp(1, make(chan Echo, 1)); err != ErrNoStamps {
		t.Fatalf("askStamp on a Down session: %v, want ErrNoStamps", err)
	}
	n.addFRR(1, 1)
	n.run(n.at(10 * time.Second))
	if st := s.Status(); st.State != StateUp {
		t.Fatalf("with FRR's model: %v", st.State)
	}
	if err := s.askStamp(1, make(chan Echo, 1)); err != ErrNoStamps {
		t.Errorf("askStamp with FRR: %v, want ErrNoStamps", err)
	}
	stamped := 0
	for _, sp := range n.sent[0] {
		if sp.p.Stamp != nil {
			stamped++
		}
	}
	if stamped != stampTrial {
		t.Errorf("%d packets to FRR carried the trailer, want the %d of the trial", stamped, stampTrial)
	}
}

// TestStampTrailerRoundTrip: the trailer survives Marshal and Unmarshal,
// outside the Length field's 24 bytes; a packet without it has none.
func TestStampTrailerRoundTrip(t *testing.T) {
	p := Packet{State: StateUp, DetectMult: 3, MyDiscr: 7, YourDiscr: 9, DesiredMinTx: 100000, RequiredMinRx: 100000,
		Stamp: &Stamp{Val: 123456, Probe: true, Echoes: []StampEcho{{Val: 98765, Delay: 4321}, {Val: 98800, Delay: 200}}}}
	b := p.Marshal()
	if len(b) != headerLen+8+16 || b[3] != headerLen {
		t.Fatalf("wire: %d bytes, length field %d; want %d and %d", len(b), b[3], headerLen+24, headerLen)
	}
	q, err := Unmarshal(b)
	if err != nil || !reflect.DeepEqual(q.Stamp, p.Stamp) {
		t.Fatalf("Unmarshal: %+v %v, want the stamp %+v", q.Stamp, err, *p.Stamp)
	}
	// Cut short, the trailer is not taken; the packet still is.
	if q, err := Unmarshal(b[:len(b)-4]); err != nil || q.Stamp != nil {
		t.Errorf("a cut trailer: %+v %v, want the packet without it", q.Stamp, err)
	}
	p.Stamp = nil
	if q, err := Unmarshal(p.Marshal()); err != nil || q.Stamp != nil {
		t.Errorf("without a trailer: %+v %v", q.Stamp, err)
	}
}

// TestStampProbesBunched: a probe on every packet of end 0 (asked every
// 40 ms): now and then two of them reach end 1 between two of its own
// packets, whose echo is of the later one but counts both. Every probe
// is answered; none is taken for lost.
func TestStampProbesBunched(t *testing.T) {
	for seed := range uint64(seeds) {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			n := newSimNet(t)
			n.delay = 5 * time.Millisecond
			ss := [2]*Session{n.addFrugal(0, seed, false), n.addFrugal(1, seed, false)}
			n.run(n.at(5 * time.Second))
			ch := make(chan Echo, 1024)
			const asks = 125
			for seq := 1; seq <= asks; seq++ {
				if err := ss[0].askStamp(seq, ch); err != nil {
					t.Fatal(err)
				}
				n.run(n.now.Add(40 * time.Millisecond))
			}
			n.run(n.now.Add(time.Second))
			close(ch)
			got := map[int]bool{}
			for e := range ch {
				got[e.Seq] = true
				if d := e.RTT - 10*time.Millisecond; d < -time.Microsecond || d > time.Microsecond {
					t.Errorf("probe %d: rtt %v, want 10 ms (each echo with its own hold)", e.Seq, e.RTT)
				}
			}
			if len(got) != asks {
				var missing []int
				for seq := 1; seq <= asks; seq++ {
					if !got[seq] {
						missing = append(missing, seq)
					}
				}
				t.Errorf("%d of %d probes answered; missing %v", len(got), asks, missing)
			}
		})
	}
}
