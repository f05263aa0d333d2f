package bgp

import (
	"encoding/json"

	"github.com/uplinkd/uplinkd/internal/units"
)

// The status API (docs/status-api.md) gives durations as numbers with the
// unit in the key; LastSetTook stays a time.Duration for the daemon.

type plainAnnouncer AnnouncerStatus

type announcerJSON struct {
	plainAnnouncer
	LastSetTookMS float64 `json:"last_set_took_ms"`
}

// MarshalJSON adds last_set_took_ms.
func (s AnnouncerStatus) MarshalJSON() ([]byte, error) {
	return json.Marshal(announcerJSON{plainAnnouncer(s), units.Millis(s.LastSetTook)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *AnnouncerStatus) UnmarshalJSON(b []byte) error {
	var v announcerJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*s = AnnouncerStatus(v.plainAnnouncer)
	s.LastSetTook = units.FromMillis(v.LastSetTookMS)
	return nil
}
