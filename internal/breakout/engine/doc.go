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
// such a source is refreshed when its first answer goes bad. An update the guards refuse (too many prefixes, or more churn
// than allowed without Plan.Force) keeps the installed set too. Each
// install is diff-only (fib.Sync: add before delete), and Status reports
// its counts without reading the table back.
package engine
