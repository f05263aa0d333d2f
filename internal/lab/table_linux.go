package lab

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/uplinkd/uplinkd/internal/api"
	"github.com/uplinkd/uplinkd/internal/wg"
)

// WriteTable prints the demo's summary: one row per carrier, joining the
// edge's view of its tunnel with the hub's (where the hub sees it come
// from is the proof that each tunnel leaves through its own carrier).
func (l *Lab) WriteTable(w io.Writer) error {
	edge, err := api.NewClient(l.Socket("edge")).Status()
	if err != nil {
		return err
	}
	hub, err := api.NewClient(l.Socket("hub")).Status()
	if err != nil {
		return err
	}
	hubBy := map[string]wg.TunnelStatus{}
	for _, t := range hub.Tunnels {
		hubBy[t.Uplink] = t
	}
	now := time.Now()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CARRIER\tTUNNEL\tIMPL\tHUB SEES IT FROM\tHANDSHAKE\tRX\tTX")
	for _, t := range edge.Tunnels {
		h := hubBy[t.Uplink]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.Uplink, t.Name, t.Impl, h.Endpoint,
			api.Age(t.LastHandshake, now), api.Bytes(t.RxBytes), api.Bytes(t.TxBytes))
	}
	return tw.Flush()
}
