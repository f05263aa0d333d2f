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

// TableName is uplinkd's own nftables table (family inet).
const TableName = "uplinkd"

// Desired is a site's source NAT: each rule masquerades its sources when
// they leave by its interface (the hub's public interface; the edge's
// breakout link, since the 5G router knows no route back to the LAN).
type Desired []Masquerade

// Masquerade rewrites Sources to Out's address on the way out of Out.
type Masquerade struct {
	Out     string
	Sources []netip.Prefix
}

// rules renders the desired state as one tag per rule; a rule's tag is
// kept in its userdata so the table can be compared with what is wanted.
func (d Desired) rules() []string {
	var tags []string
	for _, m := range d {
		for _, p := range m.Sources {
			tags = append(tags, tag(m.Out, p))
		}
	}
	slices.Sort(tags)
	return slices.Compact(tags)
}

func tag(out string, p netip.Prefix) string {
	return fmt.Sprintf("masquerade %s from %s", out, p.Masked())
}

// Apply makes uplinkd's table hold exactly the desired masquerade rules,
// rebuilding it in one transaction when anything differs. It reports
// whether it changed the kernel.
func Apply(d Desired) (bool, error) {
	c, err := nftables.New()
	if err != nil {
		return false, fmt.Errorf("nftables: %w", err)
	}
	if have, err := current(c); err == nil && slices.Equal(have, d.rules()) {
		return false, nil
	}
	t := &nftables.Table{Family: nftables.TableFamilyINet, Name: TableName}
	if _, err := c.ListTableOfFamily(TableName, nftables.TableFamilyINet); err == nil {
		c.DelTable(t)
	}
	c.AddTable(t)
	ch := c.AddChain(&nftables.Chain{Name: "postrouting", Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource})
	for _, m := range d {
		for _, p := range m.Sources {
			c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: masqueradeFrom(m.Out, p.Masked()),
				UserData: []byte(tag(m.Out, p))})
		}
	}
	if err := c.Flush(); err != nil {
		return false, fmt.Errorf("write nftables table %s: %w", TableName, err)
	}
	return true, nil
}

// current lists the tags of the rules in uplinkd's table.
func current(c *nftables.Conn) ([]string, error) {
	t, err := c.ListTableOfFamily(TableName, nftables.TableFamilyINet)
	if err != nil {
		return nil, err
	}
	rules, err := c.GetRules(t, &nftables.Chain{Name: "postrouting", Table: t})
	if err != nil {
		return nil, err
	}
	var tags []string
	for _, r := range rules {
		tags = append(tags, string(r.UserData))
	}
	slices.Sort(tags)
	return tags, nil
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

// Remove deletes uplinkd's table; a table that is not there is fine.
func Remove() error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	if _, err := c.ListTableOfFamily(TableName, nftables.TableFamilyINet); err != nil {
		return nil
	}
	c.DelTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: TableName})
	if err := c.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove nftables table %s: %w", TableName, err)
	}
	return nil
}

// Forwarding turns on IPv4 and IPv6 forwarding in the current namespace
// (both roles route) and reports what it changed.
func Forwarding() ([]string, error) {
	var changed []string
	for _, key := range []string{"net/ipv4/ip_forward", "net/ipv6/conf/all/forwarding"} {
		path := "/proc/sys/" + key
		b, err := os.ReadFile(path)
		if err != nil {
			return changed, fmt.Errorf("read %s: %w", key, err)
		}
		if strings.TrimSpace(string(b)) == "1" {
			continue
		}
		if err := os.WriteFile(path, []byte("1"), 0o644); err != nil {
			return changed, fmt.Errorf("enable %s: %w", key, err)
		}
		changed = append(changed, strings.ReplaceAll(key, "/", ".")+" = 1")
	}
	return changed, nil
}
