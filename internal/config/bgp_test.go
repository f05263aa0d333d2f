package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// goodEdge's [bgp] starts at line 23 (peer_asn on 24, originate on 25).
func TestBadBGPLivenessECMP(t *testing.T) {
	tests := []struct {
		name  string
		base  string
		pairs []string
		want  []string
	}{
		{"hold time under GoBGP's floor", goodEdge, []string{"peer_asn = 64513", "peer_asn = 64513\nhold_time = 2"},
			[]string{"25:1: bgp.hold_time: 2 is out of range (seconds, 3 to 65535; GoBGP refuses hold times under 3 s; BFD detects failures faster)"}},
		{"keepalive over a third of hold time", goodEdge, []string{"peer_asn = 64513", "peer_asn = 64513\nhold_time = 6\nkeepalive = 3"},
			[]string{"26:1: bgp.keepalive: 3 s is more than a third of hold_time 6 s (use at most 2)"}},
		{"peer asn is our own", goodEdge, []string{"peer_asn = 64513", "peer_asn = 64512"},
			[]string{"24:1: bgp.peer_asn: 64512 is this site's own asn (the sessions are eBGP: give the hub and the edge different AS numbers)"}},
		{"originate with host bits", goodEdge, []string{`originate = ["198.18.10.0/24"]`, `originate = ["198.18.10.1/24"]`},
			[]string{`25:14: bgp.originate[0]: "198.18.10.1/24" has host bits set (did you mean "198.18.10.0/24"?)`}},
		{"accept not a prefix", goodEdge, []string{`originate = ["198.18.10.0/24"]`, `accept = ["default"]`},
			[]string{`25:11: bgp.accept[0]: "default" is not a prefix (write it as address/length, e.g. "198.18.10.0/24")`}},
		{"hub without accept", goodHub, []string{`accept = ["198.18.10.0/24"]` + "\n", ""},
			[]string{`24:1: bgp: missing required key "accept" (list the edge's LAN prefixes the hub may accept, e.g. accept = ["198.18.10.0/24"])`}},
		{"bfd interval too short", goodEdge, []string{`originate = ["198.18.10.0/24"]`, "originate = [\"198.18.10.0/24\"]\n[liveness]\ninterval_ms = 5"},
			[]string{"27:1: liveness.interval_ms: 5 is out of range (milliseconds, 10 to 10000; BFD's transmit and receive interval; 100 ms x 3 detects a dead tunnel in 300 ms)"}},
		{"bfd as a string", goodEdge, []string{`originate = ["198.18.10.0/24"]`, "originate = [\"198.18.10.0/24\"]\n[liveness]\nbfd = \"yes\""},
			[]string{`27:1: liveness.bfd: expected a boolean, got a string (write true or false without quotes)`}},
		{"resilient misspelt", goodEdge, []string{`originate = ["198.18.10.0/24"]`, "originate = [\"198.18.10.0/24\"]\n[ecmp]\nresilient = \"yes\""},
			[]string{`27:1: ecmp.resilient: "yes" is not one of ["auto" "on" "off"]`}},
		{"ecmp table local", goodEdge, []string{`originate = ["198.18.10.0/24"]`, "originate = [\"198.18.10.0/24\"]\n[ecmp]\ntable = 255"},
			[]string{"27:1: ecmp.table: 255 cannot hold the ECMP routes (use 254 for main, or a table of your own)"}},
		{"hash policy 3", goodEdge, []string{`originate = ["198.18.10.0/24"]`, "originate = [\"198.18.10.0/24\"]\n[ecmp]\nhash_policy = 3"},
			[]string{"27:1: ecmp.hash_policy: 3 is not a multipath hash policy (0 = layer 3, 1 = layer 4, 2 = inner layer 3)"}},
		{"failover priority 100", goodEdge, []string{`originate = ["198.18.10.0/24"]`, "originate = [\"198.18.10.0/24\"]\n[ecmp]\nfailover_priority = 100"},
			[]string{"27:1: ecmp.failover_priority: 100 is not a real-time priority (0 for none, or 1 to 99)"}},
		{"grpc on a public address", goodEdge, []string{"peer_asn = 64513", "peer_asn = 64513\ngrpc = \"0.0.0.0:50051\""},
			[]string{"25:1: bgp.grpc: 0.0.0.0 is not a loopback address (the gRPC API has no authentication: keep it on 127.0.0.1 or ::1)"}},
		{"unknown key in bgp", goodEdge, []string{"peer_asn = 64513", "peer_as = 64513"},
			[]string{`24:1: unknown key "peer_as" in [bgp] (did you mean "peer_asn"?)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse("t.toml", []byte(edit(t, tt.base, tt.pairs...)), testKeys)
			if diff := cmp.Diff(tt.want, positions(t, err)); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestBadPasswordAndRestart: the new [bgp] keys are refused with the
// position and never with the password in the message.
func TestBadPasswordAndRestart(t *testing.T) {
	const lan = `originate = ["198.18.10.0/24"]`
	long := strings.Repeat("k", 81)
	tests := []struct {
		name string
		line string
		want []string
	}{
		{"negative restart", "max_prefix_restart = -1",
			[]string{"26:1: bgp.max_prefix_restart: -1 is out of range (seconds, 0 to 86400; how long a session stopped by max_prefixes stays down; 0 keeps it down until a reload)"}},
		{"empty password", `password = ""`,
			[]string{"26:1: bgp.password: must not be empty (leave the key out for sessions without TCP-MD5)"}},
		{"password too long", `password = "` + long + `"`,
			[]string{"26:1: bgp.password: is 81 bytes; a TCP-MD5 key holds at most 80"}},
		{"password with a tab", `password = "tab\there"`,
			[]string{"26:1: bgp.password: holds a character other than printable ASCII (the other router must be given the same key: keep to letters, digits and punctuation)"}},
		{"password as a number", `password = 1234`,
			[]string{"26:1: bgp.password: expected a string, got an integer (put the value in double quotes)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse("t.toml", []byte(edit(t, goodEdge, lan, lan+"\n"+tt.line)), testKeys)
			if diff := cmp.Diff(tt.want, positions(t, err)); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
			if strings.Contains(fmt.Sprint(err), long) || strings.Contains(fmt.Sprint(err), "tab\there") {
				t.Errorf("the error quotes the password: %v", err)
			}
		})
	}
}

// TestPasswordNeverPrinted: a good password reaches the config but no
// printed form of it: %v, %+v, %#v, JSON, slog and `uplinkd check`.
func TestPasswordNeverPrinted(t *testing.T) {
	const secret = "Tcp-Md5-Key-0815"
	const lan = `originate = ["198.18.10.0/24"]`
	c, err := parse("t.toml", []byte(edit(t, goodEdge, lan, lan+"\npassword = \""+secret+"\"\nmax_prefix_restart = 0")), testKeys)
	if err != nil {
		t.Fatal(err)
	}
	if string(c.BGP.Password) != secret || c.BGP.MaxPrefixRestart != 0 {
		t.Fatalf("password %d bytes, restart %v; want the key and 0", len(c.BGP.Password), c.BGP.MaxPrefixRestart)
	}
	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "bgp", c.BGP, "password", c.BGP.Password)
	for name, out := range map[string]string{
		"%v": fmt.Sprintf("%v", c), "%+v": fmt.Sprintf("%+v", c), "%#v": fmt.Sprintf("%#v", c),
		"json": string(js), "slog": logged.String(), "summary": c.Summary(),
	} {
		if strings.Contains(out, secret) {
			t.Errorf("%s prints the password:\n%s", name, out)
		}
	}
	if !strings.Contains(c.Summary(), "tcp-md5 on every session") {
		t.Errorf("summary does not say the sessions are signed:\n%s", c.Summary())
	}
}

// TestPasswordFileReadableByAll: a config holding a password must not be
// world-readable, like a private key.
func TestPasswordFileReadableByAll(t *testing.T) {
	const lan = `originate = ["198.18.10.0/24"]`
	src := []byte(edit(t, goodEdge, lan, lan+"\npassword = \"shared-key\""))
	for _, tt := range []struct {
		mode fs.FileMode
		want []string
	}{
		{0o640, nil},
		{0o644, []string{"26:1: bgp.password: /etc/uplinkd/uplinkd.toml holds the BGP password and is readable by every user (mode 0644): chmod o-rwx /etc/uplinkd/uplinkd.toml"}},
	} {
		keys := fakeKeys{"/etc/uplinkd/uplinkd.toml": {mode: tt.mode}}
		for k, v := range testKeys {
			keys[k] = v
		}
		_, err := parse("/etc/uplinkd/uplinkd.toml", src, keys)
		if diff := cmp.Diff(tt.want, positions(t, err)); diff != "" {
			t.Errorf("mode %04o: errors mismatch (-want +got):\n%s", tt.mode, diff)
		}
	}
}

// TestTTLSecurity: GTSM is on unless [bgp] ttl_security = false, for a
// peer that cannot do it; a quoted value is refused where it stands.
func TestTTLSecurity(t *testing.T) {
	for _, tt := range []struct {
		name, line string
		want       bool
		errs       []string
	}{
		{"default", "", true, nil},
		{"off", "ttl_security = false", false, nil},
		{"on", "ttl_security = true", true, nil},
		{"quoted", `ttl_security = "off"`, false,
			[]string{`26:1: bgp.ttl_security: expected a boolean, got a string (write true or false without quotes)`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			lan := `originate = ["198.18.10.0/24"]`
			c, err := parse("t.toml", []byte(edit(t, goodEdge, lan, lan+"\n"+tt.line)), testKeys)
			if diff := cmp.Diff(tt.errs, positions(t, err)); diff != "" {
				t.Fatalf("errors mismatch (-want +got):\n%s", diff)
			}
			if err == nil && c.BGP.TTLSecurity != tt.want {
				t.Errorf("ttl security %v, want %v", c.BGP.TTLSecurity, tt.want)
			}
			if err == nil && strings.Contains(c.Summary(), "ttl security (GTSM) off") == tt.want {
				t.Errorf("summary with ttl security %v:\n%s", tt.want, c.Summary())
			}
		})
	}
}
