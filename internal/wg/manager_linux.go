package wg

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
	"golang.zx2c4.com/wireguard/wgctrl"

	"github.com/uplinkd/uplinkd/internal/config"
)

// Manager reconciles tunnels and pins in the network namespace it was
// created in. It is safe for concurrent use.
type Manager struct {
	log *slog.Logger
	h   *netlink.Handle
	// rh lists routes with strict checking on, so the kernel filters a
	// dump by table, protocol and interface: without it every dump walks
	// and parses every route of every table, a million breakout routes
	// included (115 MB and a second of CPU per listing, measured).
	rh  *netlink.Handle
	wgc *wgctrl.Client
	// readHandshake, when set, stands in for reading a peer's handshake
	// through wgc (tests).
	readHandshake func(name string) (time.Time, bool)
	// sweptBlock: the whole table block 6001-6099 was swept once, for
	// leftovers of an earlier run; later sweeps read only the tables that
	// rules and pins name (a dump per table, so 200 when all are read).
	sweptBlock bool

	mu      sync.Mutex
	devices map[string]Device // interfaces this process serves or adopted
	last    Desired
	kicks   map[string]*kickState
	// carried is what the peers a kick replaced had counted, by tunnel.
	carried map[string]byteCounts
	impl    config.Impl // resolved from auto on first create
	lastErr error
	rates   map[string]*rateSample
}

// Result is what one Apply changed in the kernel.
type Result struct {
	Changes []string // one line per kernel change, for logs and tests
}

// NewManager opens netlink and wgctrl in the current namespace.
func NewManager(log *slog.Logger) (*Manager, error) {
	h, err := netlink.NewHandle()
	if err != nil {
		return nil, fmt.Errorf("open netlink: %w", err)
	}
	rh, err := strictHandle()
	if err != nil {
		h.Close()
		return nil, err
	}
	c, err := wgctrl.New()
	if err != nil {
		h.Close()
		rh.Close()
		return nil, fmt.Errorf("open wgctrl: %w", err)
	}
	return &Manager{log: log, h: h, rh: rh, wgc: c,
		devices: map[string]Device{}, kicks: map[string]*kickState{}, carried: map[string]byteCounts{}}, nil
}

// Apply makes the kernel match d and returns what it changed. It goes on
// past a failing tunnel or pin so one bad carrier does not hold back the
// others; the failures come back joined.
func (m *Manager) Apply(d Desired) (Result, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var r Result
	var errs []error
	// Pins first: a tunnel's first handshake must find its carrier table.
	// One read of the rules serves every pin and the sweep; without it
	// pins and routes wait for the next Apply, tunnels do not.
	rules, rerr := m.ownedRules()
	ps := newPinState(rules)
	for _, p := range d.Pins {
		if rerr != nil {
			break
		}
		if err := m.applyPin(&r, p, ps); err != nil {
			errs = append(errs, fmt.Errorf("uplink %s: %w", p.Uplink, err))
		}
	}
	for _, rt := range d.Returns {
		for _, k := range returnRules(rt) {
			if rerr == nil {
				errs = append(errs, m.ensureRule(&r, k, ps.rules))
			}
		}
	}
	for _, t := range d.Tunnels {
		if err := m.applyTunnel(&r, d, t); err != nil {
			errs = append(errs, fmt.Errorf("tunnel %s: %w", t.Name, err))
		}
	}
	for _, s := range d.Sources {
		if rerr != nil {
			break
		}
		if err := m.applySource(&r, s, ps); err != nil {
			errs = append(errs, fmt.Errorf("tunnel %s source route: %w", s.Tunnel, err))
		}
	}
	if rerr != nil {
		errs = append(errs, rerr, m.sweepLinks(&r, d))
	} else if err := m.sweep(&r, d, ps); err != nil {
		errs = append(errs, err)
	}
	m.last = d
	m.lastErr = errors.Join(errs...)
	for _, c := range r.Changes {
		m.log.Info("changed", "what", c)
	}
	return r, m.lastErr
}

// Close removes every tunnel, rule and per-uplink route this manager owns.
func (m *Manager) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var r Result
	err := m.sweepAll(&r, Desired{Site: m.last.Site})
	for name, d := range m.devices {
		err = errors.Join(err, d.Close())
		delete(m.devices, name)
	}
	for _, c := range r.Changes {
		m.log.Info("changed", "what", c)
	}
	return errors.Join(err, m.wgc.Close(), closeHandle(m.h), closeHandle(m.rh))
}

// strictHandle opens the route-listing handle (see Manager.rh).
func strictHandle() (*netlink.Handle, error) {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("open netlink: %w", err)
	}
	if err := h.SetStrictCheck(true); err != nil {
		h.Close()
		return nil, fmt.Errorf("netlink strict checking: %w", err)
	}
	return h, nil
}

func closeHandle(h *netlink.Handle) error { h.Close(); return nil }

func (r *Result) add(format string, a ...any) {
	r.Changes = append(r.Changes, fmt.Sprintf(format, a...))
}

// now is replaced in tests that need to move time.
var now = time.Now
