package bgp

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	gobgplog "github.com/osrg/gobgp/v3/pkg/log"
)

func TestLogAdapter(t *testing.T) {
	tests := []struct {
		name  string
		level slog.Level
		log   func(gobgplog.Logger)
		want  string
	}{
		{
			name:  "warn keeps level and maps keys",
			level: slog.LevelInfo,
			log: func(l gobgplog.Logger) {
				l.Warn("prefix limit reached", gobgplog.Fields{"Topic": "Peer", "Key": "10.0.1.1", "Family": "ipv4-unicast"})
			},
			want: `level=WARN msg="gobgp: prefix limit reached" family=ipv4-unicast peer=10.0.1.1 topic=Peer`,
		},
		{
			name:  "info is debug",
			level: slog.LevelInfo,
			log:   func(l gobgplog.Logger) { l.Info("Add a peer configuration", gobgplog.Fields{"Key": "10.0.1.1"}) },
			want:  "",
		},
		{
			name:  "info shown at debug, error as text, odd keys lowercased",
			level: slog.LevelDebug,
			log: func(l gobgplog.Logger) {
				l.Info("Mismatched local address", gobgplog.Fields{"Configured addr": "10.0.1.2", "Err": errors.New("boom"), "_facility": "x"})
			},
			want: `level=DEBUG msg="gobgp: Mismatched local address" configured_addr=10.0.1.2 err=boom`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			h := slog.NewTextHandler(&buf, &slog.HandlerOptions{
				Level: tt.level,
				ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
					if a.Key == slog.TimeKey {
						return slog.Attr{}
					}
					return a
				},
			})
			tt.log(slogAdapter{log: slog.New(h)})
			if diff := cmp.Diff(tt.want, strings.TrimSpace(buf.String())); diff != "" {
				t.Errorf("log line (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLogAdapterLevelAndPeerDown(t *testing.T) {
	var gotAddr, gotReason string
	a := slogAdapter{
		log:      slog.New(slog.NewTextHandler(&bytes.Buffer{}, &slog.HandlerOptions{Level: slog.LevelInfo})),
		peerDown: func(addr, reason string) { gotAddr, gotReason = addr, reason },
	}
	if got := a.GetLevel(); got != gobgplog.InfoLevel {
		t.Errorf("GetLevel at info = %v, want InfoLevel", got)
	}
	a.Info("Peer Down", gobgplog.Fields{"Key": "10.0.1.1", "Reason": "hold-timer-expired"})
	if gotAddr != "10.0.1.1" || gotReason != "hold-timer-expired" {
		t.Errorf("peerDown got (%q, %q), want (10.0.1.1, hold-timer-expired)", gotAddr, gotReason)
	}
}
