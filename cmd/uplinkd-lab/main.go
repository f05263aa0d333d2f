// Command uplinkd-lab builds and drives the demo lab: network namespaces on
// one Linux machine with two hubs, an edge on three carriers, a home 5G
// router and servers, running the uplinkd binary found beside it. It is
// not part of the router build: the daemon carries none of it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/uplinkd/uplinkd/internal/lab"
)

const usage = `usage: uplinkd-lab COMMAND [flags]

  up [-hubs N] [-hub frr|bird]
                 build the lab (two hubs by default) and print its status table;
                 -hub: one hub run by FRR or BIRD 2 over wireguard-go instead of uplinkd
  status         the status table again
  kill-hub       the demo's second step: the first hub dies, the traffic moves
  revive-hub     the third: the first hub comes back, the traffic spreads again
  down           remove it all (safe to run twice, or after a crash)

flags: -keep (up: a lab that fails stays, to look at), -edge-impl/-hub-impl auto|kernel|userspace
(up: each site's WireGuard), -dir DIR (default /run/uplinkd-lab), -daemon PATH (default: uplinkd beside this binary)
`

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(os.Stderr, "uplinkd-lab: %v\n", err)
		}
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return errors.New("no command")
	}
	fs := flag.NewFlagSet("uplinkd-lab", flag.ContinueOnError)
	dir := fs.String("dir", "", "lab directory (default /run/uplinkd-lab)")
	listen := fs.String("listen", ":8080", "whoami, whoami-udp, feeds: address to serve on")
	hubs := fs.Int("hubs", 2, "up: how many hubs (1 or 2)")
	daemon := fs.String("daemon", "", "the uplinkd binary the sites run (default: beside this one)")
	hub := fs.String("hub", "", "up: what runs the hub: uplinkd (default), frr or bird")
	keep := fs.Bool("keep", false, "up: leave a lab that failed to come up as it is")
	edgeImpl := fs.String("edge-impl", "auto", "up: the edges' WireGuard: auto, kernel or userspace")
	hubImpl := fs.String("hub-impl", "auto", "up: the uplinkd hubs' WireGuard: auto, kernel or userspace")
	verb := args[0]
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	self, _ = filepath.EvalSymlinks(self)
	if *daemon == "" {
		*daemon = filepath.Join(filepath.Dir(self), "uplinkd")
	}
	for _, impl := range []string{*edgeImpl, *hubImpl} {
		if impl != "auto" && impl != "kernel" && impl != "userspace" {
			return fmt.Errorf("-edge-impl/-hub-impl %q: want auto, kernel or userspace", impl)
		}
	}
	switch *hub {
	case "", lab.HubUplinkd, lab.HubFRR, lab.HubBIRD:
	default:
		return fmt.Errorf("-hub %q: want uplinkd, frr or bird", *hub)
	}
	if verb == "up" && *hub == "" {
		*hub = lab.HubUplinkd // not the hub of a lab already up
	}
	l := lab.New(lab.Options{Dir: *dir, Binary: *daemon, Servers: self, Hubs: *hubs, HubDaemon: *hub, Keep: *keep,
		EdgeImpl: *edgeImpl, HubImpl: *hubImpl})
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	switch verb {
	case "up":
		if _, err := os.Stat(*daemon); err != nil {
			return fmt.Errorf("the daemon: %w (build it with make build, or give -daemon)", err)
		}
		if err := l.Up(ctx, stdout); err != nil {
			return err
		}
		fmt.Fprintln(stdout)
		return l.WriteTable(stdout)
	case "status":
		return l.WriteTable(stdout)
	case "kill-hub":
		if l.PeerHub() {
			return errors.New("kill-hub needs uplinkd on both hubs (up -hubs 2)")
		}
		return l.KillHubDemo(ctx, stdout)
	case "revive-hub":
		return l.ReviveHubDemo(ctx, stdout)
	case "down":
		return l.Down()
	case "whoami": // the lab's servers, run in its namespaces
		return lab.ServeWhoAmI(ctx, *listen)
	case "whoami-udp":
		return lab.ServeUDPWhoAmI(ctx, *listen)
	case "feeds":
		return lab.ServeFeeds(ctx, *listen)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", verb, usage)
}
