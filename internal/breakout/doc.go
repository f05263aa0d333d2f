// Package breakout owns the pure core of breakout routing: the Entry a feed
// yields, the guards every prefix set passes, aggregation into the desired
// set, the diff against the installed set and the index that explains which
// source entries a route came from. Parsers live in feed, route files in
// routefile, last-known-good state in lkg and HTTP fetching in fetch; nothing
// here touches the kernel.
package breakout
