package bgp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// peerNamed returns a speaker's view of one session.
func peerNamed(s *Speaker, name string) (PeerState, bool) {
	for _, ps := range s.Peers(context.Background()) {
		if ps.Name == name {
			return ps, true
		}
	}
	return PeerState{}, false
}

// TestMaxPrefixRestarts: a session ended by its prefix limit comes back by
// itself after MaxPrefixRestart, here once the hub sends fewer prefixes.
// Before, it stayed down until the daemon restarted.
func TestMaxPrefixRestarts(t *testing.T) {
	t.Parallel()
	p := newPair(t)
	p.edgeCfg.MaxPrefixes = 1 // the hub sends 2 on v4
	p.edgeCfg.MaxPrefixRestart = 2 * time.Second
	hub := start(t, p.hubCfg)
	edge := start(t, p.edgeCfg)
	var down time.Time // when the limit ended the session, as the speaker saw it
	eventually(t, converge, func() string {
		if ps, _ := peerNamed(edge, "hub"); ps.LastError == "max-prefix 1 exceeded" && !ps.Established {
			down = ps.Since
			return ""
		}
		return fmt.Sprintf("peers: %+v", edge.Peers(context.Background()))
	})
	p.hubCfg.Originate = []netip.Prefix{v4Default, v6Default} // within the limit now
	if err := hub.Apply(context.Background(), p.hubCfg); err != nil {
		t.Fatalf("hub apply: %v", err)
	}
	eventually(t, converge+p.edgeCfg.MaxPrefixRestart, routesAre(edge, defaults))
	took := time.Since(down)
	t.Logf("MEASURE max-prefix stop to session and default back (restart after %v): %v",
		p.edgeCfg.MaxPrefixRestart, took.Round(time.Millisecond))
	if took < p.edgeCfg.MaxPrefixRestart {
		t.Errorf("session back after %v, before the %v restart delay", took, p.edgeCfg.MaxPrefixRestart)
	}
}

// TestMaxPrefixZeroRestartStaysDown: MaxPrefixRestart zero keeps today's
// behaviour, the session stays down.
func TestMaxPrefixZeroRestartStaysDown(t *testing.T) {
	t.Parallel()
	p := newPair(t)
	p.edgeCfg.MaxPrefixes = 1
	hub := start(t, p.hubCfg)
	edge := start(t, p.edgeCfg)
	eventually(t, converge, func() string {
		if ps, _ := peerNamed(edge, "hub"); ps.LastError == "max-prefix 1 exceeded" {
			return ""
		}
		return fmt.Sprintf("peers: %+v", edge.Peers(context.Background()))
	})
	p.hubCfg.Originate = []netip.Prefix{v4Default, v6Default}
	if err := hub.Apply(context.Background(), p.hubCfg); err != nil {
		t.Fatalf("hub apply: %v", err)
	}
	time.Sleep(4 * time.Second) // GoBGP would have dialled twice
	if ps, _ := peerNamed(edge, "hub"); ps.Established {
		t.Errorf("session stopped by its prefix limit came back with MaxPrefixRestart 0: %+v", ps)
	}
}

// TestPasswordSignsSessions: with TCP-MD5 the sessions come up only when
// both ends hold the same password, and the password is in no log line.
func TestPasswordSignsSessions(t *testing.T) {
	t.Parallel()
	const secret = "md5-Secret-4-uplinkd"
	for _, tc := range []struct {
		name     string
		hub, edg string
		up       bool
	}{
		{"same password", secret, secret, true},
		{"different passwords", secret, secret + "x", false},
		{"only the hub signs", secret, "", false},
		{"only the edge signs", "", secret, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newPair(t)
			p.hubCfg.Password, p.edgeCfg.Password = tc.hub, tc.edg
			logs := &lockedBuffer{}
			debug := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			hub, edge := New(debug), New(debug)
			for _, s := range []struct {
				s *Speaker
				c Config
			}{{hub, p.hubCfg}, {edge, p.edgeCfg}} {
				if err := s.s.Start(context.Background(), s.c); err != nil {
					t.Fatalf("start: %v", err)
				}
				t.Cleanup(func() { s.s.Stop(context.Background()) })
			}
			if tc.up {
				eventually(t, converge, routesAre(edge, defaults))
			} else {
				// Long enough for GoBGP's first dial (1–2 s) and a retry.
				time.Sleep(5 * time.Second)
				for _, ps := range edge.Peers(context.Background()) {
					if ps.Established || ps.State == "openconfirm" || ps.State == "opensent" {
						t.Errorf("peer %s reached %s with hub password %q, edge %q", ps.Name, ps.State, tc.hub, tc.edg)
					}
				}
			}
			if strings.Contains(logs.String(), secret) {
				t.Errorf("the password is in the debug log:\n%s", logs.String())
			}
		})
	}
}

func TestPasswordChangeRecreatesSessions(t *testing.T) {
	t.Parallel()
	p := newPair(t)
	hub := start(t, p.hubCfg)
	edge := start(t, p.edgeCfg)
	eventually(t, converge, routesAre(edge, defaults))
	p.hubCfg.Password, p.edgeCfg.Password = "new-shared-key", "new-shared-key"
	for _, s := range []struct {
		s *Speaker
		c Config
	}{{hub, p.hubCfg}, {edge, p.edgeCfg}} {
		if err := s.s.Apply(context.Background(), s.c); err != nil {
			t.Fatalf("apply: %v", err)
		}
	}
	eventually(t, converge, routesAre(edge, defaults))
	for _, ps := range edge.Peers(context.Background()) {
		if !ps.Established {
			t.Errorf("peer %s not back up with the new password: %+v", ps.Name, ps)
		}
	}
}

// A session that fails after the TCP connect (here the hub's OPEN carries
// an AS the edge does not expect) is tried again after ConnectRetry (1 s),
// as a refused connect is: upstream GoBGP held every such peer idle for a
// fixed 5 s, which made a password change on both ends take 5–10 s now
// and then (the old session's connection, still accepted under the old
// key, took the new peer's first OPEN; third_party/gobgp/PATCHES.md).
func TestRetryAfterFailedOpen(t *testing.T) {
	t.Parallel()
	p := newPair(t)
	p.edgeCfg.Peers = p.edgeCfg.Peers[:1]
	p.edgeCfg.Peers[0].ASN = hubASN + 100
	start(t, p.hubCfg)
	logs := &lockedBuffer{}
	edge := New(slog.New(slog.NewTextHandler(logs, nil)))
	if err := edge.Start(context.Background(), p.edgeCfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { edge.Stop(context.Background()) })
	time.Sleep(4500 * time.Millisecond)
	// At once, then after 1 s (+ up to 1 s of connect retry jitter for a
	// connect, none after an idle hold): three or four tries; upstream's
	// 5 s hold allowed one.
	tries := strings.Count(logs.String(), "state=opensent")
	t.Logf("%d OPENs sent in 4.5 s", tries)
	if tries < 3 {
		t.Errorf("the edge sent %d OPENs in 4.5 s to a hub with the wrong AS, want at least 3 (one per ConnectRetry of 1 s):\n%s", tries, logs.String())
	}
}

func TestPasswordValidation(t *testing.T) {
	c := newPair(t).edgeCfg
	c.Password = strings.Repeat("k", 81)
	err := New(nil).Start(context.Background(), c)
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "password is 81 bytes, over the 80") {
		t.Errorf("81-byte password: %v, want a config error", err)
	}
	if strings.Contains(err.Error(), c.Password) {
		t.Errorf("the error quotes the password: %v", err)
	}
	c.Password, c.MaxPrefixRestart = "", 1500*time.Millisecond
	if err := New(nil).Start(context.Background(), c); !errors.Is(err, ErrConfig) {
		t.Errorf("max-prefix restart 1.5 s: %v, want a config error (whole seconds)", err)
	}
}
