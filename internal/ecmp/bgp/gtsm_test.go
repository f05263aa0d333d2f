package bgp

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// noteOf returns a check that the named session of s is not established
// and its note contains want, or (want "") that it is established with no
// note.
func noteOf(s *Speaker, name, want string) func() string {
	return func() string {
		for _, p := range s.Peers(context.Background()) {
			if p.Name != name {
				continue
			}
			switch {
			case want == "" && (!p.Established || p.Note != ""):
				return fmt.Sprintf("%s: %s, note %q; want established without a note", name, p.State, p.Note)
			case want != "" && !strings.Contains(p.Note, want):
				return fmt.Sprintf("%s: %s, note %q; want one with %q", name, p.State, p.Note, want)
			}
			return ""
		}
		return name + ": no such session"
	}
}

// TestGTSMMismatchNote: with GTSM on at one end only, every segment from
// the other end (TTL 1) is dropped and the sessions hang before
// established; status names GTSM within one hold time on both sides, and
// the note goes once both ends agree. On loopback as over a tunnel, a
// segment arrives with the TTL it was sent with.
func TestGTSMMismatchNote(t *testing.T) {
	p := newPair(t)
	hold := 6 * time.Second
	p.hubCfg.HoldTime, p.hubCfg.Keepalive = hold, 2*time.Second
	p.edgeCfg.HoldTime, p.edgeCfg.Keepalive = hold, 2*time.Second
	p.hubCfg.DisableTTLSecurity = true // the hub is a BIRD without `ttl security on`
	began := time.Now()
	hub, edge := start(t, p.hubCfg), start(t, p.edgeCfg)
	took := eventually(t, hold, noteOf(edge, "hub", "no OPEN from peer: GTSM mismatch (peer sends TTL 1?"))
	t.Logf("edge (GTSM on) names GTSM %v after start", took.Round(time.Millisecond))
	eventually(t, hold-time.Since(began), noteOf(hub, "edge", "GTSM mismatch (peer requires TTL 255?"))
	t.Logf("hub (GTSM off) names GTSM %v after start", time.Since(began).Round(time.Millisecond))

	p.edgeCfg.DisableTTLSecurity = true
	if err := edge.Apply(context.Background(), p.edgeCfg); err != nil {
		t.Fatal(err)
	}
	// The hub holds the old connection in OpenConfirm until its hold timer
	// ends it, then GoBGP idles 5 s before it takes a new one: a hold time
	// plus 5 s, plus a dial.
	changed := time.Now()
	recover := hold + 5*time.Second + converge
	eventually(t, recover, noteOf(edge, "hub", ""))
	eventually(t, recover-time.Since(changed), noteOf(hub, "edge", ""))
	t.Logf("GTSM off at both ends: established, notes gone %v after the edge's change", time.Since(changed).Round(time.Millisecond))
}

// TestASMismatchNote: a peer that opens with another AS than configured
// is named with both numbers.
func TestASMismatchNote(t *testing.T) {
	p := newPair(t)
	p.edgeCfg.Peers = p.edgeCfg.Peers[:1]
	p.edgeCfg.Peers[0].ASN = 64999
	start(t, p.hubCfg)
	edge := start(t, p.edgeCfg)
	eventually(t, converge, noteOf(edge, "hub", fmt.Sprintf("AS mismatch: peer says %d, config says 64999", hubASN)))
}
