package daemon

import (
	"net/netip"
	"sync"

	"github.com/uplinkd/uplinkd/internal/bfd"
	"github.com/uplinkd/uplinkd/internal/probe"
	"github.com/uplinkd/uplinkd/internal/sla"
)

// slaPinger probes a tunnel for the SLA monitor by its BFD session's
// timestamps while they work (a probe rides on a packet BFD sends anyway:
// no packet of its own; issue 17), and by ICMP echo to the far end's
// tunnel address otherwise (BFD off, a BIRD or FRR peer, the frugal
// mode's idle rate, a session not Up). Each reply says which (Via). A
// tunnel only measured, not judged (no limit), gets no ICMP echo: its
// probe is skipped where BFD cannot carry it (sla.ErrSkip), so that
// measuring costs next to nothing.
type slaPinger struct {
	st     *bfd.Stamper // nil: BFD's timestamps are not tried
	icmpOK bool         // fall back to ICMP echo
	dst    netip.Addr
	out    chan probe.Reply
	done   chan struct{}
	wg     sync.WaitGroup

	mu         sync.Mutex
	seq        int
	icmp       *probe.Pipe // opened when first needed
	bySt, byIC map[int]int // the prober's sequence → ours
	closed     bool
}

func newSLAPinger(st *bfd.Stamper, dst netip.Addr, icmpOK bool) *slaPinger {
	p := &slaPinger{st: st, dst: dst, icmpOK: icmpOK, out: make(chan probe.Reply, 64), done: make(chan struct{}),
		bySt: map[int]int{}, byIC: map[int]int{}}
	if st != nil {
		p.wg.Add(1)
		go p.forwardStamps()
	}
	return p
}

// Send probes once, by BFD if it can, else by ICMP, and returns our
// sequence number.
func (p *slaPinger) Send() (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seq++
	ours := p.seq
	if p.st != nil {
		if s, err := p.st.Send(); err == nil {
			p.bySt[s] = ours
			prune(p.bySt, s)
			return ours, nil
		}
	}
	if !p.icmpOK {
		return ours, sla.ErrSkip
	}
	if p.icmp == nil {
		pipe, err := probe.NewICMPPipe(p.dst, "")
		if err != nil {
			return ours, err
		}
		p.icmp = pipe
		p.wg.Add(1)
		go p.forwardICMP(pipe)
	}
	s, err := p.icmp.Send()
	if err != nil {
		return ours, err
	}
	p.byIC[s] = ours
	prune(p.byIC, s)
	return ours, nil
}

// prune forgets probes far behind the latest: lost, and timed out in the
// monitor long ago.
func prune(m map[int]int, latest int) {
	if len(m) > 256 {
		for s := range m {
			if s < latest-128 {
				delete(m, s)
			}
		}
	}
}

func (p *slaPinger) forwardStamps() {
	defer p.wg.Done()
	for {
		select {
		case <-p.done:
			return
		case e := <-p.st.Echoes():
			p.forward(p.bySt, e.Seq, probe.Reply{At: e.At, RTT: max(e.RTT, 1), Via: "bfd"})
		}
	}
}

func (p *slaPinger) forwardICMP(pipe *probe.Pipe) {
	defer p.wg.Done()
	for r := range pipe.Replies() {
		p.forward(p.byIC, r.Seq, r)
	}
}

// forward hands on a reply under our sequence number.
func (p *slaPinger) forward(m map[int]int, seq int, r probe.Reply) {
	p.mu.Lock()
	ours, ok := m[seq]
	delete(m, seq)
	p.mu.Unlock()
	if !ok {
		return
	}
	r.Seq = ours
	select {
	case p.out <- r:
	case <-p.done:
	}
}

func (p *slaPinger) Replies() <-chan probe.Reply { return p.out }

// Close stops both probers; Replies is closed once they are.
func (p *slaPinger) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.done)
	var err error
	if p.icmp != nil {
		err = p.icmp.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	close(p.out)
	return err
}
