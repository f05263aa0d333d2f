package daemon

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/uplinkd/uplinkd/internal/budget"
	"github.com/uplinkd/uplinkd/internal/ecmp"
)

// TestECMPLimits: ok carriers are left out (unlimited), soft and hard
// carry over.
func TestECMPLimits(t *testing.T) {
	got := ecmpLimits(map[string]budget.State{"docomo": budget.Soft, "softbank": budget.Hard, "rakuten": budget.OK})
	want := map[string]ecmp.Limit{"docomo": ecmp.SoftLimit, "softbank": ecmp.HardLimit}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}
