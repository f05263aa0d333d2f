package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/uplinkd/uplinkd/internal/fib"
	"github.com/uplinkd/uplinkd/internal/lab"
)

// benchNS is a fresh namespace of the bench's own (ubn-*), with one veth
// pair whose gateway is on-link, so routes "via gw dev dev" install.
type benchNS struct {
	name string
	dev  string
	gw   string
	link int // ifindex of dev
}

// newBenchNS creates ubn-<suffix>, replacing a leftover of a crashed run.
func newBenchNS(suffix string) (*benchNS, error) {
	ns := &benchNS{name: "ubn-" + suffix, dev: "bx0", gw: "198.18.200.2"}
	delNS(ns.name)
	if err := sh("ip", "netns", "add", ns.name); err != nil {
		return nil, err
	}
	addCleanup(func() { delNS(ns.name) })
	steps := [][]string{
		{"-n", ns.name, "link", "set", "lo", "up"},
		{"-n", ns.name, "link", "add", ns.dev, "type", "veth", "peer", "name", ns.dev + "p"},
		{"-n", ns.name, "addr", "add", "198.18.200.1/24", "dev", ns.dev},
		{"-n", ns.name, "link", "set", ns.dev, "up"},
		{"-n", ns.name, "link", "set", ns.dev + "p", "up"},
	}
	for _, s := range steps {
		if err := sh("ip", s...); err != nil {
			return nil, err
		}
	}
	err := lab.InNS(ns.name, func() error {
		i, err := ifindex(ns.dev)
		ns.link = i
		return err
	})
	return ns, err
}

// handle opens an rtnetlink socket bound to the namespace.
func (ns *benchNS) handle() (*fib.Handle, error) {
	var h *fib.Handle
	err := lab.InNS(ns.name, func() error {
		var err error
		h, err = fib.Open()
		return err
	})
	return h, err
}

func (ns *benchNS) close() { delNS(ns.name) }

func delNS(name string) {
	if _, err := os.Stat("/run/netns/" + name); err != nil {
		return
	}
	out, _ := exec.Command("ip", "netns", "pids", name).Output()
	for _, f := range strings.Fields(string(out)) {
		exec.Command("kill", "-9", f).Run()
	}
	exec.Command("ip", "netns", "del", name).Run()
}

func sh(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// nsPair creates namespaces a and b (replacing leftovers of a crashed run),
// joined by one veth pair aIf–bIf with the given addresses (with prefix
// length). They are removed by the returned function and by the bench's
// clean-up, whichever comes first.
func nsPair(a, b, aIf, bIf, aAddr, bAddr string) (func(), error) {
	for _, ns := range []string{a, b} {
		delNS(ns)
		if err := sh("ip", "netns", "add", ns); err != nil {
			return nil, err
		}
		addCleanup(func() { delNS(ns) })
	}
	remove := func() { delNS(a); delNS(b) }
	for _, s := range [][]string{
		{"-n", a, "link", "set", "lo", "up"},
		{"-n", b, "link", "set", "lo", "up"},
		{"-n", a, "link", "add", aIf, "type", "veth", "peer", "name", bIf, "netns", b},
		{"-n", a, "addr", "add", aAddr, "dev", aIf},
		{"-n", b, "addr", "add", bAddr, "dev", bIf},
		{"-n", a, "link", "set", aIf, "up"},
		{"-n", b, "link", "set", bIf, "up"},
	} {
		if err := sh("ip", s...); err != nil {
			remove()
			return nil, err
		}
	}
	return remove, nil
}
