package lab

import (
	"cmp"
	"strings"
)

// Impl is the WireGuard implementation a site's config asks for: the
// edges' EdgeImpl, the hubs' HubImpl, "auto" unless set.
func (l *Lab) Impl(site string) string {
	if strings.HasPrefix(site, "edge") {
		return cmp.Or(l.EdgeImpl, "auto")
	}
	return cmp.Or(l.HubImpl, "auto")
}
