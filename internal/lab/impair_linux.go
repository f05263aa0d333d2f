package lab

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Impairments of a carrier that leave it up but bad, for the SLA tests and
// the bench: this machine has no netem, so loss is an nftables rule that
// drops at random and delay is a line of the lab's own, a TUN device in
// ul-inet that holds each packet from the carrier before sending it on.

// impairTable holds a carrier's random drop.
const impairTable = "uplinkd-lab-impair"

// Loss drops percent of the packets in both directions on a carrier's
// link to the home (nftables numgen random), the link staying up; 0
// removes it.
func (l *Lab) Loss(carrier string, percent int) error {
	c, closeNS, err := nftIn(l.NS(carrier))
	if err != nil {
		return err
	}
	defer closeNS()
	tables, err := c.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return err
	}
	if slices.ContainsFunc(tables, func(t *nftables.Table) bool { return t.Name == impairTable }) {
		c.DelTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: impairTable})
	}
	if percent > 0 {
		t := c.AddTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: impairTable})
		ch := c.AddChain(&nftables.Chain{Name: "loss", Table: t, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityRef(-200)})
		for _, key := range []expr.MetaKey{expr.MetaKeyIIFNAME, expr.MetaKeyOIFNAME} {
			c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: randomDrop(key, "home0", percent)})
		}
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("loss %d %% on %s: %w", percent, carrier, err)
	}
	return nil
}

// randomDrop drops percent of the packets whose interface key is ifname.
func randomDrop(key expr.MetaKey, ifname string, percent int) []expr.Any {
	name := make([]byte, 16)
	copy(name, ifname)
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: name},
		&expr.Numgen{Register: 1, Modulus: 100, Type: unix.NFT_NG_RANDOM},
		&expr.Cmp{Op: expr.CmpOpLt, Register: 1, Data: binaryutil.NativeEndian.PutUint32(uint32(percent))},
		&expr.Verdict{Kind: expr.VerdictDrop},
	}
}

// DelayLine holds the packets a carrier sends towards the internet: the
// round trip through that carrier grows by the delay. The delay ramps, up
// as it starts and down as it ends, by delayRamp a second, as a queue
// building up would: a step of 300 ms would stop the packets for 300 ms,
// which BFD (100 ms × 3) rightly calls a dead link.
type DelayLine struct {
	l       *Lab
	carrier string
	tun     *os.File
	table   string
	wg      sync.WaitGroup

	mu       sync.Mutex
	from, to time.Duration // the ramp, from → to, starting at since
	since    time.Time
	// jitter: each packet is held up to this much more, at random, but
	// never passes the one before it (a queue's jitter, no reordering).
	jitter time.Duration
	rnd    *rand.Rand
}

// delayRamp is how fast the delay changes, per second.
const delayRamp = 100 * time.Millisecond

// at is the delay at t.
func (dl *DelayLine) at(t time.Time) time.Duration {
	dl.mu.Lock()
	defer dl.mu.Unlock()
	moved := time.Duration(float64(delayRamp) * t.Sub(dl.since).Seconds())
	if dl.to >= dl.from {
		return min(dl.from+moved, dl.to)
	}
	return max(dl.from-moved, dl.to)
}

// extra is a packet's share of the jitter.
func (dl *DelayLine) extra() time.Duration {
	dl.mu.Lock()
	defer dl.mu.Unlock()
	if dl.jitter <= 0 {
		return 0
	}
	return time.Duration(dl.rnd.Int64N(int64(dl.jitter)))
}

// SetJitter makes each packet wait up to j more, at random, in order.
func (dl *DelayLine) SetJitter(j time.Duration) {
	dl.mu.Lock()
	defer dl.mu.Unlock()
	dl.jitter = j
}

// ramp moves the delay towards d from where it is, and says when it gets
// there.
func (dl *DelayLine) ramp(d time.Duration) time.Time {
	now := time.Now()
	cur := dl.at(now)
	dl.mu.Lock()
	defer dl.mu.Unlock()
	dl.from, dl.to, dl.since = cur, d, now
	return now.Add(time.Duration(float64(time.Second) * float64((d - cur).Abs()) / float64(delayRamp)))
}

// delayTable is the routing table in ul-inet that sends a carrier's
// packets into its delay line.
func delayTable(i int) string { return strconv.Itoa(300 + i) }

// Delay starts a delay line on a carrier's upstream (its packets entering
// ul-inet), ramping to d; Close ramps it down and ends it.
func (l *Lab) Delay(carrier string, d time.Duration) (*DelayLine, error) {
	i := slices.Index(Carriers, carrier)
	if i < 0 {
		return nil, fmt.Errorf("no carrier %q", carrier)
	}
	dl := &DelayLine{l: l, carrier: carrier, table: delayTable(i), rnd: rand.New(rand.NewPCG(rand.Uint64(), 0))}
	name := "dly-" + carrier
	if err := InNS(l.NS("inet"), func() (err error) { dl.tun, err = openTUN(name); return err }); err != nil {
		return nil, fmt.Errorf("delay line %s: %w", name, err)
	}
	ns := l.NS("inet")
	steps := [][]string{
		{"-n", ns, "link", "set", name, "up"},
		{"-n", ns, "route", "add", "default", "dev", name, "table", dl.table},
		// Packets from the carrier go into the line; what the line sends
		// back (iif dly-...) takes the main table.
		{"-n", ns, "rule", "add", "iif", carrier, "lookup", dl.table, "priority", dl.table},
	}
	for _, s := range steps {
		if err := run("ip", s...); err != nil {
			dl.tun.Close()
			return nil, err
		}
	}
	// The packets it sends back come in on the line but route back out
	// towards the carrier: no reverse-path filter may drop them.
	for _, dev := range []string{"all", name} {
		if err := sysctl(ns, "net/ipv4/conf/"+dev+"/rp_filter", "0"); err != nil {
			dl.Close()
			return nil, err
		}
	}
	dl.since = time.Now()
	dl.ramp(d)
	dl.wg.Add(1)
	go dl.pump()
	return dl, nil
}

// pump reads each packet, keeps it the delay of the moment and writes it
// back, in order.
func (dl *DelayLine) pump() {
	defer dl.wg.Done()
	type held struct {
		due time.Time
		pkt []byte
	}
	q := make(chan held, 8192)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for h := range q {
			time.Sleep(time.Until(h.due)) // in order: a packet due earlier waits for the one before
			dl.tun.Write(h.pkt)
		}
	}()
	buf := make([]byte, 65536)
	for {
		n, err := dl.tun.Read(buf)
		if err != nil {
			break
		}
		select {
		case q <- held{due: time.Now().Add(dl.at(time.Now()) + dl.extra()), pkt: slices.Clone(buf[:n])}:
		default: // a full line drops, like a full queue
		}
	}
	close(q)
	<-done
}

// Close ramps the delay down, then removes the line: rule, route, device.
func (dl *DelayLine) Close() error {
	dl.SetJitter(0)
	time.Sleep(time.Until(dl.ramp(0)) + 10*time.Millisecond)
	ns := dl.l.NS("inet")
	err := run("ip", "-n", ns, "rule", "del", "iif", dl.carrier, "lookup", dl.table, "priority", dl.table)
	dl.tun.Close() // ends the pump; the device and its route go with it
	dl.wg.Wait()
	return err
}

// openTUN makes a TUN device (no packet info, no offloads) in the calling
// thread's namespace.
func openTUN(name string) (*os.File, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return nil, errors.Join(fmt.Errorf("TUNSETIFF %s", name), err)
	}
	return os.NewFile(uintptr(fd), "/dev/net/tun"), nil
}

// Shape limits a carrier's link to the home to kbit kbit/s each way, as a
// carrier throttling a plan after its quota does (tc tbf on both of the
// carrier's interfaces, with a queue of shapeLatency, as a carrier's
// shaper holds one); 0 removes it.
func (l *Lab) Shape(carrier string, kbit int) error {
	for _, dev := range []string{"home0", "inet0"} {
		args := []string{"-n", l.NS(carrier), "qdisc", "replace", "dev", dev, "root", "tbf",
			"rate", fmt.Sprintf("%dkbit", kbit), "burst", "1600", "latency", shapeLatency}
		if kbit == 0 {
			args = []string{"-n", l.NS(carrier), "qdisc", "del", "dev", dev, "root"}
		}
		out, err := exec.Command("tc", args...).CombinedOutput()
		if err != nil && !(kbit == 0 && strings.Contains(string(out), "No such file")) {
			return fmt.Errorf("shape %s's %s to %d kbit/s: %v: %s", carrier, dev, kbit, err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}

// shapeLatency is how long a shaped carrier queues a packet before it
// drops it: 300 ms beyond the packet in service (at 128 kbit/s a 1400-byte
// packet alone takes 90 ms): a shallow buffer for a mobile network.
const shapeLatency = "300ms"
