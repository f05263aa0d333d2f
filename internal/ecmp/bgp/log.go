package bgp

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"

	gobgplog "github.com/osrg/gobgp/v3/pkg/log"
	bgppkt "github.com/osrg/gobgp/v3/pkg/packet/bgp"
)

// slogAdapter feeds GoBGP's logger interface into the daemon's *slog.Logger,
// so its lines carry our keys. GoBGP logs every FSM step at info; that is
// noise for an operator, so its info goes to debug and the speaker logs peer
// state changes itself.
type slogAdapter struct {
	log *slog.Logger
	// peerDown, if set, receives GoBGP's reason for a session going down,
	// which GoBGP reports nowhere but in its "Peer Down" line.
	peerDown func(addr, reason string)
	// notified, if set, receives each NOTIFICATION GoBGP sends or
	// receives, which before established it reports only in log lines.
	notified func(addr string, f failure)
}

var _ gobgplog.Logger = slogAdapter{}

func (a slogAdapter) Panic(msg string, f gobgplog.Fields) {
	a.emit(slog.LevelError, msg, f)
	panic(msg)
}

// Fatal does not exit: GoBGP uses it only for its gRPC listener, which the
// speaker never starts, and a library must not end the daemon.
func (a slogAdapter) Fatal(msg string, f gobgplog.Fields) { a.emit(slog.LevelError, msg, f) }
func (a slogAdapter) Error(msg string, f gobgplog.Fields) { a.emit(slog.LevelError, msg, f) }
func (a slogAdapter) Warn(msg string, f gobgplog.Fields) {
	if a.notified != nil {
		if n, ok := notificationOf(msg, f); ok {
			a.notified(fmt.Sprint(f["Key"]), n)
		}
	}
	a.emit(slog.LevelWarn, msg, f)
}

// notificationOf reads GoBGP's "sent notification" (Data: the
// *bgppkt.MessageError) and "received notification" (Code, Subcode) lines.
func notificationOf(msg string, f gobgplog.Fields) (failure, bool) {
	switch msg {
	case "sent notification":
		if e, ok := f["Data"].(*bgppkt.MessageError); ok {
			return failure{sent: true, code: e.TypeCode, subcode: e.SubTypeCode, text: e.Message}, true
		}
	case "received notification":
		code, ok1 := f["Code"].(uint8)
		sub, ok2 := f["Subcode"].(uint8)
		if ok1 && ok2 {
			return failure{code: code, subcode: sub, text: bgppkt.NewNotificationErrorCode(code, sub).String()}, true
		}
	}
	return failure{}, false
}
func (a slogAdapter) Info(msg string, f gobgplog.Fields) {
	if msg == "Peer Down" && a.peerDown != nil {
		a.peerDown(fmt.Sprint(f["Key"]), fmt.Sprint(f["Reason"]))
	}
	a.emit(slog.LevelDebug, msg, f)
}
func (a slogAdapter) Debug(msg string, f gobgplog.Fields) { a.emit(slog.LevelDebug, msg, f) }

// SetLevel is ignored: the level belongs to the injected handler.
func (a slogAdapter) SetLevel(gobgplog.LogLevel) {}

// GetLevel tells GoBGP whether to build its costlier debug lines at all.
func (a slogAdapter) GetLevel() gobgplog.LogLevel {
	if a.log.Enabled(context.Background(), slog.LevelDebug) {
		return gobgplog.DebugLevel
	}
	return gobgplog.InfoLevel
}

func (a slogAdapter) emit(level slog.Level, msg string, f gobgplog.Fields) {
	ctx := context.Background()
	if !a.log.Enabled(ctx, level) {
		return
	}
	a.log.Log(ctx, level, "gobgp: "+msg, fieldAttrs(f)...)
}

// gobgpKeys maps GoBGP's field names onto the daemon's stable keys.
var gobgpKeys = map[string]string{
	"Key":         "peer",
	"Topic":       "topic",
	"Err":         "err",
	"Error":       "err",
	"Remote Addr": "peer",
	"Prefix":      "prefix",
	"State":       "state",
	"Family":      "family",
}

// fieldAttrs turns GoBGP fields into slog attributes in a stable order.
func fieldAttrs(f gobgplog.Fields) []any {
	keys := make([]string, 0, len(f))
	for k := range f {
		if k != gobgplog.FieldFacility {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	attrs := make([]any, 0, len(keys))
	for _, k := range keys {
		attrs = append(attrs, slog.Any(fieldKey(k), fieldValue(f[k])))
	}
	return attrs
}

func fieldKey(k string) string {
	if s, ok := gobgpKeys[k]; ok {
		return s
	}
	return strings.ToLower(strings.ReplaceAll(k, " ", "_"))
}

// fieldValue renders errors and Stringers as text so that a JSON handler does
// not print them as empty objects.
func fieldValue(v any) any {
	switch v.(type) {
	case error, fmt.Stringer:
		return fmt.Sprint(v) // Sprint also survives a nil receiver
	}
	return v
}
