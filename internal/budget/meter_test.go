package budget

import (
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/uplinkd/uplinkd/internal/config"
)

// rig is a machine as the meter sees it: a clock, interface counters, a
// boot ID and a state directory that outlives each meter (a daemon run).
type rig struct {
	t        *testing.T
	dir      string
	now      time.Time
	boot     string
	counters map[string]Sample
	m        *Meter
	uplinks  []config.Uplink
}

// docomo: 1 GB budget from the 25th, soft 80 %, hard 95 %, weight 3 → 1.
var docomo = config.Uplink{Name: "docomo", Interface: "wwan0", Weight: 3,
	Budget: config.Budget{Bytes: 1e9, BillingDay: 25, SoftPercent: 80, HardPercent: 95, SoftWeight: 1}}

func newRig(t *testing.T, start time.Time) *rig {
	r := &rig{t: t, dir: filepath.Join(t.TempDir(), "budget"), now: start, boot: "boot-1",
		counters: map[string]Sample{"wwan0": {Bytes: 5e6, Index: 4}}, uplinks: []config.Uplink{docomo}}
	r.start()
	return r
}

// start is a daemon start: a new meter over the same directory.
func (r *rig) start() {
	read := ReaderFunc(func(ifname string) (Sample, error) {
		s, ok := r.counters[ifname]
		if !ok {
			return Sample{}, errors.New("link not found")
		}
		return s, nil
	})
	r.m = Open(r.dir, read, r.boot, func() time.Time { return r.now }, slog.New(slog.DiscardHandler))
	r.m.Configure(r.uplinks)
	r.m.Sample()
}

// traffic moves the clock and the interface's counter on.
func (r *rig) traffic(d time.Duration, bytes uint64) {
	r.now = r.now.Add(d)
	s := r.counters["wwan0"]
	s.Bytes += bytes
	r.counters["wwan0"] = s
}

func (r *rig) save() {
	if err := r.m.Save(); err != nil {
		r.t.Fatal(err)
	}
}

// used is what status shows for docomo.
func (r *rig) used() (uint64, State) {
	st := r.m.Status()
	if len(st) != 1 {
		r.t.Fatalf("status has %d uplinks, want 1", len(st))
	}
	return st[0].UsedBytes, st[0].State
}

var may20 = time.Date(2026, 5, 20, 12, 0, 0, 0, time.UTC)

func TestMeter(t *testing.T) {
	tests := []struct {
		name      string
		run       func(r *rig)
		wantUsed  uint64
		wantState State
	}{
		{"the first sample is a baseline: what the counter held before is not this daemon's to count",
			func(r *rig) {}, 0, OK},
		{"counted as the counter moves",
			func(r *rig) { r.traffic(time.Minute, 300e6); r.m.Sample(); r.traffic(time.Minute, 200e6); r.m.Sample() }, 500e6, OK},
		{"soft limit at 80 %",
			func(r *rig) { r.traffic(time.Minute, 800e6); r.m.Sample() }, 800e6, Soft},
		{"hard limit at 95 %",
			func(r *rig) { r.traffic(time.Minute, 950e6); r.m.Sample() }, 950e6, Hard},
		{"counter reset (smaller than last seen): counted from 0",
			func(r *rig) {
				r.traffic(time.Minute, 100e6)
				r.m.Sample()
				r.counters["wwan0"] = Sample{Bytes: 30e6, Index: 4}
				r.m.Sample()
			}, 130e6, OK},
		{"interface re-created (new index), counter already past the old value: all of it is new",
			func(r *rig) {
				r.traffic(time.Minute, 100e6)
				r.m.Sample()
				r.counters["wwan0"] = Sample{Bytes: 200e6, Index: 9}
				r.m.Sample()
			}, 300e6, OK},
		{"interface gone for a while: nothing counted, nothing lost",
			func(r *rig) {
				r.traffic(time.Minute, 100e6)
				r.m.Sample()
				delete(r.counters, "wwan0")
				r.m.Sample()
				r.counters["wwan0"] = Sample{Bytes: 50e6, Index: 11}
				r.m.Sample()
			}, 150e6, OK},
		{"billing day: the count starts again at midnight of the 25th",
			func(r *rig) {
				r.traffic(time.Hour, 900e6)
				r.m.Sample()
				r.now = time.Date(2026, 5, 24, 23, 59, 50, 0, time.UTC)
				r.m.Sample()
				r.traffic(20*time.Second, 7e6)
				r.m.Sample()
			}, 7e6, OK},
		{"restart: the count continues from the state file, with what passed while the daemon was down",
			func(r *rig) {
				r.traffic(time.Minute, 400e6)
				r.m.Sample()
				r.save()
				r.traffic(time.Hour, 100e6) // daemon stopped
				r.start()
			}, 500e6, OK},
		{"kill -9 after the last periodic save: the counter still holds what was not saved, nothing is lost",
			func(r *rig) {
				r.traffic(time.Minute, 400e6)
				r.m.Sample()
				r.save()
				r.traffic(50*time.Second, 300e6)
				r.m.Sample() // counted, never saved
				r.traffic(5*time.Second, 0)
				r.start() // the old meter is dropped without a save
			}, 700e6, OK},
		{"reboot: counters start from 0 under a new boot ID; what was counted after the last save is lost",
			func(r *rig) {
				r.traffic(time.Minute, 400e6)
				r.m.Sample()
				r.save()
				r.traffic(50*time.Second, 300e6)
				r.m.Sample() // lost with the power
				r.boot = "boot-2"
				r.counters["wwan0"] = Sample{Bytes: 2e6, Index: 4} // since boot, before the daemon started
				r.now = r.now.Add(time.Minute)
				r.start()
			}, 402e6, OK},
		{"reboot with the counter already past the value saved: the boot ID tells it is a new count",
			func(r *rig) {
				r.traffic(time.Minute, 400e6)
				r.m.Sample()
				r.save()
				r.boot = "boot-2"
				r.counters["wwan0"] = Sample{Bytes: 500e6, Index: 4}
				r.now = r.now.Add(time.Hour)
				r.start()
			}, 900e6, Soft},
		{"down across the billing day: the new period starts from 0 and takes what passed since the last sample",
			func(r *rig) {
				r.traffic(time.Minute, 900e6)
				r.m.Sample()
				r.save()
				r.traffic(7*24*time.Hour, 60e6) // down from the 20th to the 27th
				r.start()
			}, 60e6, OK},
		{"a clock that goes back (no RTC before NTP) neither resets nor loses the count",
			func(r *rig) {
				r.traffic(time.Minute, 850e6)
				r.m.Sample()
				r.save()
				r.boot = "boot-2"
				r.now = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
				r.counters["wwan0"] = Sample{Bytes: 1e6, Index: 4}
				r.start()
				r.now = may20.Add(time.Hour) // NTP
				r.traffic(time.Minute, 10e6)
				r.m.Sample()
			}, 861e6, Soft},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, may20)
			tt.run(r)
			used, st := r.used()
			if used != tt.wantUsed || st != tt.wantState {
				t.Errorf("used %d bytes, state %s; want %d, %s", used, st, tt.wantUsed, tt.wantState)
			}
		})
	}
}

// TestMeterStateChanges: Sample reports a change exactly when an uplink
// crosses a limit, back to ok on the billing day included.
func TestMeterStateChanges(t *testing.T) {
	r := newRig(t, may20)
	steps := []struct {
		bytes   uint64
		at      time.Time // zero: a minute on
		changed bool
		want    State
	}{
		{bytes: 500e6, changed: false, want: OK},
		{bytes: 300e6, changed: true, want: Soft},
		{bytes: 100e6, changed: false, want: Soft},
		{bytes: 60e6, changed: true, want: Hard},
		{bytes: 1e6, at: time.Date(2026, 5, 25, 0, 0, 1, 0, time.UTC), changed: true, want: OK},
	}
	for i, s := range steps {
		r.traffic(time.Minute, s.bytes)
		if !s.at.IsZero() {
			r.now = s.at
		}
		changed := r.m.Sample()
		if got := r.m.States()["docomo"]; changed != s.changed || got != s.want {
			t.Errorf("step %d: changed %v, state %s; want %v, %s", i, changed, got, s.changed, s.want)
		}
	}
}

func TestStatus(t *testing.T) {
	r := newRig(t, time.Date(2026, 5, 25, 0, 0, 0, 0, time.UTC))
	r.traffic(3*24*time.Hour, 850e6) // 3 days of a 31-day period
	r.m.Sample()
	r.save()
	got := r.m.Status()
	want := []Status{{Uplink: "docomo", Interface: "wwan0", UsedBytes: 850e6, BudgetBytes: 1e9, UsedPercent: 85,
		SoftPercent: 80, HardPercent: 95,
		PeriodStart: time.Date(2026, 5, 25, 0, 0, 0, 0, time.UTC), PeriodEnd: time.Date(2026, 6, 25, 0, 0, 0, 0, time.UTC),
		CountingSince: time.Date(2026, 5, 25, 0, 0, 0, 0, time.UTC), ProjectedBytes: 8783333333, // 850 MB in 3 days of 31
		State: Soft, Action: "soft limit 80 % reached: weight 3 → 1 (the hubs too, by BGP link bandwidth)", Saved: r.now}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	b, _ := json.Marshal(got[0])
	for _, s := range []string{`"used_bytes":850000000`, `"budget_bytes":1000000000`, `"period_start":"2026-05-25T00:00:00Z"`,
		`"period_end":"2026-06-25T00:00:00Z"`, `"projected_bytes":8783333333`, `"state":"soft"`} {
		if !strings.Contains(string(b), s) {
			t.Errorf("JSON lacks %s: %s", s, b)
		}
	}
}

// TestStateFile: the file is replaced whole (no temporary left behind), and
// a corrupt one is reported and the count starts again rather than the
// daemon refusing to run.
func TestStateFile(t *testing.T) {
	r := newRig(t, may20)
	r.traffic(time.Minute, 123e6)
	r.m.Sample()
	r.save()
	r.save()
	ents, _ := os.ReadDir(r.dir)
	if len(ents) != 1 || ents[0].Name() != FileName {
		t.Errorf("state dir holds %v, want only %s", ents, FileName)
	}
	if err := os.WriteFile(filepath.Join(r.dir, FileName), []byte(`{"version":1,"upl`), 0o640); err != nil {
		t.Fatal(err)
	}
	r.start()
	st := r.m.Status()[0]
	if st.UsedBytes != 0 || !strings.Contains(st.Error, "read budget state") {
		t.Errorf("after a corrupt file: used %d, error %q; want 0 and the read error", st.UsedBytes, st.Error)
	}
}

// TestConfigure: an uplink that loses its budget is no longer counted or
// kept; a changed billing day keeps the count.
func TestConfigure(t *testing.T) {
	r := newRig(t, may20)
	r.traffic(time.Minute, 100e6)
	r.m.Sample()
	moved := docomo
	moved.Budget.BillingDay = 1
	r.m.Configure([]config.Uplink{moved})
	r.traffic(time.Minute, 1e6)
	r.m.Sample()
	st := r.m.Status()[0]
	if st.UsedBytes != 101e6 || !st.PeriodStart.Equal(time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("billing day moved: used %d from %s; want 101000000 from 2026-05-01", st.UsedBytes, st.PeriodStart)
	}
	none := docomo
	none.Budget = config.Budget{}
	r.m.Configure([]config.Uplink{none})
	if st := r.m.Status(); len(st) != 0 || len(r.m.States()) != 0 {
		t.Errorf("without a budget: status %v, states %v; want none", st, r.m.States())
	}
}
