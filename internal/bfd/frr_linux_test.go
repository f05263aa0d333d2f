//go:build linux

package bfd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netns"
)

// FRR's daemons as Debian's frr package installs them.
const (
	frrZebra = "/usr/lib/frr/zebra"
	frrBFDD  = "/usr/lib/frr/bfdd"
)

// frrConf is bfdd's configuration: the profile the hub uses
// (100 ms each way, multiplier 3) on one single-hop peer per family.
const frrConf = `bfd
 profile fast
  transmit-interval 100
  receive-interval 100
  detect-multiplier 3
 !
 peer %[1]s local-address %[2]s interface %[5]s
  profile fast
 !
 peer %[3]s local-address %[4]s interface %[5]s
  profile fast
 !
!
`

// frr is a zebra and a bfdd running in one namespace, with their sockets,
// pid files and configuration in a directory of their own.
type frr struct {
	ns, dir string
}

// frrPeer is one entry of `show bfd peers json` merged with its counters.
type frrPeer struct {
	Peer        string `json:"peer"`
	Status      string `json:"status"`
	Diagnostic  string `json:"diagnostic"`
	RxInterval  int    `json:"receive-interval"`
	TxInterval  int    `json:"transmit-interval"`
	RemoteRx    int    `json:"remote-receive-interval"`
	RemoteTx    int    `json:"remote-transmit-interval"`
	SessionUp   int    `json:"session-up"`
	SessionDown int    `json:"session-down"`
	PacketsIn   int    `json:"control-packet-input"`
	PacketsOut  int    `json:"control-packet-output"`
}

// TestFRRInterop runs our sessions against FRR's bfdd (Debian's frr 8.4,
// profile 100 ms × 3), the peer of issue 16: FRR advertises 1 s timers
// until Up and then polls to its fast ones, which once left our side
// sending at the slow rate while it promised the fast one. The sessions
// must come Up and stay Up, an AdminDown from FRR must reach us as such,
// and a blackhole must be detected within 400 ms.
func TestFRRInterop(t *testing.T) {
	// Mostly waiting (a 60 s hold; 15 s of idle counters): the two long
	// tests of the package overlap, in namespaces of their own.
	t.Parallel()
	for _, bin := range []string{frrZebra, frrBFDD} {
		if _, err := os.Stat(bin); err != nil {
			t.Skipf("skipping: FRR not installed (%s: %v); apt-get install -y --no-install-recommends frr", bin, err)
		}
	}
	if _, err := exec.LookPath("vtysh"); err != nil {
		t.Skip("skipping: vtysh not installed (apt-get install -y --no-install-recommends frr)")
	}
	l := newLab(t)
	f := startFRR(t, l.nsB, fmt.Sprintf(frrConf, l.a4, l.b4, l.a6, l.b6, l.ifB))

	rec := newRecorder()
	m := NewManager(Config{Logger: testLogger(t), OnChange: rec.OnChange})
	defer m.Close()
	a4, _ := l.pair(false)
	a6, _ := l.pair(true)
	start := time.Now()
	addIn(t, l.a, m, a4)
	addIn(t, l.a, m, a6)
	waitUp(t, m)
	t.Logf("our sessions Up with FRR after %v", time.Since(start).Round(time.Millisecond))
	f.waitPeers(t, "both Up", func(ps []frrPeer) bool { return countStatus(ps, "up") == 2 })

	hold := 60 * time.Second
	if testing.Short() {
		hold = 10 * time.Second
	}
	t.Run("stable", func(t *testing.T) { frrStable(t, f, m, rec, hold, a4.Key(), a6.Key()) })
	t.Run("peer admin down", func(t *testing.T) { frrAdminDown(t, f, m, rec, l) })
	t.Run("blackhole", func(t *testing.T) { frrBlackhole(t, f, m, rec, l, a4.Key(), a6.Key()) })
}

// frrStable holds the sessions for d and asserts no state change on either
// side and transmission at the negotiated rate.
func frrStable(t *testing.T, f *frr, m *Manager, rec *recorder, d time.Duration, keys ...Key) {
	// Settled: both sides at 100 ms, polls done, before the count starts.
	for _, k := range keys {
		waitNegotiatedKey(t, m, k)
	}
	f.waitPeers(t, "fast timers", func(ps []frrPeer) bool {
		for _, p := range ps {
			if p.Status != "up" || p.RemoteTx != 100 || p.RemoteRx != 100 {
				return false
			}
		}
		return len(ps) == 2
	})
	for _, k := range keys {
		rec.drain(k)
	}
	before, fBefore := snapshotByKey(m), f.peersByAddr(t)
	time.Sleep(d)
	after, fAfter := snapshotByKey(m), f.peersByAddr(t)
	for _, k := range keys {
		// Which side timed out tells a flap of ours (FRR's detection
		// expired: we see Down with NeighborSignaledSessionDown) from
		// bfdd falling silent (ours expired: ControlDetectionTimeExpired).
		for c := range len(rec.chanFor(k)) {
			ch := <-rec.chanFor(k)
			if c < 6 {
				t.Logf("%s: %s %v→%v diag %v, remote %v", k, ch.At.Format("15:04:05.000"), ch.Old, ch.New, ch.Diag, ch.RemoteState)
			}
		}
		b, a := before[k], after[k]
		tx := a.TxPackets - b.TxPackets
		// 100 ms less up to 25 % jitter: 10 to 13.3 packets a second.
		minTx := uint64(d / (100 * time.Millisecond))
		t.Logf("%s over %v: %d state changes, %d sent, %d received, now %v since %v",
			k, d, a.StateChanges-b.StateChanges, tx, a.RxPackets-b.RxPackets, a.State, a.UpSince.Format(time.TimeOnly))
		if a.StateChanges != b.StateChanges || a.State != StateUp {
			t.Errorf("%s: %d state changes while held, state %v; want 0 and Up", k, a.StateChanges-b.StateChanges, a.State)
		}
		if tx < minTx {
			t.Errorf("%s: sent %d packets in %v, want at least %d (100 ms)", k, tx, d, minTx)
		}
	}
	for addr, p := range fAfter {
		downs := p.SessionDown - fBefore[addr].SessionDown
		t.Logf("FRR %s: %s, %d session-down events while held, %d packets in", addr, p.Status, downs, p.PacketsIn-fBefore[addr].PacketsIn)
		if downs != 0 || p.Status != "up" {
			t.Errorf("FRR %s: %d session-down events while held, status %s; want 0 and up", p.Peer, downs, p.Status)
		}
	}
}

// frrAdminDown shuts FRR's IPv4 peer down: it sends AdminDown (once, then
// falls silent), which must reach us as Down with the remote state
// AdminDown, and nothing more while it stays silent; no shutdown brings
// the session back.
func frrAdminDown(t *testing.T, f *frr, m *Manager, rec *recorder, l *lab) {
	k := Key{Interface: l.ifA, Peer: l.b4}
	peer := fmt.Sprintf("peer %s local-address %s interface %s", l.a4, l.b4, l.ifB)
	rec.drain(k)
	f.vtysh(t, "configure terminal", "bfd", peer, "shutdown")
	c := rec.wait(t, k, StateDown, 2*time.Second)
	t.Logf("FRR shutdown: %v→%v diag %v remote %v", c.Old, c.New, c.Diag, c.RemoteState)
	if c.Diag != DiagNeighborDown || c.RemoteState != StateAdminDown {
		t.Errorf("FRR shutdown: diag %v remote %v, want %v and %v", c.Diag, c.RemoteState, DiagNeighborDown, StateAdminDown)
	}
	// FRR sends one AdminDown packet and stops: our detection time then
	// passes while we are Down, which is no change to report.
	time.Sleep(2 * time.Second)
	select {
	case c := <-rec.chanFor(k):
		t.Errorf("change while FRR is silent in AdminDown: %v→%v diag %v", c.Old, c.New, c.Diag)
	default:
	}
	f.vtysh(t, "configure terminal", "bfd", peer, "no shutdown")
	rec.wait(t, k, StateUp, 5*time.Second)
	waitNegotiatedKey(t, m, k)
}

// frrBlackhole drops everything on FRR's side of the link, the way a dead
// carrier does (nftables, not a link down: the interface stays up), and
// times how long our sessions take to go Down, from the moment the drop
// rules went to the kernel.
func frrBlackhole(t *testing.T, f *frr, m *Manager, rec *recorder, l *lab, keys ...Key) {
	const faults = 3
	var worst time.Duration
	for i := range faults {
		for _, k := range keys {
			waitNegotiatedKey(t, m, k)
			rec.drain(k)
		}
		at := blackhole(t, l.b, l.ifB)
		for _, k := range keys {
			c := rec.wait(t, k, StateDown, 2*time.Second)
			took := c.At.Sub(at)
			worst = max(worst, took)
			t.Logf("fault %d: %s Down after %v, diag %v", i+1, k, took.Round(time.Millisecond), c.Diag)
			if took < 0 || took > 400*time.Millisecond || c.Diag != DiagControlExpired {
				t.Errorf("fault %d: %s Down after %v, diag %v; want ≤ 400ms, %v", i+1, k, took, c.Diag, DiagControlExpired)
			}
		}
		unblackhole(t, l.b)
		waitUp(t, m)
		f.waitPeers(t, "Up again", func(ps []frrPeer) bool { return countStatus(ps, "up") == 2 })
	}
	t.Logf("blackhole: worst detection %v over %d faults × %d sessions", worst.Round(time.Millisecond), faults, len(keys))
}

// blackholeTable holds the blackhole's chains in FRR's namespace.
const blackholeTable = "ubf-blackhole"

// blackhole drops everything into and out of ifname in ns and returns
// when the batch went to the kernel. It is one netlink batch from this
// process: `ip netns exec nft` takes tens of milliseconds to start, which
// would count against us in the timed span.
func blackhole(t *testing.T, ns netns.NsHandle, ifname string) time.Time {
	t.Helper()
	c := nftIn(t, ns)
	defer c.CloseLasting()
	tb := c.AddTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: blackholeTable})
	for _, h := range []struct {
		hook *nftables.ChainHook
		key  expr.MetaKey
	}{
		{nftables.ChainHookInput, expr.MetaKeyIIFNAME},
		{nftables.ChainHookOutput, expr.MetaKeyOIFNAME},
	} {
		ch := c.AddChain(&nftables.Chain{Name: fmt.Sprintf("drop-%d", *h.hook), Table: tb, Type: nftables.ChainTypeFilter,
			Hooknum: h.hook, Priority: nftables.ChainPriorityRef(-200)})
		name := make([]byte, 16) // IFNAMSIZ, NUL padded as the kernel compares it
		copy(name, ifname)
		c.AddRule(&nftables.Rule{Table: tb, Chain: ch, Exprs: []expr.Any{
			&expr.Meta{Key: h.key, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: name},
			&expr.Verdict{Kind: expr.VerdictDrop},
		}})
	}
	at := time.Now()
	if err := c.Flush(); err != nil {
		t.Fatalf("blackhole %s: %v", ifname, err)
	}
	return at
}

func unblackhole(t *testing.T, ns netns.NsHandle) {
	t.Helper()
	c := nftIn(t, ns)
	defer c.CloseLasting()
	c.DelTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: blackholeTable})
	if err := c.Flush(); err != nil {
		t.Fatalf("remove blackhole: %v", err)
	}
}

func nftIn(t *testing.T, ns netns.NsHandle) *nftables.Conn {
	t.Helper()
	c, err := nftables.New(nftables.WithNetNSFd(int(ns)), nftables.AsLasting())
	if err != nil {
		t.Fatalf("nftables: %v", err)
	}
	return c
}

func snapshotByKey(m *Manager) map[Key]Status {
	out := map[Key]Status{}
	for _, st := range m.Snapshot() {
		out[Key{st.Interface, st.Peer}] = st
	}
	return out
}

func countStatus(ps []frrPeer, status string) int {
	n := 0
	for _, p := range ps {
		if p.Status == status {
			n++
		}
	}
	return n
}

// startFRR runs zebra and bfdd in ns as the frr user (bfdd refuses a vty
// group root is not in). Both are killed in Cleanup, before the lab's
// namespaces go.
func startFRR(t *testing.T, ns, conf string) *frr {
	t.Helper()
	u, err := user.Lookup("frr")
	if err != nil {
		t.Skipf("skipping: no frr user (%v); the frr package creates it", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	dir, err := os.MkdirTemp("", "ubf-frr-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for name, text := range map[string]string{"zebra.conf": "", "bfdd.conf": conf} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	f := &frr{ns: ns, dir: dir}
	zserv := filepath.Join(dir, "zserv.api")
	common := []string{"-z", zserv, "--vty_socket", dir, "-u", "frr", "-g", "frr", "--log", "stdout", "--log-level", "info"}
	f.daemon(t, frrZebra, append([]string{"-f", filepath.Join(dir, "zebra.conf"), "-i", filepath.Join(dir, "zebra.pid")}, common...)...)
	waitFile(t, zserv)
	f.daemon(t, frrBFDD, append([]string{"-f", filepath.Join(dir, "bfdd.conf"), "-i", filepath.Join(dir, "bfdd.pid"),
		"--bfdctl", filepath.Join(dir, "bfdd.sock")}, common...)...)
	waitFile(t, filepath.Join(dir, "bfdd.vty"))
	return f
}

func (f *frr) daemon(t *testing.T, bin string, args ...string) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command("ip", append([]string{"netns", "exec", f.ns, bin}, args...)...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(bin), lastLines(out.String(), 40))
		}
	})
}

func waitFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear within 10s", path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// vtysh runs commands against this bfdd and zebra only.
func (f *frr) vtysh(t *testing.T, cmds ...string) string {
	t.Helper()
	args := []string{"netns", "exec", f.ns, "vtysh", "--vty_socket", f.dir}
	for _, c := range cmds {
		args = append(args, "-c", c)
	}
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("vtysh %s: %v\n%s", strings.Join(cmds, "; "), err, out)
	}
	return string(out)
}

// peers returns bfdd's sessions with their counters, sorted as bfdd lists
// them.
func (f *frr) peers(t *testing.T) []frrPeer {
	t.Helper()
	var ps, cs []frrPeer
	for cmd, into := range map[string]*[]frrPeer{"show bfd peers json": &ps, "show bfd peers counters json": &cs} {
		if err := json.Unmarshal([]byte(f.vtysh(t, cmd)), into); err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
	}
	for i := range ps {
		for _, c := range cs {
			if c.Peer == ps[i].Peer {
				ps[i].SessionUp, ps[i].SessionDown = c.SessionUp, c.SessionDown
				ps[i].PacketsIn, ps[i].PacketsOut = c.PacketsIn, c.PacketsOut
			}
		}
	}
	return ps
}

func (f *frr) peersByAddr(t *testing.T) map[string]frrPeer {
	out := map[string]frrPeer{}
	for _, p := range f.peers(t) {
		out[p.Peer] = p
	}
	return out
}

// waitPeers polls bfdd until ok accepts its sessions.
func (f *frr) waitPeers(t *testing.T, what string, ok func([]frrPeer) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ps := f.peers(t)
		if ok(ps) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("FRR sessions not %s after 10s: %+v", what, ps)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
