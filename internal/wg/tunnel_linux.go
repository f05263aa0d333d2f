package wg

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/uplinkd/uplinkd/internal/config"
)

// applyTunnel brings one interface to its desired state: present, marked,
// sized, addressed, up, and configured with its one peer.
func (m *Manager) applyTunnel(r *Result, d Desired, t Tunnel) error {
	link, err := m.ensureDevice(r, d, t)
	if err != nil {
		return err
	}
	if err := m.ensureLink(r, link, d.Site, t); err != nil {
		return err
	}
	return m.ensurePeer(r, t)
}

// ensureDevice returns the tunnel's link, creating the device if needed. A
// link of that name that is not uplinkd's is never taken over.
func (m *Manager) ensureDevice(r *Result, d Desired, t Tunnel) (netlink.Link, error) {
	link, err := m.h.LinkByName(t.Name)
	if err != nil && !isNotFound(err) {
		return nil, fmt.Errorf("look up link: %w", err)
	}
	dev, ours := m.devices[t.Name]
	switch {
	case ours && err == nil:
		return link, nil
	case ours: // the interface vanished under a live device: start over
		dev.Close()
		delete(m.devices, t.Name)
		r.add("drop vanished %s", t.Name)
	case err == nil:
		return link, m.adopt(link, d.Site)
	}
	delete(m.kicks, t.Name) // a new device: its handshakes start again
	if err := m.create(r, d.Impl, t); err != nil {
		return nil, err
	}
	return m.h.LinkByName(t.Name)
}

// adopt takes over a kernel WireGuard link an earlier run left behind.
func (m *Manager) adopt(link netlink.Link, site string) error {
	name := link.Attrs().Name
	if !owned(link, site) {
		return fmt.Errorf("interface %s exists and is not uplinkd's: remove it or choose another tunnel_interface", name)
	}
	if link.Type() != "wireguard" {
		return fmt.Errorf("interface %s is a %s left by another process: stop that process or delete the link", name, link.Type())
	}
	m.devices[name] = adoptKernel(m.h, name)
	m.log.Info("adopted kernel wireguard interface", "tunnel", name)
	return nil
}

// create makes a new device with the configured implementation; auto
// tries the kernel first and remembers the answer.
func (m *Manager) create(r *Result, want config.Impl, t Tunnel) error {
	impl := want
	if impl == config.ImplAuto && m.impl != "" {
		impl = m.impl
	}
	dev, err := m.backend(impl).Create(t.Name, t.MTU)
	if impl == config.ImplAuto && errors.Is(err, ErrNoKernel) {
		dev, err = m.backend(config.ImplUserspace).Create(t.Name, t.MTU)
	}
	if errors.Is(err, ErrNoKernel) {
		return fmt.Errorf("%w: set implementation = \"userspace\" or \"auto\", or load the module", err)
	}
	if err != nil {
		return err
	}
	if want == config.ImplAuto {
		m.impl = dev.Impl()
	}
	m.devices[t.Name] = dev
	r.add("create %s wireguard %s", dev.Impl(), t.Name)
	return nil
}

func (m *Manager) backend(impl config.Impl) Backend {
	if impl == config.ImplUserspace {
		return userspaceBackend{log: m.log}
	}
	return kernelBackend{h: m.h}
}

// ensureLink sets the ownership mark, MTU, addresses and up state.
func (m *Manager) ensureLink(r *Result, link netlink.Link, site string, t Tunnel) error {
	a := link.Attrs()
	if a.Alias != config.LinkAlias+site {
		if err := m.h.LinkSetAlias(link, config.LinkAlias+site); err != nil {
			return fmt.Errorf("mark link: %w", err)
		}
		r.add("mark %s as uplinkd's", t.Name)
	}
	if a.MTU != t.MTU {
		if err := m.h.LinkSetMTU(link, t.MTU); err != nil {
			return fmt.Errorf("set mtu %d: %w", t.MTU, err)
		}
		r.add("set %s mtu %d", t.Name, t.MTU)
	}
	if err := m.ensureAddrs(r, link, t); err != nil {
		return err
	}
	if a.Flags&unix.IFF_UP == 0 {
		if err := m.h.LinkSetUp(link); err != nil {
			return fmt.Errorf("set up: %w", err)
		}
		r.add("set %s up", t.Name)
	}
	return nil
}

// ensureAddrs adds missing tunnel addresses and removes global ones that
// are no longer configured; link-local addresses are the kernel's.
func (m *Manager) ensureAddrs(r *Result, link netlink.Link, t Tunnel) error {
	have, err := m.h.AddrList(link, netlink.FAMILY_ALL)
	for try := 0; errors.Is(err, netlink.ErrDumpInterrupted) && try < 3; try++ {
		// The kernel's address list changed during the dump (a
		// link coming up adds its IPv6 link-local): read it again.
		have, err = m.h.AddrList(link, netlink.FAMILY_ALL)
	}
	if err != nil {
		return fmt.Errorf("list addresses: %w", err)
	}
	want := map[netip.Prefix]bool{}
	for _, p := range t.Addresses {
		want[p] = true
	}
	seen := map[netip.Prefix]bool{}
	for _, a := range have {
		p, ok := prefixOf(a)
		if !ok || p.Addr().IsLinkLocalUnicast() {
			continue
		}
		seen[p] = true
		if want[p] {
			continue
		}
		if err := m.h.AddrDel(link, &a); err != nil {
			return fmt.Errorf("delete address %s: %w", p, err)
		}
		r.add("delete address %s from %s", p, t.Name)
	}
	for _, p := range t.Addresses {
		if seen[p] {
			continue
		}
		if err := m.h.AddrReplace(link, &netlink.Addr{IPNet: ipNet(p)}); err != nil {
			return fmt.Errorf("add address %s: %w", p, err)
		}
		r.add("add address %s to %s", p, t.Name)
	}
	return nil
}

func owned(link netlink.Link, site string) bool {
	return link.Attrs().Alias == config.LinkAlias+site
}

func isNotFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf)
}
