package bgp

import (
	"context"
	"fmt"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// With GRPC set, GoBGP's own API answers on it: the standard gobgp CLI can
// then show the speaker's neighbors and RIB.
func TestGRPCListener(t *testing.T) {
	p := newPair(t)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	p.edgeCfg.GRPC = addr
	start(t, p.hubCfg)
	edge := start(t, p.edgeCfg)
	eventually(t, converge, routesAre(edge, defaults))

	conn, err := grpc.Dial(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := api.NewGobgpApiClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stream, err := c.ListPeer(ctx, &api.ListPeerRequest{})
	if err != nil {
		t.Fatal(err)
	}
	established := 0
	for {
		r, err := stream.Recv()
		if err != nil {
			break
		}
		if r.Peer.GetState().GetSessionState() == api.PeerState_ESTABLISHED {
			established++
		}
	}
	if established != 2 {
		t.Errorf("gRPC ListPeer shows %d established sessions, want 2", established)
	}
}
