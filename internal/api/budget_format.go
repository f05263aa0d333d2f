package api

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/uplinkd/uplinkd/internal/budget"
	"github.com/uplinkd/uplinkd/internal/ecmp"
	"github.com/uplinkd/uplinkd/internal/sla"
)

// writeBudgets prints the carriers' data budgets in decimal units, as
// carriers bill.
func writeBudgets(w io.Writer, bs []budget.Status, now time.Time) error {
	if len(bs) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\nDATA BUDGET\tINTERFACE\tUSED\tBUDGET\tPERIOD\tPROJECTED\tSTATE\tACTION")
	for _, b := range bs {
		projected := "-"
		if b.ProjectedBytes > 0 {
			projected = fmt.Sprintf("%s (%.0f %%)", DecimalBytes(b.ProjectedBytes), float64(b.ProjectedBytes)*100/float64(b.BudgetBytes))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s (%.1f %%)\t%s\t%s → %s (resets in %s)\t%s\t%s\t%s\n", b.Uplink, b.Interface,
			DecimalBytes(b.UsedBytes), b.UsedPercent, DecimalBytes(uint64(b.BudgetBytes)),
			b.PeriodStart.Format(time.DateOnly), b.PeriodEnd.Format(time.DateOnly), days(b.PeriodEnd.Sub(now)),
			projected, b.State, dash(b.Action))
	}
	for _, b := range bs {
		if b.Error != "" {
			fmt.Fprintf(tw, "budget %s: %s\n", b.Uplink, b.Error)
		}
	}
	return tw.Flush()
}

// days prints a span of days and hours: 5d3h, 7h.
func days(d time.Duration) string {
	d = d.Round(time.Hour)
	if d < 24*time.Hour {
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
}

// DecimalBytes prints a byte count in the decimal units carriers bill in:
// 850 MB, 30 GB, 1.25 GB (three digits).
func DecimalBytes(n uint64) string {
	units := []string{"B", "kB", "MB", "GB", "TB", "PB"}
	f, i := float64(n), 0
	for ; f >= 1000 && i < len(units)-1; i++ {
		f /= 1000
	}
	if f >= 100 {
		return strconv.FormatFloat(f, 'f', 0, 64) + " " + units[i]
	}
	return strconv.FormatFloat(f, 'g', 3, 64) + " " + units[i]
}

// budgetNote says what a carrier's data budget does to one of its tunnels.
func budgetNote(l ecmp.LinkStatus) string {
	switch l.BudgetLimit {
	case "soft":
		return fmt.Sprintf("budget soft limit: weight %d → %d", l.Weight, l.BudgetWeight)
	case "hard":
		return "budget hard limit: last resort"
	}
	return ""
}

// writeSLA prints each probed tunnel's quality over the window and its
// verdict.
func writeSLA(w io.Writer, ls []sla.LinkStatus) error {
	if len(ls) == 0 {
		return nil
	}
	fmt.Fprintln(w, "\nSLA (probes through each tunnel: on BFD's packets where the far end is uplinkd, else ICMP echo)")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "LINK\tTARGET\tPROBE\tRTT\tJITTER\tLOSS\tRATE\tGOODPUT (FULL)\tSAMPLES\tSTATE\tWHY")
	for _, l := range ls {
		state := "ok"
		switch {
		case !l.Limits:
			state = "measured (no limit)"
		case !l.Judging:
			state = "not judged (tunnel down)"
		case l.Degraded:
			state = "degraded"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.1f ms\t%.1f ms\t%.0f %%\t%s\t%s\t%d\t%s\t%s\n", l.Link, l.Target, dash(l.Probe), l.RTTMs, l.JitterMs,
			l.LossPercent, rate(l.RateKbps), goodput(l), l.Samples, state, dash(l.Reason))
	}
	return tw.Flush()
}

// rate prints kbit/s as a person reads it.
func rate(kbps float64) string {
	if kbps >= 1000 {
		return fmt.Sprintf("%.1f Mbit/s", kbps/1000)
	}
	return fmt.Sprintf("%.0f kbit/s", kbps)
}

// goodput is what a tunnel carried while it was full, with how many probes
// found it so; "-" when none did (its capacity was not seen).
func goodput(l sla.LinkStatus) string {
	if l.LoadedSamples == 0 {
		return "-"
	}
	return fmt.Sprintf("%s (%d)", rate(l.GoodputKbps), l.LoadedSamples)
}
