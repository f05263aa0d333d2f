// Package lab builds the demo and end-to-end test bed: network namespaces
// for the home LAN, the home router, three carriers with carrier-grade NAT,
// the internet, the VPS hub, a home 5G router and two servers, joined by
// veth pairs, with an uplinkd daemon in the home and one in the hub.
// Nothing is created in the machine's own namespace.
package lab
