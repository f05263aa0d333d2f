package fib

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

const (
	// sockBuf is asked for both directions: a 256 KiB chunk holds ~4 k
	// messages, and if all of them fail their error reports must still fit.
	sockBuf = 32 << 20
	// maxChunk bounds one sendmsg; the kernel refuses more than sk_sndbuf.
	maxChunk = 256 << 10
	// recvBuf is larger than the 32 KiB the kernel fills per dump skb.
	recvBuf = 1 << 20
	// recvTimeout bounds the wait for one datagram: the kernel answers in
	// microseconds, so silence this long means something is badly wrong, and
	// a reconciler should get an error rather than hang.
	recvTimeout = 10 * time.Second
)

// errDumpInterrupted means the table changed during a dump (NLM_F_DUMP_INTR).
var errDumpInterrupted = errors.New("dump interrupted by a concurrent change")

// Handle is an rtnetlink socket. It stays bound to the network namespace
// it was opened in, whatever thread later uses it. Safe for concurrent use.
type Handle struct {
	// op serializes multi-step operations (read back, then change) so two
	// reconcilers sharing a Handle cannot interleave; mu guards the socket.
	op    sync.Mutex
	mu    sync.Mutex
	fd    int
	seq   uint32
	chunk int
	rbuf  []byte
	wbuf  msgBuf
	// dumpHints maps a table to the size of its last dump.
	dumpHints sync.Map
	// sends counts sendmsg calls: each is a round trip to the kernel (a
	// failover's cost, asserted by tests).
	sends atomic.Int64
}

// Open opens an rtnetlink socket in the calling thread's network namespace.
func Open() (*Handle, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("open rtnetlink socket: %w", err)
	}
	h := &Handle{fd: fd, seq: uint32(time.Now().UnixNano()), rbuf: make([]byte, recvBuf)}
	if err := h.setup(); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return h, nil
}

// setup binds the socket and sizes its buffers.
func (h *Handle) setup() error {
	if err := unix.Bind(h.fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("bind rtnetlink socket: %w", err)
	}
	h.chunk = min(maxChunk, setBuf(h.fd, unix.SO_SNDBUFFORCE, unix.SO_SNDBUF)/2)
	setBuf(h.fd, unix.SO_RCVBUFFORCE, unix.SO_RCVBUF)
	// Extended acks carry the kernel's reason; capped acks keep error reports
	// small; strict checking makes the kernel filter dumps by table and protocol.
	// All three are best effort: older kernels lack them and still work.
	for _, opt := range []int{unix.NETLINK_EXT_ACK, unix.NETLINK_CAP_ACK, unix.NETLINK_GET_STRICT_CHK} {
		_ = unix.SetsockoptInt(h.fd, unix.SOL_NETLINK, opt, 1)
	}
	tv := unix.NsecToTimeval(recvTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(h.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return fmt.Errorf("set rtnetlink receive timeout: %w", err)
	}
	return nil
}

// setBuf enlarges a socket buffer past rmem_max/wmem_max when root, and
// returns the size the kernel granted.
func setBuf(fd, force, plain int) int {
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, force, sockBuf) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, plain, sockBuf)
	}
	get := unix.SO_SNDBUF
	if plain == unix.SO_RCVBUF {
		get = unix.SO_RCVBUF
	}
	n, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, get)
	if err != nil || n < 64<<10 {
		return 64 << 10
	}
	return n
}

// Close closes the socket.
func (h *Handle) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fd < 0 {
		return nil
	}
	err := unix.Close(h.fd)
	h.fd = -1
	return err
}

// Sends is how many sendmsg calls the handle made, each a round trip to
// the kernel (for tests: what a failover costs).
func (h *Handle) Sends() int64 { return h.sends.Load() }

// send writes one run of messages in a single sendmsg.
func (h *Handle) send(b []byte) error {
	h.sends.Add(1)
	for {
		err := unix.Sendto(h.fd, b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
		if err != unix.EINTR {
			return err
		}
	}
}

// recv reads one datagram of messages.
func (h *Handle) recv() ([]byte, error) {
	for {
		n, _, err := unix.Recvfrom(h.fd, h.rbuf, 0)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return nil, fmt.Errorf("no answer from the kernel within %v", recvTimeout)
		case err == unix.ENOBUFS:
			return nil, fmt.Errorf("receive queue overflowed, kernel reports were lost: %w", err)
		case err != nil:
			return nil, err
		}
		return h.rbuf[:n], nil
	}
}

// nlmsg is one received message.
type nlmsg struct {
	typ, flags uint16
	seq        uint32
	data       []byte
}

// messages splits a datagram into messages.
func messages(b []byte, fn func(m nlmsg) error) error {
	for len(b) >= unix.SizeofNlMsghdr {
		l := int(ne.Uint32(b))
		if l < unix.SizeofNlMsghdr || l > len(b) {
			return fmt.Errorf("malformed netlink message (length %d of %d)", l, len(b))
		}
		m := nlmsg{typ: ne.Uint16(b[4:]), flags: ne.Uint16(b[6:]), seq: ne.Uint32(b[8:]), data: b[unix.SizeofNlMsghdr:l]}
		if err := fn(m); err != nil {
			return err
		}
		b = b[min(align(l), len(b)):]
	}
	return nil
}

// ackInfo is a decoded NLMSG_ERROR: errno 0 is a plain ACK.
type ackInfo struct {
	seq   uint32 // sequence number of the message it answers
	errno unix.Errno
	msg   string // NLMSGERR_ATTR_MSG
}

// parseAck decodes an NLMSG_ERROR payload. With NETLINK_CAP_ACK the
// original message is reduced to its header, so the TLVs follow it directly.
func parseAck(m nlmsg) ackInfo {
	if len(m.data) < 4+unix.SizeofNlMsghdr {
		return ackInfo{seq: m.seq, errno: unix.EBADMSG}
	}
	a := ackInfo{seq: m.seq, errno: unix.Errno(-int32(ne.Uint32(m.data)))}
	if m.flags&unix.NLM_F_ACK_TLVS == 0 {
		return a
	}
	skip := 4 + unix.SizeofNlMsghdr
	if m.flags&unix.NLM_F_CAPPED == 0 {
		skip = 4 + int(ne.Uint32(m.data[4:]))
	}
	if skip > len(m.data) {
		return a
	}
	tlvs := m.data[skip:]
	attrs(tlvs, func(typ uint16, d []byte) {
		if typ == unix.NLMSGERR_ATTR_MSG {
			a.msg = cString(d)
		}
	})
	return a
}

func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// nextSeq reserves n sequence numbers and returns the first.
func (h *Handle) nextSeq(n int) uint32 {
	first := h.seq + 1
	h.seq += uint32(n)
	return first
}
