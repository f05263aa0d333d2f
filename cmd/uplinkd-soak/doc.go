// Command uplinkd-soak runs a lab of its own (tag "s": namespaces uls-*,
// /run/uplinkd-labs) for about ten minutes of carrier flaps, feed updates
// and faults, and UDP and TCP traffic together, printing the edge daemon's
// footprint and FIB size every 30 s, and ends with a verdict on growth. It
// needs root; `sudo make soak` runs it. The lab is always torn down, on
// SIGINT and SIGTERM too.
package main
