package bgp

import (
	"context"
	"runtime"
	"sync/atomic"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/server"
)

// serveLoop owns the goroutine running GoBGP's BgpServer.Serve.
//
// GoBGP v3 has no way to end Serve: after StopBgp it blocks forever on its
// management channel, one goroutine leaked per stopped server. GoBGP calls
// its timing hook on that goroutine after every management operation, so
// the hook can end it with runtime.Goexit once the server is stopped and
// one last, harmless operation (GetBgp) has been answered.
type serveLoop struct {
	srv     *server.BgpServer
	mgmtOps atomic.Int64 // management operations finished by Serve
	exit    atomic.Bool  // set: end Serve after the next operation
	done    chan struct{}
}

var _ server.FSMTimingHook = (*serveLoop)(nil)

// newServeLoop makes the timing hook a server is built with; serve then
// runs that server.
func newServeLoop() *serveLoop {
	return &serveLoop{done: make(chan struct{})}
}

// Observe runs on the Serve goroutine after every operation: it parks there
// while another server starts (see globalsGate), and ends Serve once asked.
func (l *serveLoop) Observe(op server.FSMOperation, _, _ time.Duration) {
	if gobgpGlobals.parkNow.Load() {
		gobgpGlobals.park(l)
	}
	if op != server.FSMMgmtOp {
		return
	}
	l.mgmtOps.Add(1)
	if l.exit.Load() {
		gobgpGlobals.leave(l)
		close(l.done)
		runtime.Goexit()
	}
}

// serve runs srv's Serve on its own goroutine.
func (l *serveLoop) serve(srv *server.BgpServer) {
	l.srv = srv
	go srv.Serve()
}

// retire is the first step of a shutdown, before its mark is taken: see
// globalsGate.retire.
func (l *serveLoop) retire() { gobgpGlobals.retire(l) }

// stopBgpOps is how many management operations StopBgp sends: the
// neighbors' removal, then (third_party/gobgp's patch) the reset of the
// global config once their FSM goroutines are gone.
const stopBgpOps = 2

// end ends the Serve goroutine of a stopped server. pending is how many
// management operations must have finished since mark: StopBgp's and the
// watcher's unregistration, which its goroutine sends on its own once the
// watch context is cancelled; it must be served before Serve ends or that
// goroutine would block forever. mark may lag by the operation just before
// it, so end also waits for a short quiet spell. If all this does not come
// within wait, Serve is left running rather than risk it. The last
// operation is sent from its own goroutine, so that Stop can never hang on
// a server that is gone.
func (l *serveLoop) end(mark, pending int64, wait time.Duration) bool {
	const quiet = 20 * time.Millisecond
	deadline := time.Now().Add(wait)
	seen, since := l.mgmtOps.Load(), time.Now()
	for seen < mark+pending || time.Since(since) < quiet {
		if time.Now().After(deadline) {
			gobgpGlobals.leave(l) // left behind: starts must not wait for it
			return false
		}
		time.Sleep(time.Millisecond)
		if n := l.mgmtOps.Load(); n != seen {
			seen, since = n, time.Now()
		}
	}
	l.exit.Store(true)
	go l.srv.GetBgp(context.Background(), &api.GetBgpRequest{})
	select {
	case <-l.done:
		return true
	case <-time.After(wait):
		gobgpGlobals.leave(l)
		return false
	}
}
