package api

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// WriteStatus prints a daemon's status as an aligned table, in the manner
// of `wg show` and `birdc show protocols`.
func WriteStatus(w io.Writer, s Status, now time.Time) error {
	fmt.Fprintf(w, "%s %s, up %s, config %s\n", s.Role, s.Site, Age(s.Started, now), s.Config)
	if s.LastErr != "" {
		fmt.Fprintf(w, "last error: %s\n", s.LastErr)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\nUPLINK\tTUNNEL\tIMPL\tPORT\tPEER ENDPOINT\tHANDSHAKE\tRX\tTX")
	for _, t := range s.Tunnels {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", t.Uplink, t.Name, dash(t.Impl), t.ListenPort,
			dash(t.Endpoint), Age(t.LastHandshake, now), Bytes(t.RxBytes), Bytes(t.TxBytes))
	}
	return tw.Flush()
}

// Age says how long ago t was, "never" for the zero time.
func Age(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%.1fs ago", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds ago", int(d.Minutes()), int(d.Seconds())%60)
	}
	return d.Round(time.Minute).String() + " ago"
}

// Bytes prints a byte count with a binary unit.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
