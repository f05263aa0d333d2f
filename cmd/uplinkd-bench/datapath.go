package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/uplinkd/uplinkd/internal/lab"
	"github.com/uplinkd/uplinkd/internal/wg"
)

// Debian's wireguard-go as the peer tunnel: edge side in ulb-home, pinned
// to docomo with docomo's fwmark like uplinkd's own tunnel, hub side in
// ulb-hub on a port of its own.
const (
	peerEdgeIf = "wgbx-e"
	peerHubIf  = "wgbx-h"
	peerPort   = 51899
	peerHub4   = "198.18.199.0"
	peerEdge4  = "198.18.199.1"
)

// dataPathRow: row 8. iperf3 from ulb-home to ulb-hub through uplinkd's
// docomo tunnel (embedded wireguard-go) and through Debian's wireguard-go
// binary on the same carrier path, alternating, two rounds each.
func dataPathRow(ctx context.Context, l *benchLab) row {
	const id, name = "8", "data path: iperf3 TCP home → hub through one userspace tunnel (peer: Debian wireguard-go)"
	for _, tool := range []string{"wireguard-go", "iperf3", "wg"} {
		if _, err := exec.LookPath(tool); err != nil {
			return notMeasured(id, name, tool+" is not installed (apt-get install -y --no-install-recommends wireguard-go iperf3 wireguard-tools)")
		}
	}
	if err := peerTunnel(ctx, l); err != nil {
		return failed(id, name, err)
	}
	srv := exec.Command("ip", "netns", "exec", l.NS("hub"), "iperf3", "-s")
	if err := srv.Start(); err != nil {
		return failed(id, name, err)
	}
	defer func() { srv.Process.Kill(); srv.Wait() }()
	time.Sleep(300 * time.Millisecond)
	hub4, _, _, _ := lab.TunnelAddrs(0)
	var ours, peer []float64
	for range 2 {
		for _, t := range []struct {
			addr string
			into *[]float64
		}{{hub4, &ours}, {peerHub4, &peer}} {
			bps, err := iperf(ctx, l, t.addr)
			if err != nil {
				return failed(id, name, err)
			}
			*t.into = append(*t.into, bps)
		}
	}
	o, p := median(ours), median(peer)
	return row{id: id, name: name, uplinkd: gbit(o) + " (median of 2 × 4 s)", peer: gbit(p),
		ratio: fmt.Sprintf("%.2f; goal ≥ 1.0", o/p), verdict: verdict(o >= p)}
}

// peerTunnel starts and configures Debian's wireguard-go on both sites.
func peerTunnel(ctx context.Context, l *benchLab) error {
	dir, err := os.MkdirTemp("", "uplinkd-bench-wg")
	if err != nil {
		return err
	}
	addCleanup(func() { os.RemoveAll(dir) })
	keys, pubs := map[string]string{}, map[string]string{}
	for _, side := range []string{"e", "h"} {
		k, err := wg.GenKey()
		if err != nil {
			return err
		}
		keys[side] = filepath.Join(dir, side+".key")
		if err := os.WriteFile(keys[side], []byte(k+"\n"), 0o600); err != nil {
			return err
		}
		if pubs[side], err = wg.PubKey(k); err != nil {
			return err
		}
	}
	mark, err := exec.Command("ip", "netns", "exec", l.NS("home"), "wg", "show", l.EdgeTunnel("docomo"), "fwmark").Output()
	if err != nil {
		return fmt.Errorf("wg show %s fwmark: %w", l.EdgeTunnel("docomo"), err)
	}
	sites := []struct {
		ns, ifname, addr string
		set              []string
	}{
		{l.NS("hub"), peerHubIf, peerHub4 + "/31", []string{"private-key", keys["h"], "listen-port", fmt.Sprint(peerPort),
			"peer", pubs["e"], "allowed-ips", peerEdge4 + "/32"}},
		{l.NS("home"), peerEdgeIf, peerEdge4 + "/31", []string{"private-key", keys["e"], "fwmark", strings.TrimSpace(string(mark)),
			"peer", pubs["h"], "endpoint", fmt.Sprintf("%s:%d", lab.HubPublic, peerPort), "allowed-ips", peerHub4 + "/32", "persistent-keepalive", "5"}},
	}
	for _, s := range sites {
		cmd := exec.Command("ip", "netns", "exec", s.ns, "wireguard-go", "-f", s.ifname)
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("start wireguard-go: %w", err)
		}
		ifname := s.ifname
		addCleanup(func() {
			cmd.Process.Kill()
			cmd.Wait()
			os.Remove(filepath.Join("/var/run/wireguard", ifname+".sock"))
		})
		if err := waitFile(filepath.Join("/var/run/wireguard", s.ifname+".sock"), 5*time.Second); err != nil {
			return err
		}
		if err := sh("ip", append([]string{"netns", "exec", s.ns, "wg", "set", s.ifname}, s.set...)...); err != nil {
			return err
		}
		if err := sh("ip", "-n", s.ns, "addr", "add", s.addr, "dev", s.ifname); err != nil {
			return err
		}
		if err := sh("ip", "-n", s.ns, "link", "set", s.ifname, "up"); err != nil {
			return err
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if exec.Command("ip", "netns", "exec", l.NS("home"), "ping", "-c", "1", "-W", "1", peerHub4).Run() == nil {
			return nil
		}
	}
	return fmt.Errorf("no ping through Debian's wireguard-go tunnel within 10 s")
}

func waitFile(path string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s did not appear within %s", path, limit)
}

// iperf runs one 4 s TCP test from ulb-home and returns received bit/s.
func iperf(ctx context.Context, l *benchLab, addr string) (float64, error) {
	return iperfFrom(ctx, l.NS("home"), addr)
}

// iperfFrom runs a 4 s iperf3 TCP client in ns against addr ("host" or
// "host -p port") and returns the receiver's rate.
func iperfFrom(ctx context.Context, ns, addr string) (float64, error) {
	args := append([]string{"netns", "exec", ns, "iperf3", "-c"}, strings.Fields(addr)...)
	out, err := exec.CommandContext(ctx, "ip", append(args, "-t", "4", "-J")...).Output()
	if err != nil {
		return 0, fmt.Errorf("iperf3 -c %s: %v: %.200s", addr, err, out)
	}
	var r struct {
		End struct {
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return 0, fmt.Errorf("iperf3 output: %w", err)
	}
	return r.End.SumReceived.BitsPerSecond, nil
}

// median of samples: rates or durations.
func median[T ~int64 | ~float64](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[len(s)/2]
}

func gbit(bps float64) string { return fmt.Sprintf("%.2f Gbit/s", bps/1e9) }
