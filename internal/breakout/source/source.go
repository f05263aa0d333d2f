package source

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/uplinkd/uplinkd/internal/breakout"
	"github.com/uplinkd/uplinkd/internal/breakout/feed"
	"github.com/uplinkd/uplinkd/internal/breakout/fetch"
	"github.com/uplinkd/uplinkd/internal/breakout/lkg"
)

// Config is one [[breakout.source]].
type Config struct {
	Spec  feed.Spec     // name, type, filters, route-file header
	URLs  []string      // feed URLs; google: goog.json then, optionally, cloud.json
	Files []string      // type file: route-file paths, read in order
	Every time.Duration // refresh interval, for the caller's scheduler
	// Names are a dns source's names, asked of Resolver (host:port; "":
	// the system's first nameserver).
	Names    []string
	Resolver string
	// AllowHTTP lets the URLs be plain http (and redirect to it); without
	// it only https is fetched. Not part of the Fingerprint: it changes
	// how the set is fetched, not what it is.
	AllowHTTP bool
	// MaxCoverage is this source's own limit on the share of the address
	// space its set may cover (see breakout.Guards); 0: the guards'.
	MaxCoverage float64
}

// Fingerprint identifies what the source's set depends on: its type,
// filters, header, URLs, files and names, not its refresh interval. A set
// stored under another fingerprint was fetched for other settings.
func (c Config) Fingerprint() string {
	m := c.Spec.Meta
	b, err := json.Marshal(struct {
		Spec               feed.Spec
		MetaASN            uint32
		MetaAttrs          breakout.Attrs
		URLs, Files, Names []string
		Resolver           string
	}{c.Spec, m.ASN, m.Attrs(), c.URLs, c.Files, c.Names, c.Resolver})
	if err != nil {
		panic(fmt.Sprintf("breakout source %s: fingerprint: %v", c.Spec.Name, err)) // plain data cannot fail
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12])
}

// Outcome reports one refresh.
type Outcome struct {
	Source      string
	Entries     int  // size of the last good set now (new or kept)
	Changed     bool // the set differs from the one held before
	NotModified bool // the server answered 304
	Err         error
	// Held is why the Gate refused the fetched set: the last good set
	// stays and the fetched one waits in the store (lkg.State.Held).
	Held error
	// Next, when set, is how soon the source wants refreshing again,
	// sooner than Every: a dns source when its first answer goes bad.
	Next time.Duration
}

// Gate judges a source's fetched set before it replaces the last good
// set prev (see breakout.CheckUpdate); others are the other sources' sets.
// An error holds the fetched set.
type Gate func(src Config, prev lkg.State, next []breakout.Entry, others [][]breakout.Entry) error

// Refresher runs refreshes against a store.
type Refresher struct {
	Fetcher *fetch.Fetcher
	Store   *lkg.Store
	Log     *slog.Logger // nil: discard
	// Limits bound what one feed may cost while it is read (unpacked
	// size, entries); zero fields take package feed's defaults.
	Limits feed.Limits
	// Gate, when set, judges every fetched set of a source that is not
	// static (a static source's prefixes are the configuration itself).
	Gate Gate
}

// Refresh fetches and parses src and records the result. On any error the
// store keeps the previous set and marks the source stale; Outcome.Err says
// why.
func (r *Refresher) Refresh(ctx context.Context, src Config) Outcome {
	if src.Spec.Kind == feed.KindDNS {
		return r.refreshDNS(ctx, src)
	}
	name := src.Spec.Name
	prev, _ := r.Store.Get(name)
	out := Outcome{Source: name}
	spec := src.Fingerprint()
	if prev.Spec != spec {
		// Fetched for other settings (a filter or URL changed): a 304
		// would confirm a set this configuration did not ask for.
		prev.ETag, prev.LastModified = "", ""
	}
	es, v, notModified, err := r.load(ctx, src, prev)
	switch {
	case err != nil:
		r.Store.Failure(name, err)
		out.Err, out.Entries = err, len(prev.Entries)
		r.log().Warn("breakout source failed, keeping last good set", "source", name, "prefixes", len(prev.Entries), "err", err)
	case notModified:
		out.Err = r.Store.NotModified(name)
		out.NotModified, out.Entries = true, len(prev.Entries)
		r.log().Debug("breakout source not modified", "source", name)
	default:
		out.Held, out.Err = r.Store.Offer(name, es, lkg.Fetch{ETag: v.ETag, LastModified: v.LastModified, Spec: spec}, r.check(src, es))
		if out.Held != nil {
			out.Entries = len(prev.Entries)
			r.log().Warn("breakout update held, keeping the last good set (uplinkd breakout accept takes it)", "source", name,
				"prefixes", len(prev.Entries), "fetched", len(es), "reason", out.Held)
			return out
		}
		out.Entries, out.Changed = len(es), changed(prev.Entries, es)
		r.log().Info("breakout source refreshed", "source", name, "prefixes", len(es), "changed", out.Changed)
		if out.Err != nil {
			r.log().Error("breakout source set in use but not saved: a restart with the feed down would lack it", "source", name, "err", out.Err)
		}
	}
	return out
}

// check is the store's view of the Gate for one fetched set.
func (r *Refresher) check(src Config, next []breakout.Entry) lkg.Check {
	if r.Gate == nil || src.Spec.Kind == feed.KindStatic {
		return nil
	}
	return func(prev lkg.State, others [][]breakout.Entry) error { return r.Gate(src, prev, next, others) }
}

func (r *Refresher) log() *slog.Logger {
	if r.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Log
}

// load returns the parsed entries, or notModified when a conditional GET
// confirmed the held set.
func (r *Refresher) load(ctx context.Context, src Config, prev lkg.State) (es []breakout.Entry, v fetch.Validators, notModified bool, err error) {
	var bodies [][]byte
	switch {
	case src.Spec.Kind == feed.KindStatic:
	case src.Spec.Kind == feed.KindFile:
		bodies, err = readFiles(src.Files, r.Limits.MaxBytes)
	default:
		bodies, v, notModified, err = r.fetchAll(ctx, src, prev)
	}
	if err != nil || notModified {
		return nil, v, notModified, err
	}
	if src.Spec.Kind == feed.KindFile {
		es, err = parseEach(src.Spec, r.Limits, src.Files, bodies)
	} else {
		es, err = src.Spec.ParseWithin(r.Limits, bodies...)
	}
	return es, v, false, err
}

// fetchAll fetches every URL. A single-URL source uses conditional GET
// against the held set's validators; with several URLs (goog.json minus
// cloud.json) every body is needed to recompute, so all are fetched whole.
func (r *Refresher) fetchAll(ctx context.Context, src Config, prev lkg.State) ([][]byte, fetch.Validators, bool, error) {
	urls := src.URLs
	if len(urls) == 0 {
		return nil, fetch.Validators{}, false, fmt.Errorf("no url")
	}
	var have fetch.Validators
	if len(urls) == 1 && len(prev.Entries) > 0 {
		have = fetch.Validators{ETag: prev.ETag, LastModified: prev.LastModified}
	}
	var bodies [][]byte
	var v fetch.Validators
	f := *r.Fetcher
	f.AllowHTTP = src.AllowHTTP
	for _, u := range urls {
		res, err := f.Fetch(ctx, u, have)
		if err != nil {
			return nil, v, false, err
		}
		if res.NotModified {
			return nil, res.Validators, true, nil
		}
		bodies, v = append(bodies, res.Body), res.Validators
	}
	if len(urls) > 1 {
		v = fetch.Validators{} // validators of one URL do not describe the set
	}
	return bodies, v, false, nil
}

func readFiles(paths []string, max int64) ([][]byte, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("no route file")
	}
	var out [][]byte
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		b, err := feed.ReadAll(f, max)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		out = append(out, b)
	}
	return out, nil
}

// parseEach parses several route files of one source; any bad file fails
// the whole source, as a partial set would withdraw the good file's routes.
func parseEach(spec feed.Spec, lim feed.Limits, paths []string, bodies [][]byte) ([]breakout.Entry, error) {
	var out []breakout.Entry
	for i, b := range bodies {
		es, err := spec.ParseWithin(lim, b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", paths[i], err)
		}
		if lim.MaxEntries > 0 && len(out)+len(es) > lim.MaxEntries {
			return nil, fmt.Errorf("%s: %w: more than %d in all files (max_entries)", paths[i], feed.ErrTooMany, lim.MaxEntries)
		}
		out = append(out, es...)
	}
	return out, nil
}

// changed reports whether the prefix sets differ; metadata-only changes
// (a region renamed) do not touch routes.
func changed(prev, next []breakout.Entry) bool {
	switch {
	case slices.Equal(prev, next):
		return false // the common daily refresh: nothing to sort
	case len(prev) == 0 || len(next) == 0:
		return true
	}
	add, del := breakout.Diff(breakout.Prefixes(prev), breakout.Prefixes(next))
	return len(add)+len(del) > 0
}
