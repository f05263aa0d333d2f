package budget

import (
	"fmt"
	"os"
	"strings"

	"github.com/vishvananda/netlink"
)

// Netlink reads the kernel's 64-bit interface statistics.
type Netlink struct{}

var _ Reader = Netlink{}

// Read returns the interface's rx+tx bytes and its index.
func (Netlink) Read(ifname string) (Sample, error) {
	l, err := netlink.LinkByName(ifname)
	if err != nil {
		return Sample{}, fmt.Errorf("read counters of %s: %w", ifname, err)
	}
	st := l.Attrs().Statistics
	if st == nil {
		return Sample{}, fmt.Errorf("read counters of %s: the kernel sent no statistics", ifname)
	}
	return Sample{Bytes: st.RxBytes + st.TxBytes, Index: l.Attrs().Index}, nil
}

// BootID names this boot of the machine: counters read under another boot
// ID started again from 0, whatever their value.
func BootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
