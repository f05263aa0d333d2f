package lab

import (
	"fmt"
	"os/exec"
	"strings"
)

// TunnelOverhead is what a packet inside a tunnel adds on the carrier
// link: WireGuard's data header and tag (32), the outer IP and UDP headers
// (28), and 12 on average padding it to 16 bytes.
const TunnelOverhead = 72

// livenessTable is the nftables table a LivenessMeter counts in.
const livenessTable = "uplinkd_lab_live"

// LivenessMeter counts, in the edge's namespace, the liveness exchange of
// each carrier and nothing else: BFD (port 3784) and BGP (port 179) in and
// out of its tunnel, and WireGuard's own keepalives (40 bytes of UDP) and
// handshake messages (156, 100, 72) on its carrier link. The lab's other
// traffic (the feed checks, which go through whichever tunnel their flow
// hashes to) is left out: it lands on one carrier or another, a check or
// none in a short span, and is no part of what liveness costs.
type LivenessMeter struct {
	ns       string
	carriers []string
}

// Liveness is one carrier's count since the meter started.
type Liveness struct {
	BFD, BGP, WireGuard Counted
}

// Counted is an nftables counter's reading.
type Counted struct{ Packets, Bytes uint64 }

// CarrierBytes is what the exchange cost on the carrier link: the packets
// inside the tunnel at their size there, and WireGuard's own.
func (v Liveness) CarrierBytes() uint64 {
	inner := v.BFD.Bytes + v.BGP.Bytes + (v.BFD.Packets+v.BGP.Packets)*TunnelOverhead
	return inner + v.WireGuard.Bytes
}

// MeterLiveness starts counting; Close removes the counters.
func (l *Lab) MeterLiveness() (*LivenessMeter, error) {
	m := &LivenessMeter{ns: l.NS("home"), carriers: Carriers}
	m.Close() // a meter a crashed run left
	if err := RunNFT(m.ns, livenessCounters(l, m.carriers)); err != nil {
		return nil, err
	}
	return m, nil
}

// Read returns each carrier's count so far, from one listing of the
// meter's counters.
func (m *LivenessMeter) Read() (map[string]Liveness, error) {
	all, err := nftCounters(m.ns, livenessTable)
	if err != nil {
		return nil, err
	}
	out := map[string]Liveness{}
	for _, c := range m.carriers {
		out[c] = Liveness{BFD: all["bfd_"+c], BGP: all["bgp_"+c], WireGuard: all["wg_"+c]}
	}
	return out, nil
}

// Close removes the meter's table (there or not: nft 1.0.6 has no
// "destroy", so it is added first).
func (m *LivenessMeter) Close() error {
	return RunNFT(m.ns, fmt.Sprintf("add table inet %s\ndelete table inet %s\n", livenessTable, livenessTable))
}

func livenessCounters(l *Lab, carriers []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "table inet %s {\n", livenessTable)
	for _, c := range carriers {
		fmt.Fprintf(&b, "\tcounter wg_%s {}\n\tcounter bfd_%s {}\n\tcounter bgp_%s {}\n", c, c, c)
	}
	for _, hook := range []struct{ name, dir string }{{"input", "iifname"}, {"output", "oifname"}} {
		fmt.Fprintf(&b, "\tchain live_%s {\n\t\ttype filter hook %s priority -300; policy accept;\n", hook.name, hook.name)
		for _, c := range carriers {
			t := l.EdgeTunnel(c)
			fmt.Fprintf(&b, "\t\t%s %q udp dport 3784 counter name \"bfd_%s\"\n", hook.dir, t, c)
			fmt.Fprintf(&b, "\t\t%s %q tcp sport 179 counter name \"bgp_%s\"\n", hook.dir, t, c)
			fmt.Fprintf(&b, "\t\t%s %q tcp dport 179 counter name \"bgp_%s\"\n", hook.dir, t, c)
			fmt.Fprintf(&b, "\t\t%s \"wwan-%s\" udp length { 40, 72, 100, 156 } counter name \"wg_%s\"\n", hook.dir, c, c)
		}
		b.WriteString("\t}\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// RunNFT runs an nft script in a namespace (the nft command).
func RunNFT(ns, script string) error {
	cmd := exec.Command("ip", "netns", "exec", ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("nft in %s: %v: %s", ns, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// nftCounters reads every named counter of an inet table in one listing
// ("counter NAME {" then "packets N bytes N").
func nftCounters(ns, table string) (map[string]Counted, error) {
	b, err := exec.Command("ip", "netns", "exec", ns, "nft", "list", "counters", "table", "inet", table).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("nft list counters %s: %v: %s", table, err, b)
	}
	out := map[string]Counted{}
	name := ""
	f := strings.Fields(string(b))
	for i := 0; i+1 < len(f); i++ {
		switch f[i] {
		case "counter":
			name = f[i+1]
		case "packets":
			c := out[name]
			fmt.Sscan(f[i+1], &c.Packets)
			out[name] = c
		case "bytes":
			c := out[name]
			fmt.Sscan(f[i+1], &c.Bytes)
			out[name] = c
		}
	}
	return out, nil
}
