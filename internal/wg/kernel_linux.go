package wg

import (
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/uplinkd/uplinkd/internal/config"
)

// kernelBackend creates in-kernel WireGuard links through rtnetlink.
type kernelBackend struct{ h *netlink.Handle }

type kernelDevice struct {
	h    *netlink.Handle
	name string
}

var (
	_ Backend = kernelBackend{}
	_ Device  = (*kernelDevice)(nil)
)

func (kernelBackend) Impl() config.Impl { return config.ImplKernel }

func (k kernelBackend) Create(name string, mtu int) (Device, error) {
	la := netlink.NewLinkAttrs()
	la.Name, la.MTU = name, mtu
	err := k.h.LinkAdd(&netlink.Wireguard{LinkAttrs: la})
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENODEV) {
		return nil, ErrNoKernel
	}
	if err != nil {
		return nil, fmt.Errorf("create kernel wireguard %s: %w", name, err)
	}
	return &kernelDevice{h: k.h, name: name}, nil
}

// adoptKernel takes over an existing kernel WireGuard link left by an
// earlier run.
func adoptKernel(h *netlink.Handle, name string) Device {
	return &kernelDevice{h: h, name: name}
}

func (d *kernelDevice) Name() string      { return d.name }
func (d *kernelDevice) Impl() config.Impl { return config.ImplKernel }

func (d *kernelDevice) Close() error {
	l, err := d.h.LinkByName(d.name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return err
	}
	return d.h.LinkDel(l)
}
