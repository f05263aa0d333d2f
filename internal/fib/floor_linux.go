package fib

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Prebuilt is a batch of route messages built ahead, sendmsg by sendmsg:
// what the kernel itself costs for a set of routes, with no building,
// read-back or diff on the clock (the bench's floor, issue 18).
type Prebuilt struct {
	op     string
	chunks [][]byte
	seqs   [][2]uint32 // first and last sequence number of each chunk
	n      int
}

// PrebuildRoutes builds the RTM_NEWROUTE messages AddRoutes would send for
// routes (create, exclusive: the table is expected empty), in the same
// chunks, each asking an ACK of its last message only.
func (h *Handle) PrebuildRoutes(table uint32, proto uint8, routes []Route) *Prebuilt {
	return h.prebuild("route add", len(routes), nil, func(m *msgBuf, i int, seq uint32) int {
		return buildRoute(m, unix.RTM_NEWROUTE, unix.NLM_F_CREATE|unix.NLM_F_EXCL, seq, table, proto, routes[i])
	})
}

// PrebuildVia is PrebuildRoutes of a ViaSet: with Objects, its nexthop
// objects are made first as SyncSet makes them (not part of what
// SendPrebuilt times), and the routes point at them.
func (h *Handle) PrebuildVia(table uint32, proto uint8, v ViaSet) *Prebuilt {
	if v.Objects {
		h.op.Lock()
		v, _ = h.ensureVia(table, proto, v)
		h.op.Unlock()
	}
	return h.prebuild("route add", v.Len(), nil, func(m *msgBuf, i int, seq uint32) int {
		return buildRoute(m, unix.RTM_NEWROUTE, unix.NLM_F_CREATE|unix.NLM_F_EXCL, seq, table, proto, v.At(i))
	})
}

// PrebuildDeletes builds the RTM_DELROUTE messages DeleteRoutes would send
// for routes, in its order and chunks. Unlike DeleteRoutes, SendPrebuilt
// takes a route that is not there as an error: the floor deletes what it
// put in.
func (h *Handle) PrebuildDeletes(table uint32, proto uint8, routes []Route) *Prebuilt {
	return h.prebuild("route delete", len(routes), spread(len(routes)), func(m *msgBuf, i int, seq uint32) int {
		return buildDelRoute(m, seq, table, proto, routes[i].Prefix, 0)
	})
}

// prebuild builds n messages, item order(pos) at send position pos (in
// order when order is nil), into chunks of h.chunk bytes.
func (h *Handle) prebuild(op string, n int, order func(int) int, build func(m *msgBuf, i int, seq uint32) int) *Prebuilt {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := &Prebuilt{op: op, n: n}
	for pos := 0; pos < n; {
		var m msgBuf
		first := h.seq + 1
		last := 0
		for ; pos < n && len(m.b) < h.chunk; pos++ {
			i := pos
			if order != nil {
				i = order(pos)
			}
			h.seq++
			last = build(&m, i, h.seq)
		}
		m.setFlags(last, unix.NLM_F_ACK)
		p.chunks = append(p.chunks, m.b)
		p.seqs = append(p.seqs, [2]uint32{first, h.seq})
	}
	return p
}

// SendPrebuilt sends p's chunks one by one, each waiting for its ACK, and
// fails on the first error the kernel reports.
func (h *Handle) SendPrebuilt(p *Prebuilt) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, c := range p.chunks {
		if err := h.send(c); err != nil {
			return err
		}
		var first error
		err := h.collect(p.seqs[i][0], p.seqs[i][1], func(a ackInfo) {
			if first == nil {
				first = fmt.Errorf("prebuilt %s %d of %d: %w", p.op, a.seq-p.seqs[0][0]+1, p.n, a.errno)
			}
		})
		if err != nil {
			return err
		}
		if first != nil {
			return first
		}
	}
	return nil
}
