// Package probe sends ICMP echo requests and times their replies: the
// breakout engine's check of the 5G gateway and the SLA's measure of each
// tunnel. A raw socket (root) or, failing that, an unprivileged ping
// socket (net.ipv4.ping_group_range).
package probe
