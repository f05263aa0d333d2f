// Package wg owns the site's WireGuard tunnels and, on the edge, the policy
// routing that pins each tunnel's outer packets to its own carrier.
//
// It reconciles: the desired state is plain data built from the config, the
// kernel's state is read back, and only the difference is applied. It owns
// the interfaces it created (marked with an interface alias), the rules in
// uplinkd's priority block and the routes of uplinkd's protocol in the
// per-uplink tables, and sweeps any of those that are no longer desired.
package wg
