// Package lkg keeps each breakout source's last known good entries: a
// failed, empty or malformed fetch never withdraws routes, it marks the
// source stale and the previous set stays. Good sets are persisted, one file
// per source, so a restart with the feeds unreachable restores them.
// DNS answers are the exception: kept in memory only, each until its TTL
// (SuccessUntil), and dropped by a failed refresh once past it.
package lkg
