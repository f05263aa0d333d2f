package lab

import (
	"fmt"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netns"
)

// blackholeTable is the nftables table a blackhole lives in.
const blackholeTable = "uplinkd-lab-blackhole"

// Blackhole drops every packet into, out of and through ifname in ns,
// links up. It is one netlink batch from this process: `ip netns exec nft`
// takes 15-80 ms to start here, and inside the timed span that would add
// to the bench's and the tests' figures a delay no daemon caused.
func Blackhole(ns, ifname string) error {
	c, closeNS, err := nftIn(ns)
	if err != nil {
		return err
	}
	defer closeNS()
	t := c.AddTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: blackholeTable})
	prio := nftables.ChainPriorityRef(-200)
	for _, h := range []struct {
		hook *nftables.ChainHook
		keys []expr.MetaKey
	}{
		{nftables.ChainHookInput, []expr.MetaKey{expr.MetaKeyIIFNAME}},
		{nftables.ChainHookOutput, []expr.MetaKey{expr.MetaKeyOIFNAME}},
		{nftables.ChainHookForward, []expr.MetaKey{expr.MetaKeyIIFNAME, expr.MetaKeyOIFNAME}},
	} {
		ch := c.AddChain(&nftables.Chain{Name: fmt.Sprintf("drop-%d", *h.hook), Table: t, Type: nftables.ChainTypeFilter,
			Hooknum: h.hook, Priority: prio})
		for _, k := range h.keys {
			c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: dropOn(k, ifname)})
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("blackhole %s in %s: %w", ifname, ns, err)
	}
	return nil
}

// Unblackhole removes what Blackhole added; without a blackhole it does
// nothing.
func Unblackhole(ns string) error {
	c, closeNS, err := nftIn(ns)
	if err != nil {
		return err
	}
	defer closeNS()
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return fmt.Errorf("list nftables tables in %s: %w", ns, err)
	}
	if !slices.ContainsFunc(tables, func(t *nftables.Table) bool { return t.Name == blackholeTable }) {
		return nil
	}
	c.DelTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: blackholeTable})
	if err := c.Flush(); err != nil {
		return fmt.Errorf("remove blackhole in %s: %w", ns, err)
	}
	return nil
}

// dropOn matches interface name key (iifname, oifname) against ifname and
// drops.
func dropOn(key expr.MetaKey, ifname string) []expr.Any {
	name := make([]byte, 16) // IFNAMSIZ, NUL padded as the kernel compares it
	copy(name, ifname)
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: name},
		&expr.Verdict{Kind: expr.VerdictDrop},
	}
}

// nftIn opens an nftables connection into ns.
func nftIn(ns string) (*nftables.Conn, func(), error) {
	h, err := netns.GetFromName(ns)
	if err != nil {
		return nil, nil, err
	}
	c, err := nftables.New(nftables.WithNetNSFd(int(h)))
	if err != nil {
		h.Close()
		return nil, nil, err
	}
	return c, func() { c.CloseLasting(); h.Close() }, nil
}
