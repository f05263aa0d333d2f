//go:build linux

package inbound

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Apply makes the inbound table hold exactly d's rules, rebuilding it in
// one transaction when what is read back differs (a firewall reload that
// flushed it, a rule deleted by hand, a new config). It reports whether it
// changed the kernel. A site with nothing to filter has no table.
func Apply(d Desired) (bool, error) {
	want := d.rules()
	c, err := nftables.New()
	if err != nil {
		return false, fmt.Errorf("nftables: %w", err)
	}
	have, err := current(c)
	if err == nil && slices.Equal(have, tags(want)) {
		return false, nil
	}
	t := &nftables.Table{Family: nftables.TableFamilyINet, Name: TableName}
	if err == nil {
		c.DelTable(t)
	}
	if len(want) == 0 {
		if err != nil {
			return false, nil // no table, none wanted
		}
		return true, flush(c, "remove")
	}
	c.AddTable(t)
	chains := map[string]*nftables.Chain{}
	for _, r := range want {
		ch, ok := chains[r.chain]
		if !ok {
			ch = c.AddChain(chainOf(t, r.chain))
			chains[r.chain] = ch
		}
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: r.exprs, UserData: []byte(r.tag)})
	}
	return true, flush(c, "write")
}

func flush(c *nftables.Conn, what string) error {
	if err := c.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("%s nftables table %s: %w", what, TableName, err)
	}
	return nil
}

// chainOf gives each chain its hook: DNAT before routing, the marks as the
// packet arrives (mangle), the filter on forwarding with policy accept
// (this table only removes; what it does not name is left to the rest of
// the ruleset).
func chainOf(t *nftables.Table, name string) *nftables.Chain {
	ch := &nftables.Chain{Name: name, Table: t}
	switch name {
	case chainDNAT:
		ch.Type, ch.Hooknum, ch.Priority = nftables.ChainTypeNAT, nftables.ChainHookPrerouting, nftables.ChainPriorityNATDest
	case chainMark:
		ch.Type, ch.Hooknum, ch.Priority = nftables.ChainTypeFilter, nftables.ChainHookPrerouting, nftables.ChainPriorityMangle
	default:
		ch.Type, ch.Hooknum, ch.Priority = nftables.ChainTypeFilter, nftables.ChainHookForward, nftables.ChainPriorityFilter
	}
	return ch
}

// current reads the table's rule tags back in the order rules() makes
// them: chains in a fixed order, rules in kernel order.
func current(c *nftables.Conn) ([]string, error) {
	t, err := c.ListTableOfFamily(TableName, nftables.TableFamilyINet)
	if err != nil {
		return nil, err
	}
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, name := range []string{chainDNAT, chainMark, chainForward} {
		if !slices.ContainsFunc(chains, func(ch *nftables.Chain) bool { return ch.Table.Name == TableName && ch.Name == name }) {
			continue
		}
		rules, err := c.GetRules(t, &nftables.Chain{Name: name, Table: t})
		if err != nil {
			return nil, err
		}
		for _, r := range rules {
			out = append(out, name+": "+string(r.UserData))
		}
	}
	return out, nil
}

// Remove deletes the inbound table; one that is not there is fine.
func Remove() error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	if _, err := c.ListTableOfFamily(TableName, nftables.TableFamilyINet); err != nil {
		return nil
	}
	c.DelTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: TableName})
	return flush(c, "remove")
}

// Counts are what the table's counters say: new connections to each
// published service (its DNAT or, for IPv6, its accept rule sees only a
// connection's first packet: the rest are established), and packets
// dropped as uninvited.
type Counts struct {
	Connections map[string]uint64 // by service name
	Dropped     uint64
}

// ReadCounts reads the counters back from the kernel; zero without the
// table.
func ReadCounts() (Counts, error) {
	out := Counts{Connections: map[string]uint64{}}
	c, err := nftables.New()
	if err != nil {
		return out, fmt.Errorf("nftables: %w", err)
	}
	t, err := c.ListTableOfFamily(TableName, nftables.TableFamilyINet)
	if err != nil {
		return out, nil
	}
	for _, name := range []string{chainDNAT, chainForward} {
		rules, err := c.GetRules(t, &nftables.Chain{Name: name, Table: t})
		if err != nil {
			continue // a role without this chain
		}
		for _, r := range rules {
			out.add(string(r.UserData), counted(r))
		}
	}
	return out, nil
}

// add files one rule's count under its service or as dropped, by tag.
func (c *Counts) add(tag string, n uint64) {
	switch {
	case strings.HasPrefix(tag, "publish "):
		name, _, _ := strings.Cut(strings.TrimPrefix(tag, "publish "), ":")
		c.Connections[name] += n
	case strings.Contains(tag, "drop"):
		c.Dropped += n
	}
}

func counted(r *nftables.Rule) uint64 {
	for _, e := range r.Exprs {
		if ct, ok := e.(*expr.Counter); ok {
			return ct.Packets
		}
	}
	return 0
}
