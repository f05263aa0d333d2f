package wg

import (
	"errors"

	"github.com/uplinkd/uplinkd/internal/config"
)

// Device is one WireGuard interface this process created or adopted.
type Device interface {
	Name() string
	Impl() config.Impl // kernel or userspace
	// Close removes the interface and everything serving it.
	Close() error
}

// Backend creates WireGuard interfaces of one implementation.
type Backend interface {
	Impl() config.Impl
	Create(name string, mtu int) (Device, error)
}

// ErrNoKernel means the kernel has no WireGuard support.
var ErrNoKernel = errors.New("kernel has no wireguard module")
