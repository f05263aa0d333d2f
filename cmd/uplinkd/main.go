// Command uplinkd runs a home edge or its VPS hub: WireGuard tunnels pinned
// to mobile carriers, eBGP ECMP over them and breakout prefixes. See
// README.md for the model and `uplinkd help` for the commands.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/uplinkd/uplinkd/internal/api"
	"github.com/uplinkd/uplinkd/internal/config"
	"github.com/uplinkd/uplinkd/internal/daemon"
	"github.com/uplinkd/uplinkd/internal/wg"
)

const usage = `usage: uplinkd COMMAND [flags]

  run -c FILE          run a site (edge or hub) until SIGTERM; SIGHUP reloads
  check -c FILE        validate a config file and print a summary
  status -c FILE       tunnels, ECMP and breakout of the running daemon (--json)
  explain -c FILE IP   which route the kernel uses for IP, and why
  breakout fetch -c FILE --out DIR   write each source as a seed-format route file
  breakout diff -c FILE              what an update would add and remove
  breakout accept -c FILE SOURCE     take a source's held feed update, once (--all: every one)
  genkey               print a new WireGuard private key (as wg genkey)
  pubkey               read a private key on stdin, print its public key
  version              print the version
`

// defaultConfig is where a deployed site keeps its file.
const defaultConfig = "/etc/uplinkd/uplinkd.toml"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmds := map[string]func([]string, io.Reader, io.Writer, io.Writer) error{
		"run": cmdRun, "check": cmdCheck, "status": cmdStatus,
		"genkey": cmdGenkey, "pubkey": cmdPubkey,
		"explain": cmdExplain, "breakout": cmdBreakout, "version": cmdVersion,
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
			fmt.Fprint(stdout, usage)
			return 0
		}
		fmt.Fprintf(stderr, "uplinkd: unknown command %q\n%s", args[0], usage)
		return 2
	}
	if err := cmd(args[1:], stdin, stdout, stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stderr, "uplinkd %s: %v\n", args[0], err)
		}
		return 1
	}
	return 0
}

func configFlag(fs *flag.FlagSet) *string {
	return fs.String("c", defaultConfig, "config file")
}

func cmdRun(args []string, _ io.Reader, _, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	path := configFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	level := new(slog.LevelVar)
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	return daemon.Run(ctx, *path, hup, log, level)
}

func cmdCheck(args []string, _ io.Reader, stdout, _ io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	path := configFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := config.Load(*path)
	if err != nil {
		var list config.ErrorList
		if errors.As(err, &list) {
			for _, e := range list {
				fmt.Fprintln(stdout, e)
			}
			return fmt.Errorf("%d error(s) in %s; nothing was changed", len(list), *path)
		}
		return err
	}
	fmt.Fprint(stdout, cfg.Summary())
	return nil
}

func cmdStatus(args []string, _ io.Reader, stdout, _ io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	path := configFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	sock := fs.String("socket", "", "the daemon's control socket (instead of reading it from the config)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *sock == "" {
		cfg, err := config.Load(*path)
		if err != nil {
			return err
		}
		*sock = cfg.API.Socket
	}
	st, err := api.NewClient(*sock).Status()
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	return api.WriteStatus(stdout, st, time.Now())
}

func cmdExplain(args []string, _ io.Reader, stdout, _ io.Writer) error {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	path := configFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("explain needs one address, e.g. uplinkd explain -c FILE 3.112.0.1")
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	e, err := api.NewClient(cfg.API.Socket).Explain(fs.Arg(0))
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(e)
	}
	if e.Kernel != "" {
		fmt.Fprintf(stdout, "kernel: %s\n", e.Kernel)
	}
	for _, l := range e.Lines {
		fmt.Fprintln(stdout, l)
	}
	return nil
}

func cmdGenkey(_ []string, _ io.Reader, stdout, _ io.Writer) error {
	k, err := wg.GenKey()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, k)
	return err
}

func cmdPubkey(_ []string, stdin io.Reader, stdout, _ io.Writer) error {
	b, err := io.ReadAll(io.LimitReader(stdin, 1024))
	if err != nil {
		return err
	}
	k, err := wg.PubKey(string(b))
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, k)
	return err
}
