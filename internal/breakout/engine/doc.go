// Package engine runs breakout: it refreshes every configured source on its
// own interval, compiles the union of their last good sets through the
// guards, installs the result into its own routing table via the breakout
// gateway, and steers traffic into that table with one policy rule per
// family (`pref 6100 lookup 6100 proto 211`, before main) that follows the
// gateway's health.
//
// It owns only what carries uplinkd's marks: routes of protocol 211 in
// Plan.Table and rules of protocol 211 at Plan.RulePriority. A restart
// adopts the routes it finds (the next Sync adds nothing that is there, and
// they are the baseline of the churn limit, so a start with lost state
// files withdraws nothing) and sweeps the table and rule of an earlier run
// that the Plan no longer names, found through the marker file kernel.json
// in the state directory and through the rule priority.
//
// Why a table and a rule rather than routes in main: withdrawal. When the
// gateway misses Health.DownAfter probes in a row, the engine deletes the
// rule, which is O(1) and instant: every breakout destination falls back to
// the main table (the hub) at once, while the table keeps its routes.
// Deleting a million routes instead would take seconds during which part
// of the set still points at a dead gateway, and reinstalling them would
// take as long again and churn the FIB for what is often a short fault.
// After Health.UpAfter answers the rule comes back, and a diff-only Sync
// restores any route the kernel dropped meanwhile (a device that went down
// takes its routes with it). A gateway counts as up until probes say
// otherwise, so Start installs at once; a reload that keeps the gateway
// keeps its verdict.
//
// A failed, empty or malformed fetch never withdraws anything: the source
// keeps its last good set (packages source and lkg), marked stale in
// Status; only a dns source's answers go, each once its TTL is past, and
// such a source is refreshed when its first answer goes bad.
//
// A fetched set must pass the gate (breakout.CheckUpdate) before it
// replaces the source's last good set: measured against that saved set
// (after a restart, the one restored from disk) and against the whole,
// an update that removes or adds too much, covers too much address space
// or makes the set too large is held. The saved set and the table keep
// what they had, Status shows the source held and why, other sources go
// on updating, and Accept (`uplinkd breakout accept`) or Plan.Force takes
// it once. Behind the gate, an install that would withdraw more than
// MaxChurn of the installed address space (a start whose state files were
// lost, a large source removed from the configuration) waits the same way.
// Each install is diff-only (fib.Sync: add before delete), and Status
// reports its counts without reading the table back.
//
// Every Plan.ReadBack the engine reads the rules and the table back and
// puts right what someone else changed (a deleted rule, a flushed table),
// counting the repairs in Status; and it resolves the hub endpoints again,
// protecting their addresses, with a warning in Status for a name that
// does not resolve.
package engine
