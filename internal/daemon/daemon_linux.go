package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/uplinkd/uplinkd/internal/api"
	"github.com/uplinkd/uplinkd/internal/config"
	"github.com/uplinkd/uplinkd/internal/wg"
)

// Intervals of the main loop. Kernel events trigger an apply at once; the
// timer only catches what no event reported.
const (
	resyncEvery = 10 * time.Second
	kickEvery   = 250 * time.Millisecond
)

// Daemon is one running site.
type Daemon struct {
	log     *slog.Logger
	level   *slog.LevelVar
	path    string
	started time.Time
	wg      *wg.Manager

	mu        sync.Mutex
	cfg       *config.Config
	reloaded  time.Time
	reloadErr error
}

// Run serves the site described by the file at path until ctx ends. hup
// delivers reload requests. level, when set, follows the config's log_level.
func Run(ctx context.Context, path string, hup <-chan os.Signal, log *slog.Logger, level *slog.LevelVar) error {
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	m, err := wg.NewManager(log)
	if err != nil {
		return err
	}
	d := &Daemon{log: log, level: level, path: path, started: time.Now(), wg: m, cfg: cfg}
	d.setLevel(cfg)
	srv, err := api.Listen(cfg.API.Socket, cfg.API.Group, d.status, log)
	if err != nil {
		m.Close()
		return err
	}
	log.Info("uplinkd started", "role", cfg.Role, "site", cfg.Site, "config", path, "pid", os.Getpid())
	d.loop(ctx, hup)
	log.Info("stopping: removing tunnels, rules and routes")
	return errors.Join(srv.Close(), m.Close())
}

func (d *Daemon) loop(ctx context.Context, hup <-chan os.Signal) {
	links := make(chan netlink.LinkUpdate, 128)
	done := make(chan struct{})
	defer close(done)
	err := netlink.LinkSubscribeWithOptions(links, done, netlink.LinkSubscribeOptions{
		ErrorCallback: func(err error) { d.log.Warn("link events", "err", err) }})
	if err != nil {
		d.log.Warn("no link events: relying on the timer", "err", err)
	}
	d.apply("start")
	resync := time.NewTicker(resyncEvery)
	defer resync.Stop()
	kick := time.NewTicker(kickEvery)
	defer kick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			d.reload()
		case u := <-links:
			drain(links)
			d.apply("link " + u.Attrs().Name)
		case <-resync.C:
			d.apply("timer")
		case <-kick.C:
			for _, t := range d.wg.Kick() {
				d.log.Debug("handshake kicked", "tunnel", t)
			}
		}
	}
}

// drain coalesces a burst of link events into one apply.
func drain(ch <-chan netlink.LinkUpdate) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

func (d *Daemon) apply(why string) {
	d.mu.Lock()
	cfg := d.cfg
	d.mu.Unlock()
	start := time.Now()
	r, err := d.wg.Apply(wg.FromConfig(cfg))
	if err != nil {
		d.log.Warn("reconcile incomplete", "trigger", why, "err", err)
	}
	if len(r.Changes) > 0 {
		d.log.Info("reconciled", "trigger", why, "changes", len(r.Changes), "took", time.Since(start).Round(time.Microsecond))
	}
}

// reload swaps in a new config only if it loads cleanly; otherwise the old
// one keeps running and the error says where the file is wrong.
func (d *Daemon) reload() {
	cfg, err := config.Load(d.path)
	d.mu.Lock()
	d.reloadErr = err
	if err == nil {
		d.cfg, d.reloaded = cfg, time.Now()
	}
	d.mu.Unlock()
	if err != nil {
		d.log.Error("reload refused: keeping the running config", "config", d.path, "err", err)
		return
	}
	d.setLevel(cfg)
	d.log.Info("config reloaded", "config", d.path)
	d.apply("reload")
}

func (d *Daemon) setLevel(cfg *config.Config) {
	if d.level == nil {
		return
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(cfg.LogLevel)); err == nil {
		d.level.Set(l)
	}
}

func (d *Daemon) status() api.Status {
	d.mu.Lock()
	cfg, reloaded, reloadErr := d.cfg, d.reloaded, d.reloadErr
	d.mu.Unlock()
	s := api.Status{Role: string(cfg.Role), Site: cfg.Site, Started: d.started, Config: d.path,
		Tunnels: d.wg.Status(), Reloaded: reloaded}
	if err := d.wg.LastError(); err != nil {
		s.LastErr = err.Error()
	}
	if reloadErr != nil {
		s.LastErr = fmt.Sprintf("reload refused: %v", reloadErr)
	}
	return s
}
