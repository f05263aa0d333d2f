package lab

import (
	"context"
	"fmt"
	"net"
)

// WhoAmIPort is where the lab's servers (ul-web, ul-media) tell a client
// the address they see it from: the proof of which path it took.
const WhoAmIPort = 8080

// ServeWhoAmI answers every TCP connection with the client's address and
// discards UDP (the flow tests' packets), until ctx ends.
func ServeWhoAmI(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		ln.Close()
		return err
	}
	go func() {
		<-ctx.Done()
		ln.Close()
		pc.Close()
	}()
	go discard(pc)
	for {
		c, err := ln.Accept()
		if err != nil {
			return nil
		}
		host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
		fmt.Fprintln(c, host)
		c.Close()
	}
}

func discard(pc net.PacketConn) {
	buf := make([]byte, 2048)
	for {
		if _, _, err := pc.ReadFrom(buf); err != nil {
			return
		}
	}
}

// ServeUDPWhoAmI answers every UDP datagram with the sender's address:
// the published UDP service of the lab's LAN host.
func ServeUDPWhoAmI(ctx context.Context, addr string) error {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return err
	}
	go func() {
		<-ctx.Done()
		pc.Close()
	}()
	buf := make([]byte, 1500)
	for {
		_, from, err := pc.ReadFrom(buf)
		if err != nil {
			return nil
		}
		host, _, _ := net.SplitHostPort(from.String())
		pc.WriteTo([]byte(host+"\n"), from)
	}
}
