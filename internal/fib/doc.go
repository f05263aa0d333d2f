// Package fib owns uplinkd's routes and nexthop objects in the kernel FIB.
//
// It installs, reads back and sweeps routes marked with uplinkd's own route
// protocol number over raw, batched rtnetlink (vishvananda/netlink cannot
// batch nor create nexthop objects), and programs ECMP routes either as
// resilient nexthop groups or as plain RTA_MULTIPATH routes.
package fib
