package fib

import (
	"net/netip"

	"github.com/google/go-cmp/cmp/cmpopts"
)

// netipEq lets cmp compare net/netip values (unexported fields) by ==.
var netipEq = cmpopts.EquateComparable(netip.Prefix{}, netip.Addr{})
