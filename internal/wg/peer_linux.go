package wg

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// ensurePeer configures keys, port, fwmark and the single peer through
// wgctrl, and only when something differs: a needless reconfiguration of
// a userspace device is harmless, but a changed peer drops its session.
func (m *Manager) ensurePeer(r *Result, t Tunnel) error {
	dev, err := m.wgc.Device(t.Name)
	if err != nil {
		return fmt.Errorf("read wireguard state: %w", err)
	}
	endpoint, err := resolve(t.Peer.Endpoint)
	if err != nil {
		return err
	}
	cfg, why := diffDevice(dev, t, endpoint)
	if len(why) == 0 {
		return nil
	}
	if err := m.wgc.ConfigureDevice(t.Name, cfg); err != nil {
		return fmt.Errorf("configure wireguard: %w", err)
	}
	delete(m.kicks, t.Name) // a changed peer may have lost its session
	r.add("configure %s: %s", t.Name, strings.Join(why, ", "))
	return nil
}

// diffDevice returns the configuration that brings dev to t, and what it
// changes; nothing to change gives no reasons.
func diffDevice(dev *wgtypes.Device, t Tunnel, endpoint *net.UDPAddr) (wgtypes.Config, []string) {
	var cfg wgtypes.Config
	var why []string
	if dev.PrivateKey != t.PrivateKey {
		cfg.PrivateKey = &t.PrivateKey
		why = append(why, "private key")
	}
	if t.ListenPort != 0 && dev.ListenPort != t.ListenPort {
		cfg.ListenPort = &t.ListenPort
		why = append(why, fmt.Sprintf("listen port %d", t.ListenPort))
	}
	if dev.FirewallMark != int(t.FwMark) {
		mark := int(t.FwMark)
		cfg.FirewallMark = &mark
		why = append(why, fmt.Sprintf("fwmark %#x", t.FwMark))
	}
	found := false
	for _, p := range dev.Peers {
		if p.PublicKey != t.Peer.PublicKey {
			cfg.Peers = append(cfg.Peers, wgtypes.PeerConfig{PublicKey: p.PublicKey, Remove: true})
			why = append(why, "remove stale peer")
			continue
		}
		found = true
		if peerDiffers(p, t.Peer, endpoint) {
			cfg.Peers = append(cfg.Peers, peerConfig(t.Peer, endpoint))
			why = append(why, "update peer")
		}
	}
	if !found {
		cfg.Peers = append(cfg.Peers, peerConfig(t.Peer, endpoint))
		why = append(why, "add peer")
	}
	return cfg, why
}

func peerDiffers(have wgtypes.Peer, want Peer, endpoint *net.UDPAddr) bool {
	if endpoint != nil && (have.Endpoint == nil || have.Endpoint.String() != endpoint.String()) {
		return true
	}
	if have.PersistentKeepaliveInterval != want.Keepalive {
		return true
	}
	var got, exp []string
	for _, a := range have.AllowedIPs {
		got = append(got, a.String())
	}
	for _, a := range want.AllowedIPs {
		exp = append(exp, a.String())
	}
	slices.Sort(got)
	slices.Sort(exp)
	return !slices.Equal(got, exp)
}

func peerConfig(p Peer, endpoint *net.UDPAddr) wgtypes.PeerConfig {
	return wgtypes.PeerConfig{
		PublicKey:                   p.PublicKey,
		Endpoint:                    endpoint,
		PersistentKeepaliveInterval: durationPtr(p.Keepalive),
		ReplaceAllowedIPs:           true,
		AllowedIPs:                  ipNets(p.AllowedIPs),
	}
}

// resolve turns a host:port endpoint into an address; an empty endpoint
// (the hub side) stays nil so WireGuard learns it from the peer.
func resolve(endpoint string) (*net.UDPAddr, error) {
	if endpoint == "" {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	host, port, err := net.SplitHostPort(endpoint)
	if err != nil {
		return nil, fmt.Errorf("endpoint %q: %w", endpoint, err)
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return nil, fmt.Errorf("resolve endpoint %s: %v", endpoint, err)
	}
	return net.ResolveUDPAddr("udp", net.JoinHostPort(addrs[0].Unmap().String(), port))
}
