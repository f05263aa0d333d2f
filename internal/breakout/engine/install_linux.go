package engine

import (
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/uplinkd/uplinkd/internal/config"
	"github.com/uplinkd/uplinkd/internal/fib"
)

// linuxKernel installs routes through fib's batched rtnetlink and rules
// through vishvananda/netlink (a handful of rules need no batching).
type linuxKernel struct {
	*fib.Handle
	nl *netlink.Handle
}

var _ kernel = (*linuxKernel)(nil)

func openKernel() (kernel, error) {
	h, err := fib.Open()
	if err != nil {
		return nil, fmt.Errorf("open route socket: %w", err)
	}
	nl, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("open rule socket: %w", err)
	}
	return &linuxKernel{Handle: h, nl: nl}, nil
}

func (k *linuxKernel) SweepTable(table uint32) error {
	// The table's routes, then the nexthop objects of its two families
	// (a table without objects has none to sweep).
	ids := fib.IDRange{}
	if v4, v6, ok := fib.ViaObjectIDs(table); ok {
		ids = fib.IDRange{First: v4, Last: v6}
	}
	_, err := k.Handle.Sweep([]uint32{table}, config.RouteProtocol, ids)
	return err
}

func (k *linuxKernel) Rules(priority int) ([]rule, error) {
	var out []rule
	for _, fam := range []int{4, 6} {
		rs, err := k.nl.RuleList(nlFamily(fam))
		if fam == 6 && errors.Is(err, unix.EAFNOSUPPORT) {
			continue // a kernel without IPv6 has no IPv6 rules to keep
		}
		if err != nil {
			return nil, fmt.Errorf("list ipv%d rules: %w", fam, err)
		}
		for _, r := range rs {
			if r.Priority == priority && r.Protocol == config.RouteProtocol {
				out = append(out, rule{Family: fam, Priority: r.Priority, Table: uint32(r.Table)})
			}
		}
	}
	return out, nil
}

func (k *linuxKernel) AddRule(r rule) error {
	have, err := k.Rules(r.Priority)
	if err != nil {
		return err
	}
	for _, h := range have {
		if h == r {
			return nil
		}
	}
	err = k.nl.RuleAdd(nlRule(r))
	if r.Family == 6 && errors.Is(err, unix.EAFNOSUPPORT) {
		return nil
	}
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("add %s: %w", r, err)
	}
	return nil
}

func (k *linuxKernel) DelRule(r rule) error {
	err := k.nl.RuleDel(nlRule(r))
	if err != nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ESRCH) && !errors.Is(err, unix.EAFNOSUPPORT) {
		return fmt.Errorf("delete %s: %w", r, err)
	}
	return nil
}

func (k *linuxKernel) LinkIndex(name string) (int, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return 0, fmt.Errorf("gateway interface %s: %w", name, err)
	}
	return ifi.Index, nil
}

func (k *linuxKernel) Close() error {
	k.nl.Close()
	return k.Handle.Close()
}

func nlFamily(fam int) int {
	if fam == 6 {
		return netlink.FAMILY_V6
	}
	return netlink.FAMILY_V4
}

func nlRule(r rule) *netlink.Rule {
	nr := netlink.NewRule()
	nr.Family = nlFamily(r.Family)
	nr.Priority = r.Priority
	nr.Table = int(r.Table)
	nr.Protocol = config.RouteProtocol
	return nr
}
