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
	s := TunnelStatus{Name: t.Name, Uplink: t.Uplink, FwMark: t.FwMark}
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
		s.RxBytes, s.TxBytes = p.ReceiveBytes, p.TransmitBytes
	}
	return s
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
	dev, err := m.wgc.Device(name)
	if err != nil || len(dev.Peers) == 0 {
		return time.Time{}
	}
	return dev.Peers[0].LastHandshakeTime
}
