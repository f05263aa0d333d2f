package wg

import "time"

// Status reads every desired tunnel's live state back from WireGuard.
func (m *Manager) Status() []TunnelStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []TunnelStatus
	for _, t := range m.last.Tunnels {
		out = append(out, m.tunnelStatus(t))
	}
	return out
}

func (m *Manager) tunnelStatus(t Tunnel) TunnelStatus {
	s := TunnelStatus{Name: t.Name, Uplink: t.Uplink, Hub: t.Hub, Site: t.Site, FwMark: t.FwMark}
	if d, ok := m.devices[t.Name]; ok {
		s.Impl = string(d.Impl())
	}
	dev, err := m.wgc.Device(t.Name)
	if err != nil {
		s.Error = err.Error()
		return s
	}
	s.ListenPort = dev.ListenPort
	for _, p := range dev.Peers {
		if p.PublicKey != t.Peer.PublicKey {
			continue
		}
		if p.Endpoint != nil {
			s.Endpoint = p.Endpoint.String()
		}
		s.LastHandshake = p.LastHandshakeTime
		c := m.carried[t.Name]
		s.RxBytes, s.TxBytes = c.rx+p.ReceiveBytes, c.tx+p.TransmitBytes
	}
	s.RxRate, s.TxRate = m.rate(t.Name, s.RxBytes, s.TxBytes, now())
	return s
}

// rateWindow is the shortest span a rate is computed over: status may be
// asked for many times a second, and a rate over milliseconds is noise.
const rateWindow = 2 * time.Second

type rateSample struct {
	at             time.Time
	rx, tx         int64
	rxRate, txRate float64
}

// rate returns a tunnel's byte rates since the sample taken at least
// rateWindow ago, and moves the sample on.
func (m *Manager) rate(name string, rx, tx int64, at time.Time) (float64, float64) {
	if m.rates == nil {
		m.rates = map[string]*rateSample{}
	}
	r := m.rates[name]
	if r == nil || rx < r.rx || tx < r.tx { // new, or counters reset with the device
		m.rates[name] = &rateSample{at: at, rx: rx, tx: tx}
		return 0, 0
	}
	if dt := at.Sub(r.at).Seconds(); dt >= rateWindow.Seconds() {
		r.rxRate, r.txRate = float64(rx-r.rx)/dt, float64(tx-r.tx)/dt
		r.at, r.rx, r.tx = at, rx, tx
	}
	return r.rxRate, r.txRate
}

// LastError is the error of the latest Apply, nil when it fully succeeded.
func (m *Manager) LastError() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lastErr
}

// LastHandshake is the time of a tunnel's latest handshake, zero if none
// or if the device cannot be read.
func (m *Manager) LastHandshake(name string) time.Time {
	hs, _ := m.handshakeOf(name)
	return hs
}
