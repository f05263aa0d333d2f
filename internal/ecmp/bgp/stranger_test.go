package bgp

import (
	"context"
	"testing"
	"time"
)

// Only configured neighbors get a session: a speaker the hub does not
// know, dialing from another address, never reaches established, and the
// hub's configured edge is unaffected.
func TestHubRefusesUnconfiguredPeer(t *testing.T) {
	p := newPair(t)
	hub := start(t, p.hubCfg)
	edge := start(t, p.edgeCfg)
	eventually(t, converge, routesAre(edge, defaults))

	stranger := p.edgeCfg
	stranger.RouterID = addr("10.255.0.9")
	stranger.Peers = []Peer{{Name: "hub", Address: addr("127.0.0.2"), Local: addr("127.0.0.9"), ASN: hubASN, Port: p.edgeCfg.Peers[0].Port}}
	s := start(t, stranger)
	time.Sleep(4 * time.Second) // several connect retries (1 s each)
	for _, ps := range s.Peers(context.Background()) {
		if ps.Established {
			t.Errorf("a speaker the hub does not know got a session: %+v", ps)
		}
	}
	if r, _ := s.Routes(context.Background()); len(r) != 0 {
		t.Errorf("the stranger learned routes: %v", r)
	}
	for _, ps := range hub.Peers(context.Background()) {
		if ps.Address == addr("127.0.0.9") {
			t.Errorf("the hub lists the stranger as a peer: %+v", ps)
		}
	}
	eventually(t, time.Second, routesAre(edge, defaults))
}
