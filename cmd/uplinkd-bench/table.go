package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// row is one line of the result table.
type row struct {
	id      string // the measure number, then a letter
	name    string
	uplinkd string
	peer    string
	ratio   string // ratio to the peer, or the value against its goal
	verdict string // ok, MISSED, info, not measured, ERROR
	err     error
}

type table struct{ rows []row }

func (t *table) add(rs ...row) { t.rows = append(t.rows, rs...) }

// sort orders rows by their measure number, keeping the order within one.
func (t *table) sort() {
	slices.SortStableFunc(t.rows, func(a, b row) int { return strings.Compare(a.id[:1], b.id[:1]) })
}

func (t *table) failed() bool {
	return slices.ContainsFunc(t.rows, func(r row) bool { return r.err != nil })
}

func (t *table) print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tMEASUREMENT\tUPLINKD\tPEER\tRATIO / GOAL\tVERDICT")
	for _, r := range t.rows {
		v := r.verdict
		if r.err != nil {
			v = "ERROR: " + oneLine(r.err.Error())
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.id, r.name, dash(r.uplinkd), dash(r.peer), dash(r.ratio), v)
	}
	tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}

func failed(id, name string, err error) row { return row{id: id, name: name, err: err} }

func notMeasured(id, name, why string) row {
	return row{id: id, name: name, verdict: "not measured: " + why}
}

// verdict says ok when the goal holds.
func verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "MISSED"
}

// msList formats samples with ms, comma-separated, in the order taken.
func msList(ds []time.Duration) string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = ms(d)
	}
	return strings.Join(out, ", ")
}

// ms formats a duration in milliseconds, or seconds above ten.
func ms(d time.Duration) string {
	if d >= 10*time.Second {
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
	if d < 10*time.Millisecond {
		return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000)
	}
	if d < time.Second {
		// A tenth: "300 ms" next to a verdict of MISSED (300.4 ms against
		// a 300 ms goal) reads as a bug.
		return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)
	}
	return fmt.Sprintf("%d ms", d.Milliseconds())
}

// percentile is the nearest-rank percentile of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p/100*float64(len(sorted))+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// dist is "p50 X / p99 Y" of a sample.
func dist(ds []time.Duration) (p50, p99 time.Duration, s string) {
	sorted := slices.Clone(ds)
	slices.Sort(sorted)
	p50, p99 = percentile(sorted, 50), percentile(sorted, 99)
	return p50, p99, fmt.Sprintf("p50 %s / p99 %s (n=%d)", ms(p50), ms(p99), len(ds))
}
