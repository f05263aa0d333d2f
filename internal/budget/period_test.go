package budget

import (
	"testing"
	"time"
)

func TestPeriod(t *testing.T) {
	jst := time.FixedZone("JST", 9*3600)
	at := func(s string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04", s, jst)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	tests := []struct {
		name       string
		now        string
		day        int
		start, end string
	}{
		{"day 1, mid-month", "2026-05-17 12:00", 1, "2026-05-01 00:00", "2026-06-01 00:00"},
		{"day 25, before it", "2026-05-24 23:59", 25, "2026-04-25 00:00", "2026-05-25 00:00"},
		{"day 25, at midnight", "2026-05-25 00:00", 25, "2026-05-25 00:00", "2026-06-25 00:00"},
		{"day 31 in February: starts on its last day", "2026-02-28 08:00", 31, "2026-02-28 00:00", "2026-03-31 00:00"},
		{"day 31, the day before February's last", "2026-02-27 23:00", 31, "2026-01-31 00:00", "2026-02-28 00:00"},
		{"day 31 in a leap February", "2028-02-29 00:00", 31, "2028-02-29 00:00", "2028-03-31 00:00"},
		{"day 30 in a leap February, before its last day", "2028-02-28 12:00", 30, "2028-01-30 00:00", "2028-02-29 00:00"},
		{"day 31 in a 30-day month", "2026-04-30 01:00", 31, "2026-04-30 00:00", "2026-05-31 00:00"},
		{"across the year", "2026-01-03 00:00", 15, "2025-12-15 00:00", "2026-01-15 00:00"},
		{"day 31 at the end of the year", "2026-12-31 00:00", 31, "2026-12-31 00:00", "2027-01-31 00:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start, end := Period(at(tt.now), tt.day)
			if !start.Equal(at(tt.start)) || !end.Equal(at(tt.end)) {
				t.Errorf("Period(%s, %d) = %s .. %s, want %s .. %s", tt.now, tt.day,
					start.Format(time.DateTime), end.Format(time.DateTime), tt.start, tt.end)
			}
		})
	}
}

func TestProject(t *testing.T) {
	start := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	end := start.AddDate(0, 1, 0) // 30 days
	tests := []struct {
		name  string
		used  uint64
		now   time.Time
		since time.Time
		want  uint64
	}{
		{"a third of the period, a third used: the whole budget", 10e9, start.Add(10 * 24 * time.Hour), start, 30e9},
		{"counted from the middle: the rate since then", 1e9, start.Add(20 * 24 * time.Hour), start.Add(15 * 24 * time.Hour), 3e9},
		{"under an hour counted: none", 5e9, start.Add(59 * time.Minute), start, 0},
	}
	for _, tt := range tests {
		if got := project(tt.used, tt.since, tt.now, end); got != tt.want {
			t.Errorf("%s: project = %d, want %d", tt.name, got, tt.want)
		}
	}
}
