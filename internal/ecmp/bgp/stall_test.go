package bgp

import (
	"strings"
	"testing"
	"time"

	gobgplog "github.com/osrg/gobgp/v3/pkg/log"
	bgppkt "github.com/osrg/gobgp/v3/pkg/packet/bgp"
)

// TestStallNote: what status says of a session stuck before established,
// by how far it got, for how long, and what NOTIFICATIONs said.
func TestStallNote(t *testing.T) {
	base := stall{Hold: 9 * time.Second, Keepalive: 3 * time.Second, GTSM: true, LocalASN: 64512, PeerASN: 64513}
	with := func(f func(*stall)) stall { s := base; f(&s); return s }
	badAS := failure{sent: true, code: bgppkt.BGP_ERROR_OPEN_MESSAGE_ERROR, subcode: bgppkt.BGP_ERROR_SUB_BAD_PEER_AS,
		text: "as number mismatch expected 64513, received 64999"}
	for _, tt := range []struct {
		name string
		in   stall
		want string // a part of the note; "" for none
	}{
		{"established", with(func(s *stall) { s.State, s.Down = "established", time.Hour }), ""},
		{"coming up", with(func(s *stall) { s.State, s.InState, s.Down = "active", time.Second, 2*time.Second }), ""},
		{"opensent for a moment", with(func(s *stall) { s.State, s.InState, s.Down = "opensent", 100*time.Millisecond, 2*time.Second }), ""},
		{"no OPEN, GTSM on", with(func(s *stall) { s.State, s.InState, s.Down = "opensent", 3*time.Second, 4*time.Second }),
			"no OPEN from peer: GTSM mismatch (peer sends TTL 1? set `ttl security on` in BIRD"},
		{"no OPEN, GTSM off", with(func(s *stall) {
			s.State, s.InState, s.Down, s.GTSM = "opensent", 3*time.Second, 4*time.Second, false
		}), "no OPEN from peer: GTSM mismatch (peer requires TTL 255?"},
		{"OPEN but no KEEPALIVE", with(func(s *stall) { s.State, s.InState, s.Down = "openconfirm", 5*time.Second, 6*time.Second }),
			"OPEN from peer but no KEEPALIVE: the peer does not get our packets: GTSM mismatch"},
		{"back to active after openconfirm timed out", with(func(s *stall) {
			s.State, s.Furthest, s.InState, s.Down = "active", "openconfirm", time.Second, 10*time.Second
		}), "OPEN from peer but no KEEPALIVE"},
		{"never a TCP connection", with(func(s *stall) {
			s.State, s.Furthest, s.InState, s.Down = "active", "active", 9*time.Second, 9*time.Second
		}),
			"no TCP connection: wrong address or port"},
		{"never a TCP connection, with a password", with(func(s *stall) {
			s.State, s.Down, s.Password = "connect", 20*time.Second, true
		}), "a TCP-MD5 password mismatch"},
		{"we refused the peer's AS", with(func(s *stall) { s.State, s.Failure = "active", badAS }), "AS mismatch: peer says 64999, config says 64513"},
		{"the peer refused ours", with(func(s *stall) {
			s.State, s.Failure = "idle", failure{code: bgppkt.BGP_ERROR_OPEN_MESSAGE_ERROR, subcode: bgppkt.BGP_ERROR_SUB_BAD_PEER_AS}
		}), "AS mismatch: the peer refused our AS 64512"},
		{"same router id", with(func(s *stall) {
			s.State, s.Failure = "idle", failure{code: bgppkt.BGP_ERROR_OPEN_MESSAGE_ERROR, subcode: bgppkt.BGP_ERROR_SUB_BAD_BGP_IDENTIFIER}
		}), "router ID conflict"},
		{"an AS mismatch once fixed", with(func(s *stall) { s.State, s.Failure = "established", badAS }), ""},
		{"a cease is no OPEN problem", with(func(s *stall) {
			s.State, s.InState, s.Down = "active", time.Second, time.Second
			s.Failure = failure{code: bgppkt.BGP_ERROR_CEASE, subcode: bgppkt.BGP_ERROR_SUB_PEER_DECONFIGURED}
		}), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := stallNote(tt.in)
			if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
				t.Errorf("note %q, want one with %q", got, tt.want)
			}
		})
	}
}

// TestNotificationOf: the two GoBGP log lines that carry NOTIFICATIONs
// before a session is established are read as failures.
func TestNotificationOf(t *testing.T) {
	sent := bgppkt.NewMessageError(bgppkt.BGP_ERROR_OPEN_MESSAGE_ERROR, bgppkt.BGP_ERROR_SUB_BAD_PEER_AS, nil,
		"as number mismatch expected 64513, received 64999").(*bgppkt.MessageError)
	for _, tt := range []struct {
		msg  string
		f    gobgplog.Fields
		want failure
		ok   bool
	}{
		{"sent notification", gobgplog.Fields{"Key": "198.18.0.2", "Data": sent},
			failure{sent: true, code: 2, subcode: 2, text: "as number mismatch expected 64513, received 64999"}, true},
		{"received notification", gobgplog.Fields{"Key": "198.18.0.2", "Code": uint8(2), "Subcode": uint8(2)},
			failure{code: 2, subcode: 2, text: "code 2(open) subcode 2(bad peer as)"}, true},
		{"hold timer expired", gobgplog.Fields{"Key": "198.18.0.2"}, failure{}, false},
	} {
		got, ok := notificationOf(tt.msg, tt.f)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: %+v %v, want %+v %v", tt.msg, got, ok, tt.want, tt.ok)
		}
	}
}

// TestTTLSecurityOff: GTSM is on unless the config turns it off, and
// turning it off re-creates the sessions.
func TestTTLSecurityOff(t *testing.T) {
	c := validConfig()
	p := c.Peers[0]
	if ts := apiPeer(c, p).GetTtlSecurity(); !ts.GetEnabled() || ts.GetTtlMin() != 255 {
		t.Errorf("default ttl security %v, want on with minimum 255", ts)
	}
	off := c
	off.DisableTTLSecurity = true
	if ts := apiPeer(off, p).GetTtlSecurity(); ts.GetEnabled() {
		t.Errorf("ttl security %v with DisableTTLSecurity", ts)
	}
	if specOf(c, p) == specOf(off, p) {
		t.Error("turning GTSM off does not re-create the session")
	}
}
