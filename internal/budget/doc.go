// Package budget counts each carrier's bytes against its data budget: the
// rx+tx of the uplink's underlay interface per billing period, kept in the
// state directory across restarts and reboots, started again on the
// billing day. It says which uplinks are past their soft limit (weight
// lowered) or hard limit (last resort); ecmp acts on that.
package budget
