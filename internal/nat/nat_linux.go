package nat

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// System is the kernel of the current network namespace.
type System struct{}

var _ Kernel = System{}

// Rules lists the tags of the rules in uplinkd's table. Tables and chains
// are listed rather than looked up by name, so that "not there" is told
// from a failure without reading netlink error codes.
func (System) Rules() ([]string, bool, error) {
	c, err := nftables.New()
	if err != nil {
		return nil, false, fmt.Errorf("nftables: %w", err)
	}
	t, err := ownTable(c)
	if err != nil || t == nil {
		return nil, false, err
	}
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		return nil, true, fmt.Errorf("read nftables table %s: %w", TableName, err)
	}
	if !slices.ContainsFunc(chains, func(ch *nftables.Chain) bool {
		return ch.Table.Name == TableName && ch.Name == "postrouting"
	}) {
		return nil, true, nil // a table without our chain: rewritten
	}
	rules, err := c.GetRules(t, &nftables.Chain{Name: "postrouting", Table: t})
	if err != nil {
		return nil, true, fmt.Errorf("read nftables table %s: %w", TableName, err)
	}
	tags := make([]string, 0, len(rules))
	for _, r := range rules {
		tags = append(tags, string(r.UserData))
	}
	slices.Sort(tags)
	return tags, true, nil
}

// ownTable finds uplinkd's table; nil if there is none.
func ownTable(c *nftables.Conn) (*nftables.Table, error) {
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return nil, fmt.Errorf("list nftables tables: %w", err)
	}
	for _, t := range tables {
		if t.Name == TableName {
			return t, nil
		}
	}
	return nil, nil
}

// WriteTable rebuilds uplinkd's table in one transaction.
func (System) WriteTable(d Desired) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	t := &nftables.Table{Family: nftables.TableFamilyINet, Name: TableName}
	if old, err := ownTable(c); err != nil {
		return err
	} else if old != nil {
		c.DelTable(t)
	}
	c.AddTable(t)
	ch := c.AddChain(&nftables.Chain{Name: "postrouting", Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource})
	for _, m := range d {
		for _, p := range m.Sources {
			c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: masqueradeFrom(m.Out, p.Masked()),
				UserData: []byte(Tag(m.Out, p))})
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("write nftables table %s: %w", TableName, err)
	}
	return nil
}

// masqueradeFrom is `meta nfproto F oifname OUT ip(6) saddr P masquerade`.
func masqueradeFrom(out string, p netip.Prefix) []expr.Any {
	proto, offset, size := byte(unix.NFPROTO_IPV4), uint32(12), uint32(4)
	if p.Addr().Is6() {
		proto, offset, size = unix.NFPROTO_IPV6, 8, 16
	}
	name := make([]byte, unix.IFNAMSIZ)
	copy(name, out)
	mask := netip.PrefixFrom(p.Addr(), p.Bits())
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: name},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: size},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: size, Mask: maskBytes(mask), Xor: make([]byte, size)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: p.Addr().AsSlice()},
		&expr.Masq{},
	}
}

func maskBytes(p netip.Prefix) []byte {
	b := make([]byte, p.Addr().BitLen()/8)
	for i := 0; i < p.Bits(); i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	return b
}

// RemoveTable deletes uplinkd's table; a table that is not there is fine.
func (System) RemoveTable() error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	if t, err := ownTable(c); err != nil || t == nil {
		return err
	}
	c.DelTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: TableName})
	if err := c.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove nftables table %s: %w", TableName, err)
	}
	return nil
}

// Sysctl reads /proc/sys/KEY.
func (System) Sysctl(key string) (string, error) {
	b, err := os.ReadFile("/proc/sys/" + key)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", sysctlName(key), err)
	}
	return strings.TrimSpace(string(b)), nil
}

// SetSysctl writes /proc/sys/KEY.
func (System) SetSysctl(key, value string) error {
	if err := os.WriteFile("/proc/sys/"+key, []byte(value), 0o644); err != nil {
		return fmt.Errorf("set %s: %w", sysctlName(key), err)
	}
	return nil
}
