package lab

import (
	"bufio"
	"fmt"
	"net"
	"runtime"
	"strings"
	"time"

	"github.com/vishvananda/netns"
)

// InNS runs fn on a thread switched into namespace ns. Sockets opened by fn
// stay in ns after the thread switches back.
func InNS(ns string, fn func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return err
	}
	defer orig.Close()
	target, err := netns.GetFromName(ns)
	if err != nil {
		return fmt.Errorf("namespace %s: %w", ns, err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		return err
	}
	defer netns.Set(orig)
	return fn()
}

// DialFrom opens a connection from inside a lab host.
func (l *Lab) DialFrom(host, network, addr string, timeout time.Duration) (net.Conn, error) {
	var c net.Conn
	err := InNS(l.NS(host), func() error {
		var err error
		c, err = net.DialTimeout(network, addr, timeout)
		return err
	})
	return c, err
}

// WhoAmI asks a lab server, from a lab host, which address it sees.
func (l *Lab) WhoAmI(from, server string) (string, error) {
	return l.WhoAmIAt(from, server, WhoAmIPort)
}

// WhoAmIAt asks a whoami server at server:port, from a lab host.
func (l *Lab) WhoAmIAt(from, server string, port int) (string, error) {
	c, err := l.DialFrom(from, "tcp", net.JoinHostPort(server, fmt.Sprint(port)), 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}
