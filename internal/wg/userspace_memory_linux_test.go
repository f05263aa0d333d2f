package wg

import (
	"runtime"
	"runtime/metrics"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/device"

	"github.com/uplinkd/uplinkd/internal/config"
	"github.com/uplinkd/uplinkd/internal/nstest"
)

// TestMessageBuffersOutsideTheHeap: six userspace tunnels (three pairs)
// that have shaken hands leave the Go heap's live data about where it was.
// wireguard-go holds a batch of 64 KiB message buffers per receive routine,
// about 24 MiB a device; on the heap they doubled the collector's goal
// (third_party/wireguard/PATCHES.md). Patched, they are mapped outside it.
func TestMessageBuffersOutsideTheHeap(t *testing.T) {
	if !nstest.Enter(t) {
		return
	}
	d := pair(t, "docomo", "softbank", "rakuten")
	d.Impl = config.ImplUserspace
	carrierLink(t)
	before := liveHeap()
	m := newManager(t)
	defer m.Close()
	if _, err := m.Apply(d); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !allShookHands(m) {
		if time.Now().After(deadline) {
			t.Fatalf("no handshakes within 5 s: %+v", m.Status())
		}
		m.Kick(nil)
		time.Sleep(50 * time.Millisecond)
	}
	grew := int64(liveHeap()) - int64(before)
	mapped := device.MappedMessageBuffers()
	t.Logf("6 userspace devices: live heap grew %.1f MiB; %d message buffers (%d MiB) mapped outside it",
		float64(grew)/(1<<20), mapped, mapped/16)
	if grew > 16<<20 {
		t.Errorf("live heap grew %.1f MiB for 6 devices, want ≤ 16 MiB (their message buffers belong outside the heap)", float64(grew)/(1<<20))
	}
	if mapped < 6*128 {
		t.Errorf("%d message buffers mapped outside the heap, want at least a batch per device (%d)", mapped, 6*128)
	}
}

func allShookHands(m *Manager) bool {
	for _, st := range m.Status() {
		if st.LastHandshake.IsZero() {
			return false
		}
	}
	return true
}

// liveHeap is the heap's live bytes after a collection.
func liveHeap() uint64 {
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
