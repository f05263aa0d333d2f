package engine

import (
	"encoding/json"

	"github.com/uplinkd/uplinkd/internal/units"
)

// The status API (docs/status-api.md) gives durations as numbers with the
// unit in the key; the Go fields stay time.Duration for the daemon's own
// use. Each type marshals through a copy without methods (plain) plus the
// converted fields, and reads them back the same way, so that a status
// decoded by the CLI prints again unchanged.

var millis, fromMillis = units.Millis, units.FromMillis

type sourceJSON struct {
	plainSource
	AgeSeconds float64 `json:"age_seconds"`
}

type plainSource SourceStatus

// MarshalJSON adds age_seconds.
func (s SourceStatus) MarshalJSON() ([]byte, error) {
	return json.Marshal(sourceJSON{plainSource(s), s.Age.Seconds()})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *SourceStatus) UnmarshalJSON(b []byte) error {
	var v sourceJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*s = SourceStatus(v.plainSource)
	s.Age = units.FromSeconds(v.AgeSeconds)
	return nil
}

type compileJSON struct {
	plainCompile
	CompileTookMS float64 `json:"compile_took_ms"`
	InstallTookMS float64 `json:"install_took_ms"`
}

type plainCompile CompileStatus

// MarshalJSON adds compile_took_ms and install_took_ms.
func (c CompileStatus) MarshalJSON() ([]byte, error) {
	return json.Marshal(compileJSON{plainCompile(c), millis(c.CompileTook), millis(c.InstallTook)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (c *CompileStatus) UnmarshalJSON(b []byte) error {
	var v compileJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*c = CompileStatus(v.plainCompile)
	c.CompileTook, c.InstallTook = fromMillis(v.CompileTookMS), fromMillis(v.InstallTookMS)
	return nil
}

type gatewayJSON struct {
	plainGateway
	LastRTTMS float64 `json:"last_rtt_ms"`
}

type plainGateway GatewayStatus

// MarshalJSON adds last_rtt_ms.
func (g GatewayStatus) MarshalJSON() ([]byte, error) {
	return json.Marshal(gatewayJSON{plainGateway(g), millis(g.LastRTT)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (g *GatewayStatus) UnmarshalJSON(b []byte) error {
	var v gatewayJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*g = GatewayStatus(v.plainGateway)
	g.LastRTT = fromMillis(v.LastRTTMS)
	return nil
}
