package bgp

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	bgppkt "github.com/osrg/gobgp/v3/pkg/packet/bgp"
)

// TestStopWhileReceiving stops a receiver while its session takes in a
// flood of UPDATEs, again and again. GoBGP's StopBgp cleared the global
// config that the sessions' receive loops read for every UPDATE while
// those loops still ran: a data race, which `make race` saw once in CI
// (third_party/gobgp/PATCHES.md). Under -race this test fails without the
// patch; without -race it checks that Stop returns while UPDATEs pour in.
func TestStopWhileReceiving(t *testing.T) {
	for i := range 6 {
		port := freePort(t)
		recv := startReceiver(t, addr("127.0.0.51"), port, addr("127.0.0.52"))
		f := startFlood(t, addr("127.0.0.52"), netip.AddrPortFrom(addr("127.0.0.51"), uint16(port)))
		// Stop once the session is established and UPDATEs are flowing.
		eventually(t, converge, func() string {
			if n := f.sent.Load(); n < 2000 {
				return fmt.Sprintf("round %d: %d UPDATEs sent", i, n)
			}
			return ""
		})
		stopped := make(chan struct{})
		go func() { recv.stop(); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(2 * stopWait):
			t.Fatalf("round %d: the receiver's StopBgp did not return in %v", i, 2*stopWait)
		}
		f.close()
	}
}

// flood is a bare BGP speaker that opens a session and then sends UPDATEs,
// one prefix each with its own MED, until the connection ends.
type flood struct {
	conn net.Conn
	sent atomic.Int64
	done chan struct{}
}

func startFlood(t *testing.T, local netip.Addr, to netip.AddrPort) *flood {
	t.Helper()
	d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(local, 0)), Timeout: converge}
	f := &flood{done: make(chan struct{})}
	// The receiver closes a connection that comes before its new peer
	// has left Idle: dial until one is taken.
	eventually(t, converge, func() string {
		conn, err := d.Dial("tcp", to.String())
		if err == nil {
			f.conn = conn
			if err = f.open(); err != nil {
				conn.Close()
			}
		}
		if err != nil {
			return err.Error()
		}
		return ""
	})
	go f.run()
	t.Cleanup(f.close)
	return f
}

func (f *flood) close() {
	f.conn.Close()
	<-f.done
}

func (f *flood) run() {
	defer close(f.done)
	go io.Copy(io.Discard, f.conn) // the receiver's KEEPALIVEs
	origin := bgppkt.NewPathAttributeOrigin(bgppkt.BGP_ORIGIN_ATTR_TYPE_IGP)
	path := bgppkt.NewPathAttributeAsPath([]bgppkt.AsPathParamInterface{
		bgppkt.NewAs4PathParam(bgppkt.BGP_ASPATH_ATTR_TYPE_SEQ, []uint32{announcerASN})})
	nh := bgppkt.NewPathAttributeNextHop("127.0.0.52")
	for i := 0; ; i++ {
		a := netip.AddrFrom4([4]byte{198, 18 + byte(i>>16&1), byte(i >> 8), byte(i)})
		m := bgppkt.NewBGPUpdateMessage(nil,
			[]bgppkt.PathAttributeInterface{origin, path, nh, bgppkt.NewPathAttributeMultiExitDisc(uint32(i))},
			[]*bgppkt.IPAddrPrefix{bgppkt.NewIPAddrPrefix(32, a.String())})
		if err := f.write(m); err != nil {
			return // the receiver stopped
		}
		f.sent.Add(1)
	}
}

// open sends an OPEN (4-octet AS, IPv4 unicast) and a KEEPALIVE, and
// reads the receiver's OPEN.
func (f *flood) open() error {
	caps := []bgppkt.ParameterCapabilityInterface{
		bgppkt.NewCapMultiProtocol(bgppkt.RF_IPv4_UC), bgppkt.NewCapFourOctetASNumber(announcerASN)}
	o := bgppkt.NewBGPOpenMessage(announcerASN, 90, "10.255.9.1", []bgppkt.OptionParameterInterface{bgppkt.NewOptionParameterCapability(caps)})
	if err := f.write(o); err != nil {
		return err
	}
	f.conn.SetReadDeadline(time.Now().Add(converge))
	hdr := make([]byte, bgppkt.BGP_HEADER_LENGTH)
	if _, err := io.ReadFull(f.conn, hdr); err != nil {
		return fmt.Errorf("read the receiver's OPEN: %w", err)
	}
	body := make([]byte, int(binary.BigEndian.Uint16(hdr[16:18]))-len(hdr))
	if _, err := io.ReadFull(f.conn, body); err != nil {
		return fmt.Errorf("read the receiver's OPEN: %w", err)
	}
	if hdr[18] != bgppkt.BGP_MSG_OPEN {
		return fmt.Errorf("the receiver sent message type %d, want OPEN", hdr[18])
	}
	f.conn.SetReadDeadline(time.Time{})
	return f.write(bgppkt.NewBGPKeepAliveMessage())
}

func (f *flood) write(m *bgppkt.BGPMessage) error {
	b, err := m.Serialize()
	if err != nil {
		return err
	}
	_, err = f.conn.Write(b)
	return err
}
