package nat

// Kernel is what the Reconciler reads and writes: uplinkd's nftables table
// and the forwarding sysctls. System is the real one; nattest.Fake stands
// in for it in tests without root.
type Kernel interface {
	// Rules lists the tags of the rules in uplinkd's table, sorted;
	// present is false when there is no table.
	Rules() (tags []string, present bool, err error)
	// WriteTable replaces uplinkd's table, in one transaction, with one
	// holding exactly d's rules.
	WriteTable(d Desired) error
	// RemoveTable deletes uplinkd's table; no table is fine.
	RemoveTable() error
	// Sysctl reads a key under /proc/sys ("net/ipv4/ip_forward").
	Sysctl(key string) (string, error)
	// SetSysctl writes one.
	SetSysctl(key, value string) error
}
