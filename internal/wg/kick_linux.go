package wg

import (
	"fmt"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/uplinkd/uplinkd/internal/config"
)

// WireGuard waits 5 s before retrying a first handshake that was lost (for
// example because the hub was not listening yet), and a peer object will
// not send a new initiation sooner. Re-creating the peer resets that, so a
// tunnel without a live session gets a fresh peer on a short backoff.
const (
	kickFirst  = 500 * time.Millisecond
	kickMax    = 4 * time.Second
	sessionTTL = config.WireGuardRejectAfter // older keys are dead
	// suspectGrace: a tunnel that liveness calls dead but that made a
	// handshake this recently is given time to come up before another kick.
	suspectGrace = 5 * time.Second
)

// kickReread: a session seen live is read again this long before it could
// expire, so that a lost rekey is still caught in time.
const kickReread = 10 * time.Second

type kickState struct {
	next    time.Time
	backoff time.Duration
	// seen is the handshake time last read of a live session. Why keep it:
	// Kick runs four times a second, and reading a userspace device is a
	// UAPI round trip that allocates about 8 KiB (a third of an idle edge's
	// garbage, measured). A peer's handshake time only moves forward, so a
	// session seen live and not suspect needs no read until it could
	// expire; a peer re-created or re-configured starts a fresh kickState.
	seen time.Time
}

// Kick re-creates the peer of every edge tunnel that has no live session,
// or that liveness (BFD) reports dead although WireGuard still has keys (a
// restarted hub has forgotten them), and whose backoff has run out. It
// returns the tunnels it kicked.
func (m *Manager) Kick(suspect map[string]bool) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var kicked []string
	t0 := now()
	for _, t := range m.last.Tunnels {
		if t.Peer.Endpoint == "" {
			continue // the hub answers; it never initiates
		}
		if m.kickOne(t, t0, suspect[t.Name]) {
			kicked = append(kicked, t.Name)
		}
	}
	return kicked
}

func (m *Manager) kickOne(t Tunnel, t0 time.Time, suspect bool) bool {
	ks := m.kicks[t.Name]
	if ks == nil {
		ks = &kickState{next: t0.Add(kickFirst), backoff: kickFirst}
		m.kicks[t.Name] = ks
	}
	if !suspect && !ks.seen.IsZero() && t0.Sub(ks.seen) < sessionTTL-kickReread {
		return false
	}
	hs, ok := m.handshakeOf(t.Name)
	if !ok {
		return false
	}
	live := !hs.IsZero() && t0.Sub(hs) < sessionTTL
	if live {
		ks.seen = hs
	}
	if live && (!suspect || t0.Sub(hs) < suspectGrace) {
		ks.backoff, ks.next = kickFirst, t0.Add(kickFirst)
		return false
	}
	if t0.Before(ks.next) {
		return false
	}
	ks.backoff = min(ks.backoff*2, kickMax)
	ks.next = t0.Add(ks.backoff)
	ks.seen = time.Time{} // the new peer has no session yet
	if err := m.replacePeer(t); err != nil {
		m.log.Warn("kick handshake", "tunnel", t.Name, "err", err)
		return false
	}
	m.log.Debug("no handshake yet: peer re-created", "tunnel", t.Name)
	return true
}

// handshakeOf reads the latest handshake of a tunnel's peer (zero: none
// yet); false when the device or its peer cannot be read. Tests replace it
// through Manager.readHandshake.
func (m *Manager) handshakeOf(name string) (time.Time, bool) {
	if m.readHandshake != nil {
		return m.readHandshake(name)
	}
	dev, err := m.wgc.Device(name)
	if err != nil || len(dev.Peers) == 0 {
		return time.Time{}, false
	}
	return dev.Peers[0].LastHandshakeTime, true
}

func (m *Manager) replacePeer(t Tunnel) error {
	endpoint, err := resolve(t.Peer.Endpoint)
	if err != nil {
		return err
	}
	before := m.peerCounts(t)
	cfg := wgtypes.Config{ReplacePeers: true, Peers: []wgtypes.PeerConfig{peerConfig(t.Peer, endpoint)}}
	if err := m.wgc.ConfigureDevice(t.Name, cfg); err != nil {
		return fmt.Errorf("re-create peer: %w", err)
	}
	// The new peer counts from 0: what the old one counted is carried, so
	// that the tunnel's bytes in status and metrics only ever grow.
	c := m.carried[t.Name]
	c.rx, c.tx = c.rx+before.rx, c.tx+before.tx
	m.carried[t.Name] = c
	return nil
}

// byteCounts is a peer's received and sent bytes.
type byteCounts struct{ rx, tx int64 }

// peerCounts reads what the tunnel's peer has counted so far (zero when
// it cannot be read).
func (m *Manager) peerCounts(t Tunnel) byteCounts {
	dev, err := m.wgc.Device(t.Name)
	if err != nil {
		return byteCounts{}
	}
	for _, p := range dev.Peers {
		if p.PublicKey == t.Peer.PublicKey {
			return byteCounts{p.ReceiveBytes, p.TransmitBytes}
		}
	}
	return byteCounts{}
}
