package budget

import "time"

// Period returns the billing period around t: from midnight on day of the
// month (in t's location) to the same point a month later. A month
// shorter than day has its boundary on its last day, so day 31 means the
// last day of every month and February's period starts on the 28th or 29th.
func Period(t time.Time, day int) (start, end time.Time) {
	y, m, _ := t.Date()
	start = boundary(y, m, day, t.Location())
	if start.After(t) {
		start = boundary(y, m-1, day, t.Location())
	}
	return start, boundary(start.Year(), start.Month()+1, day, t.Location())
}

// boundary is the start of the period that begins in month m of year y
// (m may be out of 1..12: time.Date normalizes it).
func boundary(y int, m time.Month, day int, loc *time.Location) time.Time {
	first := time.Date(y, m, 1, 0, 0, 0, 0, loc)
	last := first.AddDate(0, 1, -1).Day()
	return time.Date(first.Year(), first.Month(), min(day, last), 0, 0, 0, 0, loc)
}
