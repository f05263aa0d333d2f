// Package breakout owns the pure core of breakout routing: the Entry a feed
// yields, the guards every prefix set passes, aggregation into the desired
// set, the diff against the installed set and the index that explains which
// source entries a route came from. Nothing here touches the kernel.
//
// Sub-packages: feed parses the published formats, routefile reads and
// writes seed-format YAML route files, fetch downloads feeds over HTTP,
// dnsfeed resolves the names of a dns source, lkg keeps each source's last
// known good set on disk, and source ties fetch, parse and store together
// for one configured source.
//
// A daemon wires them as:
//
//	store := lkg.Open(stateDir, log)                   // restores sets from disk
//	r := &source.Refresher{Fetcher: f, Store: store, Limits: lim, Gate: gate, Log: log}
//	r.Refresh(ctx, cfg)                                // per source, on its interval
//	// gate: breakout.CheckUpdate(guards, Update{Previous: saved, Next: fetched,
//	// Others: the other sources' sets}); a *HoldError keeps the saved set
//	// and marks the source held until an operator accepts the update.
//	res, err := breakout.CompileSets(sets, breakout.Options{Guards: guards, Previous: installed, Force: force})
//	// err: ErrTooMany or *ChurnError (the backstop: errors.Is ErrChurn): keep what is installed
//	// else install res.Prefixes via the breakout gateway (fib.Via + Sync),
//	// or res.Add then res.Del, and announce them over BGP if configured.
//	res.Explain(addr)                                  // for `uplinkd explain IP`
//
// ProtectEndpoints turns hub endpoints (names included) into protected
// prefixes, with a warning for each that does not resolve.
package breakout
