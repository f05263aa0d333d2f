package nat_test

import (
	"bytes"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/uplinkd/uplinkd/internal/nat"
	"github.com/uplinkd/uplinkd/internal/nat/nattest"
)

var hubNAT = nat.Desired{{Out: "eth0", Sources: []netip.Prefix{
	netip.MustParsePrefix("198.18.10.0/24"), netip.MustParsePrefix("2001:db8:10::/64"),
	netip.MustParsePrefix("198.18.100.0/31"),
}}}

const (
	v4 = "net/ipv4/ip_forward"
	v6 = "net/ipv6/conf/all/forwarding"
)

// applied returns a reconciler that has applied d to a fresh fake.
func applied(t *testing.T, d nat.Desired) (*nat.Reconciler, *nattest.Fake, *bytes.Buffer) {
	t.Helper()
	k := nattest.New()
	var logs bytes.Buffer
	r := nat.NewReconciler(k, slog.New(slog.NewTextHandler(&logs, nil)))
	if err := r.Apply(d); err != nil {
		t.Fatalf("apply: %v", err)
	}
	return r, k, &logs
}

// observed is what a test compares: the kernel as the fake holds it and
// the repairs status counts.
type observed struct {
	Table   []string
	Present bool
	V4, V6  string
	Repairs uint64
	Error   string
}

func observe(r *nat.Reconciler, k *nattest.Fake) observed {
	st := r.Status()
	var o observed
	k.Edit(func(f *nattest.Fake) {
		o = observed{Table: f.Table, Present: f.Present, V4: f.Sysctls[v4], V6: f.Sysctls[v6]}
	})
	o.Repairs, o.Error = st.Repairs, st.Error
	return o
}

func TestApplyIsNotARepair(t *testing.T) {
	r, k, logs := applied(t, hubNAT)
	want := observed{Table: hubNAT.Rules(), Present: true, V4: "1", V6: "1"}
	if diff := cmp.Diff(want, observe(r, k)); diff != "" {
		t.Errorf("after Apply (-want +got):\n%s", diff)
	}
	if st := r.Status(); st.Rules != 3 || !st.Forwarding {
		t.Errorf("status %+v, want 3 rules and forwarding on", st)
	}
	if !strings.Contains(logs.String(), "level=INFO msg=changed") {
		t.Errorf("Apply's changes not logged at info:\n%s", logs)
	}
	if err := r.Check(); err != nil {
		t.Fatal(err)
	}
	if k.Writes != 1 || r.Status().Repairs != 0 {
		t.Errorf("a check without drift wrote %d times, counted %d repairs; want 1 write (Apply's), 0 repairs", k.Writes, r.Status().Repairs)
	}
}

// TestCheckRepairsDrift: every kind of drift is put back by one Check and
// counted once.
func TestCheckRepairsDrift(t *testing.T) {
	for _, tc := range []struct {
		name  string
		drift func(*nattest.Fake)
		what  string
	}{
		{"ruleset flushed", func(f *nattest.Fake) { f.Table, f.Present = nil, false },
			"nftables table uplinkd written: 3 masquerade rules (found no table)"},
		{"table emptied", func(f *nattest.Fake) { f.Table = nil },
			"nftables table uplinkd written: 3 masquerade rules (found 0 rules)"},
		{"one rule deleted", func(f *nattest.Fake) { f.Table = f.Table[1:] },
			"nftables table uplinkd written: 3 masquerade rules (found 2 rules)"},
		{"a rule added", func(f *nattest.Fake) { f.Table = append(f.Table, "masquerade eth0 from 0.0.0.0/0") },
			"nftables table uplinkd written: 3 masquerade rules (found 4 rules)"},
		{"ipv4 forwarding off", func(f *nattest.Fake) { f.Sysctls[v4] = "0" },
			"net.ipv4.ip_forward = 1 (was 0)"},
		{"ipv6 forwarding off", func(f *nattest.Fake) { f.Sysctls[v6] = "0" },
			"net.ipv6.conf.all.forwarding = 1 (was 0)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, k, logs := applied(t, hubNAT)
			k.Edit(tc.drift)
			if err := r.Check(); err != nil {
				t.Fatal(err)
			}
			want := observed{Table: hubNAT.Rules(), Present: true, V4: "1", V6: "1", Repairs: 1}
			if diff := cmp.Diff(want, observe(r, k)); diff != "" {
				t.Errorf("after Check (-want +got):\n%s", diff)
			}
			if st := r.Status(); st.LastRepairWhat != tc.what || st.LastRepair.IsZero() {
				t.Errorf("last repair %q at %v, want %q", st.LastRepairWhat, st.LastRepair, tc.what)
			}
			if !strings.Contains(logs.String(), "level=WARN msg=\"repaired drift in the kernel\" part=nat") {
				t.Errorf("repair not logged at warn:\n%s", logs)
			}
			if err := r.Check(); err != nil || r.Status().Repairs != 1 {
				t.Errorf("a second check: %v, %d repairs; want nothing more", err, r.Status().Repairs)
			}
		})
	}
}

// TestNoNATWanted: a site without NAT keeps forwarding on and no table; a
// table left by an older run is swept at Apply, one that appears later is
// a repair.
func TestNoNATWanted(t *testing.T) {
	k := nattest.New()
	k.Edit(func(f *nattest.Fake) { f.Table, f.Present = []string{"masquerade eth0 from 198.18.10.0/24"}, true })
	r := nat.NewReconciler(k, nil)
	if err := r.Apply(nil); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(observed{V4: "1", V6: "1"}, observe(r, k)); diff != "" {
		t.Errorf("after Apply(nil) (-want +got):\n%s", diff)
	}
	k.Edit(func(f *nattest.Fake) { f.Present = true })
	if err := r.Check(); err != nil {
		t.Fatal(err)
	}
	if o := observe(r, k); o.Present || o.Repairs != 1 {
		t.Errorf("stray table after Check: present %v, %d repairs; want removed, 1", o.Present, o.Repairs)
	}
	if err := r.Close(); err != nil || k.Writes != 2 {
		t.Errorf("Close with nothing wanted: %v, %d writes; want no call", err, k.Writes)
	}
}

func TestFailureKeptInStatusThenCleared(t *testing.T) {
	r, k, _ := applied(t, hubNAT)
	boom := errors.New("netlink: operation not permitted")
	k.Edit(func(f *nattest.Fake) { f.Fail, f.Present = boom, false })
	if err := r.Check(); !errors.Is(err, boom) {
		t.Fatalf("check on a failing kernel: %v, want %v", err, boom)
	}
	if st := r.Status(); !strings.Contains(st.Error, "operation not permitted") || st.Forwarding || st.Repairs != 0 {
		t.Errorf("status after failure: %+v, want the error, forwarding unknown, no repair", st)
	}
	k.Edit(func(f *nattest.Fake) { f.Fail = nil })
	if err := r.Check(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(observed{Table: hubNAT.Rules(), Present: true, V4: "1", V6: "1", Repairs: 1}, observe(r, k)); diff != "" {
		t.Errorf("after recovery (-want +got):\n%s", diff)
	}
}

func TestCheckBeforeApplyAndClose(t *testing.T) {
	k := nattest.New()
	r := nat.NewReconciler(k, nil)
	if err := r.Check(); err != nil {
		t.Fatal(err)
	}
	if o := observe(r, k); o.V4 != "0" || o.Present {
		t.Errorf("Check before Apply touched the kernel: %+v", o)
	}
	if err := r.Apply(hubNAT); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if o := observe(r, k); o.Present || o.V4 != "1" {
		t.Errorf("after Close: %+v, want no table and forwarding left on", o)
	}
}
