package ecmp

// Limit is what a carrier's data budget allows its tunnels (internal/budget
// counts; the daemon passes the result on with Controller.SetLimits).
type Limit int

// The limits, by carrier.
const (
	Unlimited Limit = iota
	SoftLimit       // its tunnels' weight drops to their SoftWeight
	HardLimit       // its tunnels are a last resort: in only while nothing else is alive
)

func (l Limit) String() string {
	switch l {
	case SoftLimit:
		return "soft"
	case HardLimit:
		return "hard"
	}
	return ""
}

// limited applies a carrier's budget limit to one of its tunnels. Past
// the hard limit the soft one holds too: last resorts that share a prefix
// share it at their lowered weights.
func limited(m Member, l Link, lim Limit) Member {
	if lim >= SoftLimit && l.SoftWeight > 0 && l.SoftWeight < m.Weight {
		m.Weight = l.SoftWeight
	}
	m.LastResort = lim == HardLimit
	return m
}
