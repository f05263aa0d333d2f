package ecmp

import (
	"encoding/json"

	"github.com/uplinkd/uplinkd/internal/units"
)

// The status API (docs/status-api.md) gives durations as numbers with the
// unit in the key; the Go fields stay time.Duration. Each type marshals
// through a copy without methods plus the converted field, and reads it
// back, so that a status the CLI decoded prints again unchanged.

var millis, fromMillis = units.Millis, units.FromMillis

type plainLink LinkStatus

type linkJSON struct {
	plainLink
	BFDDetectMS float64 `json:"bfd_detect_ms,omitempty"`
}

// MarshalJSON adds bfd_detect_ms (absent while BFD is off).
func (l LinkStatus) MarshalJSON() ([]byte, error) {
	return json.Marshal(linkJSON{plainLink(l), millis(l.BFDDetect)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (l *LinkStatus) UnmarshalJSON(b []byte) error {
	var v linkJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*l = LinkStatus(v.plainLink)
	l.BFDDetect = fromMillis(v.BFDDetectMS)
	return nil
}

type plainFailover Failover

type failoverJSON struct {
	plainFailover
	TookMS float64 `json:"took_ms"`
}

// MarshalJSON adds took_ms.
func (f Failover) MarshalJSON() ([]byte, error) {
	return json.Marshal(failoverJSON{plainFailover(f), millis(f.Took)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (f *Failover) UnmarshalJSON(b []byte) error {
	var v failoverJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = Failover(v.plainFailover)
	f.Took = fromMillis(v.TookMS)
	return nil
}
