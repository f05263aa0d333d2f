package fib

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Prebuilt is a route install built ahead, sendmsg by sendmsg: what the
// kernel itself costs for a set of routes, with no building, read-back or
// diff on the clock (the bench's floor, issue 18).
type Prebuilt struct {
	chunks [][]byte
	seqs   [][2]uint32 // first and last sequence number of each chunk
	n      int
}

// PrebuildRoutes builds the RTM_NEWROUTE messages AddRoutes would send for
// routes (create, exclusive: the table is expected empty), in the same
// chunks, each asking an ACK of its last message only.
func (h *Handle) PrebuildRoutes(table uint32, proto uint8, routes []Route) *Prebuilt {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := &Prebuilt{n: len(routes)}
	for start := 0; start < len(routes); {
		var m msgBuf
		first := h.seq + 1
		last := 0
		for ; start < len(routes) && len(m.b) < h.chunk; start++ {
			h.seq++
			last = buildRoute(&m, unix.RTM_NEWROUTE, unix.NLM_F_CREATE|unix.NLM_F_EXCL, h.seq, table, proto, routes[start])
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
				first = fmt.Errorf("prebuilt route %d of %d: %w", a.seq-p.seqs[0][0]+1, p.n, a.errno)
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
