// Package engine runs breakout: it refreshes every configured source on its
// own interval, compiles the union of their last good sets through the
// guards, installs the result into its own routing table via the breakout
// gateway, and steers traffic into that table with one policy rule per
// family (`pref 6100 lookup 6100 proto 211`) that follows the gateway's
// health.
//
// It owns only what carries uplinkd's marks: routes of protocol 211 in
// Plan.Table and the rules of protocol 211 at Plan.RulePriority. A restart
// adopts the routes it finds (the next Sync adds nothing that is there) and
// sweeps the table and rule of an earlier run that the Plan no longer names
// (found by the marker file kernel.json and by the rule priority).
//
// Why a table and a rule rather than routes in main: withdrawal. When the
// gateway stops answering its probes, the engine deletes the rule, which is
// O(1) and instant: every breakout destination falls back to the main table
// (the hub) at once, while the table's routes stay. Deleting a million
// routes instead would take seconds during which part of the set still
// points at a dead gateway, and reinstalling them when the gateway is back
// would take as long again and churn the FIB for a transient fault. Adding
// the rule back restores breakout as quickly.
//
// A failed, empty or malformed fetch never withdraws anything: the source
// keeps its last good set (package source and lkg), marked stale in
// Status. An update the guards refuse (too many prefixes, or more churn
// than allowed without Plan.Force) keeps the installed set too. Each
// install is diff-only (fib.Sync: add before delete), and Status reports
// its counts without reading the table back.
package engine
