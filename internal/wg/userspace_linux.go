package wg

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/ipc"
	"golang.zx2c4.com/wireguard/tun"

	"github.com/uplinkd/uplinkd/internal/config"
)

// uapiDir is where wireguard-go and wg(8) meet. It is one directory for
// every network namespace, so interface names must be unique machine-wide.
const uapiDir = "/var/run/wireguard"

// userspaceBackend runs the embedded wireguard-go on a TUN device and serves
// the standard UAPI socket, so wgctrl and `wg show` treat it like a kernel
// device.
type userspaceBackend struct{ log *slog.Logger }

type userspaceDevice struct {
	name string
	dev  *device.Device
	uapi net.Listener
	log  *slog.Logger

	once sync.Once
}

var (
	_ Backend = userspaceBackend{}
	_ Device  = (*userspaceDevice)(nil)
)

func (userspaceBackend) Impl() config.Impl { return config.ImplUserspace }

func (b userspaceBackend) Create(name string, mtu int) (Device, error) {
	t, err := tun.CreateTUN(name, mtu)
	if err != nil {
		return nil, fmt.Errorf("create tun %s: %w", name, err)
	}
	log := b.log.With("tunnel", name)
	dev := device.NewDevice(t, conn.NewDefaultBind(), wgLogger(log))
	f, err := ipc.UAPIOpen(name)
	if err != nil {
		dev.Close()
		return nil, fmt.Errorf("open uapi socket for %s: %w", name, err)
	}
	l, err := ipc.UAPIListen(name, f)
	f.Close()
	if err != nil {
		dev.Close()
		return nil, fmt.Errorf("listen on uapi socket for %s: %w", name, err)
	}
	d := &userspaceDevice{name: name, dev: dev, uapi: l, log: log}
	go d.serve()
	return d, nil
}

// serve answers wgctrl and wg(8) on the UAPI socket until it is closed.
// ipc's listener reports closing twice (its accept loop and its inotify
// watch each send one error into a one-slot channel): taking both lets
// its goroutines end instead of leaking one per device.
func (d *userspaceDevice) serve() {
	for errs := 0; errs < 2; {
		c, err := d.uapi.Accept()
		if err != nil {
			errs++
			continue
		}
		go d.dev.IpcHandle(c)
	}
}

func (d *userspaceDevice) Name() string      { return d.name }
func (d *userspaceDevice) Impl() config.Impl { return config.ImplUserspace }

// Close stops the device; closing its TUN removes the interface.
func (d *userspaceDevice) Close() error {
	var err error
	d.once.Do(func() {
		err = d.uapi.Close()
		d.dev.Close()
		rm := os.Remove(filepath.Join(uapiDir, d.name+".sock"))
		if rm != nil && !errors.Is(rm, os.ErrNotExist) {
			err = errors.Join(err, rm)
		}
	})
	return err
}

// wgLogger sends wireguard-go's own lines through slog: its chatter at
// debug, its errors at warn.
func wgLogger(log *slog.Logger) *device.Logger {
	return &device.Logger{
		Verbosef: func(f string, a ...any) { log.Debug(fmt.Sprintf(f, a...)) },
		Errorf:   func(f string, a ...any) { log.Warn(fmt.Sprintf(f, a...)) },
	}
}
