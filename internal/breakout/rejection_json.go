package breakout

import (
	"encoding/json"
	"net/netip"
)

// rejectionJSON is a Rejection as the status API shows it (see
// docs/status-api.md): flat, with the entry's source and origin AS.
type rejectionJSON struct {
	Source string       `json:"source"`
	Prefix netip.Prefix `json:"prefix"`
	ASN    uint32       `json:"asn,omitempty"`
	Reason Reason       `json:"reason"`
	Detail string       `json:"detail,omitempty"`
}

// MarshalJSON writes the rejection flat: source, prefix, asn, reason, detail.
func (r Rejection) MarshalJSON() ([]byte, error) {
	return json.Marshal(rejectionJSON{r.Entry.Source(), r.Entry.Prefix(), r.Entry.ASN, r.Reason, r.Detail})
}

// UnmarshalJSON reads what MarshalJSON writes; of the entry's attributes
// only the source survives.
func (r *Rejection) UnmarshalJSON(b []byte) error {
	var v rejectionJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*r = Rejection{Entry: NewEntry(v.Prefix, v.ASN, Attrs{Source: v.Source}), Reason: v.Reason, Detail: v.Detail}
	return nil
}
