// Package dnstest is a DNS server on loopback for tests: it answers from a
// zone given as records in zone-file syntax, following CNAMEs within the
// zone the way a recursive resolver would.
package dnstest

import (
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// Server answers on Addr over UDP and TCP until Stop or the test's end.
type Server struct {
	Addr string // 127.0.0.1:port

	mu          sync.Mutex
	zone        []dns.RR
	rcode       int  // when set, the answer to every question
	truncateUDP bool // every UDP answer comes back truncated and empty
	udp, tcp    *dns.Server
	stopOnce    sync.Once
}

// Start serves records ("media.example.net. 60 IN A 192.0.2.1") on a
// random loopback port.
func Start(t testing.TB, records ...string) *Server {
	t.Helper()
	s := &Server{}
	s.Set(t, records...)
	pc, ln := listen(t)
	s.Addr = pc.LocalAddr().String()
	h := dns.HandlerFunc(s.serve)
	s.udp = &dns.Server{PacketConn: pc, Handler: h}
	s.tcp = &dns.Server{Listener: ln, Handler: h}
	started := make(chan struct{}, 2)
	s.udp.NotifyStartedFunc = func() { started <- struct{}{} }
	s.tcp.NotifyStartedFunc = func() { started <- struct{}{} }
	go s.udp.ActivateAndServe()
	go s.tcp.ActivateAndServe()
	<-started
	<-started
	t.Cleanup(s.Stop)
	return s
}

// listen binds UDP and TCP on one loopback port, so that a client falling
// back to TCP finds the same server.
func listen(t testing.TB) (net.PacketConn, net.Listener) {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln
		}
		pc.Close()
	}
	t.Fatal("no loopback port free for both UDP and TCP")
	return nil, nil
}

// Set replaces the zone.
func (s *Server) Set(t testing.TB, records ...string) {
	t.Helper()
	var zone []dns.RR
	for _, r := range records {
		rr, err := dns.NewRR(r)
		if err != nil {
			t.Fatalf("record %q: %v", r, err)
		}
		zone = append(zone, rr)
	}
	s.mu.Lock()
	s.zone = zone
	s.mu.Unlock()
}

// Fail makes every answer carry rcode (e.g. dns.RcodeServerFailure); 0
// serves the zone again.
func (s *Server) Fail(rcode int) { s.mu.Lock(); s.rcode = rcode; s.mu.Unlock() }

// TruncateUDP makes every UDP answer empty and truncated, as a resolver
// does for an answer too big for a datagram.
func (s *Server) TruncateUDP() { s.mu.Lock(); s.truncateUDP = true; s.mu.Unlock() }

// Stop closes the sockets: from then on queries go unanswered (on
// loopback, UDP gets a port unreachable at once).
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		s.udp.Shutdown()
		s.tcp.Shutdown()
	})
}

func (s *Server) serve(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.rcode != 0:
		m.Rcode = s.rcode
	case s.truncateUDP && w.LocalAddr().Network() == "udp":
		m.Truncated = true
	case len(req.Question) == 1:
		m.Answer, m.Rcode = s.answer(req.Question[0])
	}
	w.WriteMsg(m)
}

// answer follows CNAMEs from the question's name and adds the records of
// its type at the end of the chain; a name absent from the zone is
// NXDOMAIN.
func (s *Server) answer(q dns.Question) ([]dns.RR, int) {
	owner, known := q.Name, false
	var out []dns.RR
	for range 10 {
		var next string
		for _, rr := range s.zone {
			h := rr.Header()
			if !strings.EqualFold(h.Name, owner) {
				continue
			}
			known = true
			switch {
			case h.Rrtype == q.Qtype:
				out = append(out, rr)
			case h.Rrtype == dns.TypeCNAME:
				out = append(out, rr)
				next = rr.(*dns.CNAME).Target
			}
		}
		if next == "" {
			break
		}
		owner = next
	}
	if !known {
		return nil, dns.RcodeNameError
	}
	return out, dns.RcodeSuccess
}
