package lab

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/uplinkd/uplinkd/internal/api"
)

// FlowKbps is the rate of one Uploader flow: flowChunk bytes every
// flowTickMs, 2 Mbit/s.
const (
	flowChunk  = 2000
	flowTickMs = 8
	FlowKbps   = flowChunk * 8 / flowTickMs
)

// Uploader runs TCP flows from the LAN host to a sink on ul-web, each
// paced at 2 Mbit/s (enough to fill a throttled carrier, little enough to
// leave the lab's CPUs to the daemons).
type Uploader struct {
	l     *Lab
	ln    net.Listener
	done  chan struct{}
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
	flows int   // running
	ended error // why the last flow that ended did
}

// StartUploads starts the sink on ul-web; Add starts flows to it.
func (l *Lab) StartUploads() (*Uploader, error) {
	u := &Uploader{l: l, done: make(chan struct{})}
	if err := InNS(l.NS("web"), func() (err error) {
		u.ln, err = net.Listen("tcp", net.JoinHostPort(WebAddr, strconv.Itoa(UploadPort)))
		return err
	}); err != nil {
		return nil, fmt.Errorf("upload sink: %w", err)
	}
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		for {
			c, err := u.ln.Accept()
			if err != nil {
				return
			}
			u.keep(c)
			go io.Copy(io.Discard, c)
		}
	}()
	return u, nil
}

// UploadPort is where the upload sink listens on ul-web.
const UploadPort = 9099

func (u *Uploader) keep(c net.Conn) { u.mu.Lock(); u.conns = append(u.conns, c); u.mu.Unlock() }

// Flows is how many flows Add started that are still running.
func (u *Uploader) Flows() int { u.mu.Lock(); defer u.mu.Unlock(); return u.flows }

// Ended says why the last flow that ended (its connection reset or
// closed) did; nil while none has.
func (u *Uploader) Ended() error { u.mu.Lock(); defer u.mu.Unlock(); return u.ended }

// end takes a flow whose write failed for good out of the count.
func (u *Uploader) end(err error) {
	u.mu.Lock()
	u.flows--
	u.ended = err
	u.mu.Unlock()
}

// Add starts one more flow from the LAN host.
func (u *Uploader) Add() error {
	c, err := u.l.DialFrom("lan", "tcp", u.ln.Addr().String(), 2*time.Second)
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	u.keep(c)
	u.mu.Lock()
	u.flows++
	u.mu.Unlock()
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		buf := make([]byte, flowChunk)
		tick := time.NewTicker(flowTickMs * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-u.done:
				return
			case <-tick.C:
			}
			c.SetWriteDeadline(time.Now().Add(time.Second))
			// A flow on the throttled carrier just falls behind (its
			// write times out); any other error ends it.
			if _, err := c.Write(buf); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
				u.end(err)
				return
			}
		}
	}()
	return nil
}

// Stop ends every flow and the sink.
func (u *Uploader) Stop() {
	select {
	case <-u.done:
		return
	default:
	}
	close(u.done)
	u.ln.Close()
	u.mu.Lock()
	for _, c := range u.conns {
		c.Close()
	}
	u.mu.Unlock()
	u.wg.Wait()
}

// LoadCarrier adds flows one by one until n are on link (the edge's SLA
// status shows it carrying at least n × 2 Mbit/s less 0.5): one or two TCP
// flows fill a 128 kbit/s carrier, more would keep its queue overflowing,
// and BFD's packets would be lost with it. The link must be probed.
func (l *Lab) LoadCarrier(u *Uploader, link string, n int, limit time.Duration) error {
	want := float64(n*FlowKbps - 500)
	deadline := time.Now().Add(limit)
	for {
		st, err := api.NewClient(l.Socket("edge")).Status()
		if err != nil {
			return err
		}
		for _, s := range st.SLA {
			if s.Link == link && s.RateKbps >= want {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not %d flows on %s after %d flows and %s (a flow that ended: %v)", n, link, u.Flows(), limit, u.Ended())
		}
		if err := u.Add(); err != nil {
			return err
		}
		time.Sleep(500 * time.Millisecond)
	}
}
