// Package solo holds fault tests that run one real uplinkd daemon (the
// built binary, `uplinkd run`) alone in a network namespace of its own
// (ulk-*): faults that need the daemon's own startup and the kernel, but
// not the lab's two sites and ten namespaces. They need root.
package solo
