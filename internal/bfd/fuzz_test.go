package bfd

import (
	"bytes"
	"testing"
	"time"
)

// FuzzUnmarshal: decoding never panics, and whatever decodes has passed
// the checks of RFC 5880 §6.8.6 and encodes back to the same header.
func FuzzUnmarshal(f *testing.F) {
	for _, p := range []Packet{
		{State: StateDown, DetectMult: 3, MyDiscr: 7, DesiredMinTx: 1000000, RequiredMinRx: 1000000},
		{State: StateUp, Poll: true, DetectMult: 3, MyDiscr: 7, YourDiscr: 9, DesiredMinTx: 100000, RequiredMinRx: 100000},
		{Diag: DiagAdminDown, State: StateAdminDown, Final: true, DetectMult: 1, MyDiscr: 7},
	} {
		f.Add(p.Marshal())
	}
	padded := Packet{State: StateInit, DetectMult: 3, MyDiscr: 1, YourDiscr: 2}
	f.Add(append(padded.Marshal(), 0, 0, 0))
	f.Add([]byte{0x20, 0xc0, 3, 26})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Unmarshal(b)
		if err != nil {
			return
		}
		switch {
		case p.DetectMult == 0, p.MyDiscr == 0, p.AuthPresent, p.Multipoint, p.Poll && p.Final,
			p.YourDiscr == 0 && p.State != StateDown && p.State != StateAdminDown:
			t.Fatalf("Unmarshal accepted %+v", p)
		case int(b[3]) < headerLen || int(b[3]) > len(b):
			t.Fatalf("Unmarshal accepted length field %d of a %d-byte datagram", b[3], len(b))
		}
		out := p.Marshal()
		want := bytes.Clone(b[:headerLen])
		want[3] = headerLen // the padding after the header is not ours to keep
		if !bytes.Equal(out, want) {
			t.Fatalf("Marshal(Unmarshal(%x)) = %x", want, out)
		}
	})
}

// FuzzReceive feeds a session arbitrary datagrams through the listener's
// path (GTSM, validation, demultiplexing) with time passing between them
// in virtual time: no panic, no invalid packet sent (simConn checks each),
// no timer left in the past, and no Up without a peer.
func FuzzReceive(f *testing.F) {
	const ours = 1000 // addSession's discriminator for end 0
	bringUp := []Packet{
		{State: StateDown, DetectMult: 3, MyDiscr: 7, DesiredMinTx: 1000000, RequiredMinRx: 1000000},
		{State: StateInit, DetectMult: 3, MyDiscr: 7, YourDiscr: ours, DesiredMinTx: 1000000, RequiredMinRx: 1000000},
		{State: StateUp, Poll: true, DetectMult: 3, MyDiscr: 7, YourDiscr: ours, DesiredMinTx: 100000, RequiredMinRx: 100000},
		{State: StateUp, Final: true, DetectMult: 3, MyDiscr: 7, YourDiscr: ours, DesiredMinTx: 100000, RequiredMinRx: 100000},
		{State: StateUp, DetectMult: 1, MyDiscr: 7, YourDiscr: ours, DesiredMinTx: 1, RequiredMinRx: 0},
		{State: StateAdminDown, Diag: DiagAdminDown, DetectMult: 3, MyDiscr: 7, YourDiscr: ours},
	}
	var seed []byte
	for i, p := range bringUp {
		seed = append(append(seed, byte(i*5)), p.Marshal()...)
	}
	f.Add(seed)
	f.Add([]byte{0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		n := newSimNet(t)
		s := n.addSession(0, 1)
		m := NewManager(Config{})
		m.byKey[s.Key()], m.byDiscr[s.localDiscr] = s, s
		k := listenKey{s.cfg.Local, s.cfg.Interface}
		for len(b) > 0 {
			// One byte: the high bit picks an off-link TTL, the rest
			// how long passes first, in 10 ms steps; then a datagram.
			step := b[0]
			b = b[1:]
			n.run(n.now.Add(time.Duration(step&0x7f) * 10 * time.Millisecond))
			ttl := ttlGTSM
			if step&0x80 != 0 {
				ttl = 64
			}
			size := min(len(b), headerLen)
			m.dispatch(k, b[:size], ttl, s.cfg.Peer, n.now)
			b = b[size:]
			select {
			case r := <-s.rx:
				s.settle(s.receive(r, n.now), n.now)
			default:
			}
			st := s.Status()
			if st.State > StateUp || st.State == StateUp && st.RemoteDiscr == 0 {
				t.Fatalf("state %v with remote discriminator %d", st.State, st.RemoteDiscr)
			}
			if w := s.wakeAt(); !w.After(n.now) {
				t.Fatalf("next deadline %v is not after now %v", w.Sub(simEpoch), n.since(n.now))
			}
		}
	})
}
