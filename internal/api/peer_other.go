//go:build !linux

package api

import "net"

// connUID knows no peer credentials here: handlers that need root refuse.
func connUID(net.Conn) (uint32, bool) { return 0, false }
