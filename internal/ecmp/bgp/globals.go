package bgp

import (
	"context"
	"sync"
	"sync/atomic"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/server"
)

// GoBGP v3 keeps two settings of best-path selection in package variables
// (internal/pkg/table SelectionOptions and UseMultiplePaths), and every
// StartBgp writes them, while every other server reads them on its Serve
// goroutine for each update and in ListPath on the caller's. The daemon
// runs two servers (routing and announcer; the announcer restarts its own
// to withdraw in bulk), so a start raced with the other server's best-path
// runs (`go test -race`). Fixed upstream after v3.37 (osrg/gobgp#3659, the
// options move into the table manager); until then one process-wide gate
// makes every StartBgp an exclusive section:
//
//   - a start first waits for ListPath callers (listPath) to leave, and
//     keeps new ones out;
//   - then every registered Serve goroutine parks in the timing hook,
//     which GoBGP calls on that goroutine after each operation (an idle one
//     is sent a harmless GetBgp so that it gets there);
//   - StartBgp runs, the new server's loop joins, and everybody resumes.
//
// All servers write the same values (multipath on, default selection), so
// this is about memory ordering, not about which value wins. A start pauses
// the other servers for as long as their current operation takes plus a
// few microseconds. GoBGP's own gRPC API (bgp.grpc, for the gobgp CLI)
// calls ListPath outside the gate; that is left as it is.
type globalsGate struct {
	mu   sync.Mutex
	cond sync.Cond
	// writing is set for the whole exclusive section; parking once the
	// ListPath callers are out. parkNow mirrors parking for the hook's
	// lock-free fast path.
	writing, parking bool
	parkNow          atomic.Bool
	readers          int // ListPath callers inside
	loops            map[*serveLoop]*member
}

// member is a registered Serve goroutine.
type member struct {
	parked bool
	// retired: stopping; parks but gets no more pokes (see retire).
	retired bool
	pokes   int // GetBgp calls sent to wake it, not yet answered
}

var gobgpGlobals = newGlobalsGate()

func newGlobalsGate() *globalsGate {
	g := &globalsGate{loops: map[*serveLoop]*member{}}
	g.cond.L = &g.mu
	return g
}

// exclusive runs start (a StartBgp) with no other server running an
// operation and no ListPath in progress, then registers joiner, whose
// server start has just started, if ok reports so.
func (g *globalsGate) exclusive(joiner *serveLoop, start func() error) error {
	g.mu.Lock()
	for g.writing {
		g.cond.Wait()
	}
	g.writing = true
	for g.readers > 0 {
		g.cond.Wait()
	}
	g.parking = true
	g.parkNow.Store(true)
	for l, m := range g.loops {
		if !m.parked && !m.retired {
			g.poke(l, m)
		}
	}
	for !g.allParked() {
		g.cond.Wait()
	}
	g.mu.Unlock()

	err := start()

	g.mu.Lock()
	if err == nil {
		g.loops[joiner] = &member{}
	}
	g.writing, g.parking = false, false
	g.parkNow.Store(false)
	g.cond.Broadcast()
	g.mu.Unlock()
	return err
}

func (g *globalsGate) allParked() bool {
	for _, m := range g.loops {
		if !m.parked {
			return false
		}
	}
	return true
}

// poke sends an idle loop an operation so that it reaches the hook and
// parks. Called with g.mu held.
func (g *globalsGate) poke(l *serveLoop, m *member) {
	m.pokes++
	go func() {
		l.srv.GetBgp(context.Background(), &api.GetBgpRequest{})
		g.mu.Lock()
		m.pokes--
		g.cond.Broadcast()
		g.mu.Unlock()
	}()
}

// park holds l's Serve goroutine while a start is in its exclusive
// section. Called by the timing hook on that goroutine.
func (g *globalsGate) park(l *serveLoop) {
	g.mu.Lock()
	defer g.mu.Unlock()
	m := g.loops[l]
	if m == nil || !g.parking {
		return
	}
	m.parked = true
	g.cond.Broadcast()
	for g.parking && g.loops[l] == m {
		g.cond.Wait()
	}
	m.parked = false
}

// retire marks l as stopping: it gets no more pokes (the operations of its
// shutdown wake it instead), and retire returns once the pokes already
// sent were answered, so that they are not counted as the shutdown's.
func (g *globalsGate) retire(l *serveLoop) {
	g.mu.Lock()
	defer g.mu.Unlock()
	m := g.loops[l]
	if m == nil {
		return
	}
	m.retired = true
	for m.pokes > 0 {
		g.cond.Wait()
	}
}

// leave unregisters l: its Serve goroutine is ending, or was left behind.
func (g *globalsGate) leave(l *serveLoop) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.loops, l)
	g.cond.Broadcast()
}

// read runs fn, which reads GoBGP's globals on the calling goroutine, out
// of any start's exclusive section.
func (g *globalsGate) read(fn func() error) error {
	g.mu.Lock()
	for g.writing {
		g.cond.Wait()
	}
	g.readers++
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.readers--
		g.cond.Broadcast()
		g.mu.Unlock()
	}()
	return fn()
}

// startBgp starts the server run by loop with c's global settings, inside
// the gate's exclusive section.
func startBgp(ctx context.Context, loop *serveLoop, c Config) error {
	return gobgpGlobals.exclusive(loop, func() error {
		return loop.srv.StartBgp(ctx, &api.StartBgpRequest{Global: globalConfig(c)})
	})
}

// listPath is srv.ListPath through the gate.
func listPath(ctx context.Context, srv *server.BgpServer, req *api.ListPathRequest, fn func(*api.Destination)) error {
	return gobgpGlobals.read(func() error { return srv.ListPath(ctx, req, fn) })
}
