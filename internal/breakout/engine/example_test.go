package engine_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/uplinkd/uplinkd/internal/breakout"
	"github.com/uplinkd/uplinkd/internal/breakout/engine"
	"github.com/uplinkd/uplinkd/internal/breakout/feed"
	"github.com/uplinkd/uplinkd/internal/breakout/source"
)

// How a daemon wires the engine: one Plan from the config, Start, Apply on
// SIGHUP, Status and Explain for the control socket, Close on exit.
func Example() {
	log := slog.Default()
	p := engine.Plan{
		Sources: []source.Config{{
			Spec:  feed.Spec{Name: "aws", Kind: feed.KindAWS, Services: []string{"EC2"}, Regions: []string{"ap-northeast-1"}},
			URLs:  []string{"https://ip-ranges.amazonaws.com/ip-ranges.json"},
			Every: 24 * time.Hour,
		}},
		Guards: breakout.Guards{
			Protected: []breakout.Protected{{Prefix: netip.MustParsePrefix("203.0.113.10/32"), Label: "hub endpoint"}},
			MinBits4:  8, MinBits6: 16, MaxCount: 1_500_000, MaxChurn: 0.2,
		},
		Gateway:  netip.MustParseAddr("198.51.100.254"),
		StateDir: "/var/lib/uplinkd",
	}
	e, err := engine.Start(context.Background(), p, log)
	if err != nil {
		log.Error("breakout", "err", err)
		return
	}
	defer e.Close(false) // leave the routes: the next start adopts them

	st := e.Status()
	fmt.Println(st.Compile.Installed, st.Withdrawn)
	if x, ok := e.Explain(netip.MustParseAddr("3.112.0.1")); ok {
		fmt.Println(x)
	}
}
