package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/uplinkd/uplinkd/internal/api"
)

// collector turns one status snapshot per scrape into metrics.
type collector struct {
	snapshot func() api.Status
	now      func() time.Time // ages are relative to the scrape
}

var _ prometheus.Collector = (*collector)(nil)

// NewCollector returns a Collector that calls snapshot once per scrape.
// snapshot must be safe to call from concurrent scrapes.
func NewCollector(snapshot func() api.Status) prometheus.Collector {
	return &collector{snapshot: snapshot, now: time.Now}
}

// Describe sends every metric the collector can emit, so that the registry
// checks each scrape against them.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
}

// Collect emits the metrics of one snapshot.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	st := c.snapshot()
	e := emitter{ch: ch, now: c.now()}
	e.daemon(st)
	e.tunnels(st)
	if st.ECMP != nil {
		e.ecmp(st.ECMP)
	}
	if st.Breakout != nil {
		e.breakout(st.Breakout)
	}
	if st.Inbound != nil {
		e.inbound(st.Inbound)
	}
	if st.NAT != nil {
		e.nat(st.NAT)
	}
	e.budgets(st.Budgets)
	e.slas(st.SLA)
}

// emitter writes const metrics for one scrape.
type emitter struct {
	ch  chan<- prometheus.Metric
	now time.Time
}

func (e emitter) metric(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
	m, err := prometheus.NewConstMetric(d, t, v, labels...)
	if err != nil {
		// The registry reports it and, with ContinueOnError, still serves
		// the rest: one bad metric must not blank the whole scrape.
		m = prometheus.NewInvalidMetric(d, err)
	}
	e.ch <- m
}

func (e emitter) gauge(d *prometheus.Desc, v float64, labels ...string) {
	e.metric(d, prometheus.GaugeValue, v, labels...)
}

func (e emitter) counter(d *prometheus.Desc, v float64, labels ...string) {
	e.metric(d, prometheus.CounterValue, v, labels...)
}

func (e emitter) flag(d *prometheus.Desc, b bool, labels ...string) {
	e.gauge(d, boolValue(b), labels...)
}

// timestamp emits a Unix time, or nothing for the zero time, which would
// otherwise read as 1970 on a dashboard.
func (e emitter) timestamp(d *prometheus.Desc, t time.Time, labels ...string) {
	if !t.IsZero() {
		e.gauge(d, unixSeconds(t), labels...)
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unixSeconds(t time.Time) float64 {
	return float64(t.UnixNano()) / 1e9
}
