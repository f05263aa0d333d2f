package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/uplinkd/uplinkd/internal/api"
	"github.com/uplinkd/uplinkd/internal/breakout"
	"github.com/uplinkd/uplinkd/internal/breakout/lkg"
	"github.com/uplinkd/uplinkd/internal/breakout/routefile"
	"github.com/uplinkd/uplinkd/internal/breakout/source"
	"github.com/uplinkd/uplinkd/internal/config"
	"github.com/uplinkd/uplinkd/internal/daemon"
	"github.com/uplinkd/uplinkd/internal/fib"
)

func cmdBreakout(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("breakout needs fetch, diff or accept")
	}
	fs := flag.NewFlagSet("breakout "+args[0], flag.ContinueOnError)
	path := configFlag(fs)
	out := fs.String("out", "", "fetch: directory for the route files")
	all := fs.Bool("all", false, "accept: every held update")
	sock := fs.String("socket", "", "accept: the daemon's control socket (instead of reading it from the config)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if args[0] == "accept" {
		return acceptHeld(*path, *sock, fs.Args(), *all, stdout)
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	if !cfg.Breakout.Enabled() {
		return fmt.Errorf("%s has no [breakout] section", *path)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	switch args[0] {
	case "fetch":
		if *out == "" {
			return errors.New("fetch needs --out DIR")
		}
		return fetchRouteFiles(cfg, *out, stdout, log)
	case "diff":
		return diffBreakout(cfg, stdout, log)
	}
	return fmt.Errorf("unknown breakout verb %q: use fetch, diff or accept", args[0])
}

// acceptHeld asks the running daemon, through its control socket, to take
// the update a source holds once (`uplinkd breakout accept SOURCE`), or
// every held update with --all.
func acceptHeld(path, sock string, args []string, all bool, stdout io.Writer) error {
	source := ""
	switch {
	case all && len(args) == 0:
	case !all && len(args) == 1:
		source = args[0]
	default:
		return errors.New("accept needs one SOURCE (as status names it), or --all")
	}
	if sock == "" {
		cfg, err := config.Load(path)
		if err != nil {
			return err
		}
		sock = cfg.API.Socket
	}
	res, err := api.NewClient(sock).Accept(source)
	if err != nil {
		return err
	}
	if len(res.Accepted) == 0 {
		fmt.Fprintln(stdout, "no source holds an update")
	}
	for _, name := range res.Accepted {
		fmt.Fprintf(stdout, "%s: held update taken; later updates are guarded again\n", name)
	}
	if res.InstallError != "" {
		return fmt.Errorf("taken, but the install failed (the daemon retries): %s", res.InstallError)
	}
	return nil
}

// fetchAll refreshes every source once into a throwaway store and returns
// each source's entries; a source that fails is an error that names it.
func fetchAll(cfg *config.Config, log *slog.Logger) (map[string][]breakout.Entry, error) {
	dir, err := os.MkdirTemp("", "uplinkd-fetch")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	store, err := lkg.Open(dir, log)
	if err != nil {
		return nil, err
	}
	plan := daemon.BreakoutPlan(cfg)
	r := &source.Refresher{Fetcher: plan.Fetcher, Store: store, Log: log, Limits: plan.Limits}
	got := map[string][]breakout.Entry{}
	var errs []error
	for _, src := range plan.Sources {
		if o := r.Refresh(context.Background(), src); o.Err != nil {
			errs = append(errs, fmt.Errorf("source %s: %w", src.Spec.Name, o.Err))
			continue
		}
		st, _ := store.Get(src.Spec.Name)
		got[src.Spec.Name] = st.Entries
	}
	return got, errors.Join(errs...)
}

// fetchRouteFiles writes one seed-format YAML file per source, in a stable
// order, so that a scheduled job's git diff shows only real changes.
func fetchRouteFiles(cfg *config.Config, dir string, stdout io.Writer, log *slog.Logger) error {
	got, err := fetchAll(cfg, log)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, s := range cfg.Breakout.Sources {
		es, ok := got[s.Name]
		if !ok {
			continue
		}
		name := s.Name + ".yml"
		if len(es) > 0 && es[0].Name() != "" && s.Type != "dns" { // a dns source's entries name many hosts
			name = routefile.FileName(es[0])
		}
		changed, werr := routefile.WriteFile(filepath.Join(dir, name), es)
		if werr != nil {
			err = errors.Join(err, werr)
			continue
		}
		state := "unchanged"
		if changed {
			state = "written"
		}
		fmt.Fprintf(stdout, "%-24s %6d routes  %s  %s\n", s.Name, len(es), filepath.Join(dir, name), state)
	}
	return err
}

// diffBreakout compiles the fetched sources as the daemon would and
// compares the result with the breakout table in the kernel.
func diffBreakout(cfg *config.Config, stdout io.Writer, log *slog.Logger) error {
	got, err := fetchAll(cfg, log)
	if err != nil {
		fmt.Fprintf(stdout, "warning: %v (the daemon would keep those sources' last good sets)\n", err)
	}
	plan := daemon.BreakoutPlan(cfg)
	var all []breakout.Entry
	for _, es := range got {
		for _, e := range es {
			// As the engine does: no IPv6 next hop, no IPv6 breakout.
			if e.Prefix().Addr().Is6() && !plan.Gateway6.IsValid() && !plan.Gateway.Is6() {
				continue
			}
			all = append(all, e)
		}
	}
	installed, err := installedBreakout(uint32(cfg.Breakout.Table))
	if err != nil {
		return err
	}
	res, cerr := breakout.Compile(all, breakout.Options{Guards: plan.Guards, Previous: installed, Force: true})
	if cerr != nil {
		return cerr
	}
	fmt.Fprintf(stdout, "installed %d, would install %d: +%d -%d (%d entries rejected)\n",
		len(installed), len(res.Prefixes), len(res.Add), len(res.Del), len(res.Rejected))
	listSome(stdout, "+", res.Add)
	listSome(stdout, "-", res.Del)
	return nil
}

func installedBreakout(table uint32) ([]netip.Prefix, error) {
	h, err := fib.Open()
	if err != nil {
		return nil, fmt.Errorf("read the breakout table (run it in the edge's network namespace, as root): %w", err)
	}
	defer h.Close()
	routes, err := h.Dump(table, config.RouteProtocol)
	if err != nil {
		return nil, err
	}
	ps := make([]netip.Prefix, len(routes))
	for i, r := range routes {
		ps[i] = r.Prefix
	}
	return ps, nil
}

func listSome(w io.Writer, sign string, ps []netip.Prefix) {
	for i, p := range ps {
		if i == 20 {
			fmt.Fprintf(w, "  %s… and %d more\n", sign, len(ps)-20)
			return
		}
		fmt.Fprintf(w, "  %s%s\n", sign, p)
	}
}
