package bfd

import (
	"encoding/hex"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPacketRoundTrip(t *testing.T) {
	for _, p := range []Packet{
		{State: StateDown, DetectMult: 3, MyDiscr: 1, DesiredMinTx: 1000000, RequiredMinRx: 100000},
		{Diag: DiagControlExpired, State: StateUp, Poll: true, DetectMult: 5, MyDiscr: 0xdeadbeef, YourDiscr: 7,
			DesiredMinTx: 100000, RequiredMinRx: 10000, RequiredMinEchoRx: 50000},
		{Diag: DiagAdminDown, State: StateAdminDown, Final: true, CPI: true, Demand: true, DetectMult: 255,
			MyDiscr: 0xffffffff, YourDiscr: 0xffffffff, DesiredMinTx: 0xffffffff, RequiredMinRx: 0xffffffff},
	} {
		b := p.Marshal()
		if len(b) != headerLen {
			t.Fatalf("Marshal(%+v) = %d bytes, want %d", p, len(b), headerLen)
		}
		got, err := Unmarshal(b)
		if err != nil {
			t.Fatalf("Unmarshal(Marshal(%+v)): %v", p, err)
		}
		if diff := cmp.Diff(p, got); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	}
}

// TestPacketWire pins the encoding against a hand-assembled packet laid
// out as in RFC 5880 §4.1.
func TestPacketWire(t *testing.T) {
	p := Packet{Diag: DiagNeighborDown, State: StateUp, Poll: true, DetectMult: 3,
		MyDiscr: 0x01020304, YourDiscr: 0x0a0b0c0d, DesiredMinTx: 100000, RequiredMinRx: 300000}
	want := "23" + "e0" + "03" + "18" + "01020304" + "0a0b0c0d" + "000186a0" + "000493e0" + "00000000"
	if got := hex.EncodeToString(p.Marshal()); got != want {
		t.Errorf("Marshal = %s, want %s", got, want)
	}
}

func TestUnmarshalMalformed(t *testing.T) {
	good := Packet{State: StateUp, DetectMult: 3, MyDiscr: 1, YourDiscr: 2, DesiredMinTx: 1, RequiredMinRx: 1}
	mod := func(f func(b []byte) []byte) []byte { return f(good.Marshal()) }
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrShort},
		{"short", mod(func(b []byte) []byte { return b[:23] }), ErrShort},
		{"version 0", mod(func(b []byte) []byte { b[0] &^= 0xe0; return b }), ErrVersion},
		{"version 2", mod(func(b []byte) []byte { b[0] = b[0]&0x1f | 2<<5; return b }), ErrVersion},
		{"length below 24", mod(func(b []byte) []byte { b[3] = 23; return b }), ErrLength},
		{"length beyond payload", mod(func(b []byte) []byte { b[3] = 26; return b }), ErrLength},
		{"detect mult 0", mod(func(b []byte) []byte { b[2] = 0; return b }), ErrDetectMult},
		{"multipoint", mod(func(b []byte) []byte { b[1] |= flagMultipoint; return b }), ErrMultipoint},
		{"my discr 0", mod(func(b []byte) []byte { clear(b[4:8]); return b }), ErrMyDiscr},
		{"your discr 0 in Up", mod(func(b []byte) []byte { clear(b[8:12]); return b }), ErrYourDiscr},
		{"your discr 0 in Init", mod(func(b []byte) []byte { clear(b[8:12]); b[1] = byte(StateInit) << 6; return b }), ErrYourDiscr},
		{"auth present", mod(func(b []byte) []byte { b[1] |= flagAuth; b[3] = 24 + 9; return append(b, make([]byte, 9)...) }), ErrAuth},
		{"poll and final", mod(func(b []byte) []byte { b[1] |= flagPoll | flagFinal; return b }), ErrPollFinal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Unmarshal(tc.b); !errors.Is(err, tc.want) {
				t.Errorf("Unmarshal = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestUnmarshalAccepts(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    Packet
		pad  int
	}{
		{"your discr 0 in Down", Packet{State: StateDown, DetectMult: 3, MyDiscr: 9}, 0},
		{"your discr 0 in AdminDown", Packet{State: StateAdminDown, DetectMult: 1, MyDiscr: 9}, 0},
		// The length field, not the datagram, bounds the packet (§6.8.6).
		{"trailing bytes", Packet{State: StateUp, DetectMult: 3, MyDiscr: 9, YourDiscr: 1}, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Unmarshal(append(tc.p.Marshal(), make([]byte, tc.pad)...))
			if err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if diff := cmp.Diff(tc.p, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
