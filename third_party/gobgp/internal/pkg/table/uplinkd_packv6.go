// Copyright (C) 2026 uplinkd authors.
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//    http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or
// implied.
// See the License for the specific language governing permissions and
// limitations under the License.

package table

import (
	"strings"

	"github.com/osrg/gobgp/v3/pkg/packet/bgp"
)

// uplinkd patch (PATCHES.md): IPv6 unicast is packed as IPv4 unicast is.
// Upstream's packer for every family but IPv4 unicast writes one UPDATE
// per path, each with an MP_REACH_NLRI (or MP_UNREACH_NLRI) of one prefix,
// so a session's initial IPv6 table of N prefixes was N messages. This
// packer puts the prefixes of paths that share their attributes and next
// hop into one MP_REACH_NLRI, and withdrawals into one MP_UNREACH_NLRI,
// as many as fit in a message. Like the IPv4 packer it sends withdrawals
// first, then the announcements by attributes, so a list must not name a
// prefix twice (a session's initial table and a soft reset never do; a
// path received from a peer is sent on its own).

// mpReachOverhead is an MP_REACH_NLRI's bytes besides its NLRI, with a
// global IPv6 next hop: attribute header with extended length (4), AFI
// (2), SAFI (1), next hop length (1), next hop (16), reserved (1).
const mpReachOverhead = 4 + 2 + 1 + 1 + 16 + 1

// mpUnreachOverhead: attribute header (4), AFI (2), SAFI (1).
const mpUnreachOverhead = 4 + 2 + 1

// updateOverhead is an UPDATE's bytes besides its attributes: header
// (19), withdrawn routes length (2), total path attribute length (2).
const updateOverhead = 19 + 2 + 2

type packerV6 struct {
	packer
	withdrawals []*Path
	groups      map[string]*v6Group
	order       []*v6Group
}

// v6Group is the paths announced with the same attributes and next hop.
type v6Group struct {
	nexthop string
	paths   []*Path
}

func newPackerV6() *packerV6 {
	return &packerV6{packer: packer{family: bgp.RF_IPv6_UC}, groups: make(map[string]*v6Group)}
}

func (p *packerV6) add(path *Path) {
	p.packer.total++
	switch {
	case path.IsEOR():
		p.packer.eof = true
		return
	case path.IsWithdraw:
		p.withdrawals = append(p.withdrawals, path)
		return
	}
	nh := path.GetNexthop().String()
	var key strings.Builder
	key.WriteString(nh)
	key.WriteByte(0)
	for _, a := range path.GetPathAttrs() {
		if a.GetType() == bgp.BGP_ATTR_TYPE_MP_REACH_NLRI {
			continue
		}
		b, _ := a.Serialize()
		key.Write(b)
	}
	g, ok := p.groups[key.String()]
	if !ok {
		g = &v6Group{nexthop: nh}
		p.groups[key.String()] = g
		p.order = append(p.order, g)
	}
	g.paths = append(g.paths, path)
}

func (p *packerV6) pack(options ...*bgp.MarshallingOption) []*bgp.BGPMessage {
	perNLRI := 0
	if bgp.IsAddPathEnabled(false, p.packer.family, options) {
		perNLRI = 4
	}
	var msgs []*bgp.BGPMessage
	chunks(p.withdrawals, updateOverhead+mpUnreachOverhead, perNLRI, func(nlris []bgp.AddrPrefixInterface) {
		attr := bgp.NewPathAttributeMpUnreachNLRI(nlris)
		msgs = append(msgs, bgp.NewBGPUpdateMessage(nil, []bgp.PathAttributeInterface{attr}, nil))
	})
	for _, g := range p.order {
		attrs := g.paths[0].GetPathAttrs()
		others := 0
		for _, a := range attrs {
			if a.GetType() != bgp.BGP_ATTR_TYPE_MP_REACH_NLRI {
				others += a.Len()
			}
		}
		chunks(g.paths, updateOverhead+others+mpReachOverhead, perNLRI, func(nlris []bgp.AddrPrefixInterface) {
			msgs = append(msgs, bgp.NewBGPUpdateMessage(nil, withMpReach(attrs, g.nexthop, nlris), nil))
		})
	}
	if p.eof {
		msgs = append(msgs, bgp.NewEndOfRib(p.family))
	}
	return msgs
}

// chunks calls emit with the paths' prefixes, as many at a time as fit in
// one message beside fixed bytes.
func chunks(paths []*Path, fixed, perNLRI int, emit func([]bgp.AddrPrefixInterface)) {
	for len(paths) > 0 {
		size, n := fixed, 0
		for n < len(paths) {
			l := paths[n].GetNlri().Len() + perNLRI
			if n > 0 && size+l > bgp.BGP_MAX_MESSAGE_LENGTH {
				break
			}
			size += l
			n++
		}
		nlris := make([]bgp.AddrPrefixInterface, n)
		for i, path := range paths[:n] {
			nlris[i] = path.GetNlri()
		}
		emit(nlris)
		paths = paths[n:]
	}
}

// withMpReach is attrs with their MP_REACH_NLRI replaced by one that
// carries nlris (added where there is none).
func withMpReach(attrs []bgp.PathAttributeInterface, nexthop string, nlris []bgp.AddrPrefixInterface) []bgp.PathAttributeInterface {
	mp := bgp.NewPathAttributeMpReachNLRI(nexthop, nlris)
	out := make([]bgp.PathAttributeInterface, 0, len(attrs)+1)
	replaced := false
	for _, a := range attrs {
		if a.GetType() == bgp.BGP_ATTR_TYPE_MP_REACH_NLRI {
			out = append(out, mp)
			replaced = true
			continue
		}
		out = append(out, a)
	}
	if !replaced {
		out = append(out, mp)
	}
	return out
}
