package feed

import (
	"errors"
	"fmt"

	"github.com/uplinkd/uplinkd/internal/breakout"
)

// M365Filter selects endpoint sets of the Microsoft 365 endpoints web
// service. Empty lists select everything.
type M365Filter struct {
	Categories   []string // Optimize, Allow, Default
	ServiceAreas []string // Exchange, SharePoint, Skype, Common
}

type m365Set struct {
	ID          int      `json:"id"`
	ServiceArea string   `json:"serviceArea"`
	Category    string   `json:"category"`
	IPs         []string `json:"ips"`
}

// ParseM365 parses the endpoints JSON (an array of endpoint sets) and returns
// the IP ranges of the selected sets. Sets without "ips" (URL-only) are
// skipped. The service area becomes Service and the category Category.
func ParseM365(body []byte, f M365Filter) ([]breakout.Entry, error) {
	const format = "m365"
	var sets *[]m365Set
	if err := decodeJSON(format, body, &sets); err != nil {
		return nil, err
	}
	if sets == nil || len(*sets) == 0 {
		return nil, perr(format, "$", ErrEmpty)
	}
	cat, area := newMatch("category", f.Categories), newMatch("serviceArea", f.ServiceAreas)
	var out []breakout.Entry
	for i, s := range *sets {
		if s.ID <= 0 || s.ServiceArea == "" || s.Category == "" {
			return nil, perr(format, fmt.Sprintf("$[%d]", i), malformedf("endpoint set without id, serviceArea or category"))
		}
		a, b := cat.ok(s.Category), area.ok(s.ServiceArea)
		if !a || !b {
			continue
		}
		es, err := s.entries(i)
		if err != nil {
			return nil, err
		}
		out = append(out, es...)
	}
	if err := errors.Join(cat.missing(), area.missing()); err != nil {
		return nil, perr(format, "", err)
	}
	if len(out) == 0 {
		return nil, perr(format, "", ErrNoMatch)
	}
	return out, nil
}

func (s m365Set) entries(i int) ([]breakout.Entry, error) {
	out := make([]breakout.Entry, 0, len(s.IPs))
	for j, ip := range s.IPs {
		p, err := parsePrefix(ip, false)
		if err != nil {
			return nil, perr("m365", fmt.Sprintf("$[%d].ips[%d]", i, j), malformedf("%v", err))
		}
		out = append(out, breakout.NewEntry(p, 0, breakout.Attrs{Service: s.ServiceArea, Category: s.Category}))
	}
	return out, nil
}
