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

package server

import (
	"bytes"
	"context"
	"fmt"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/internal/pkg/table"
	"github.com/osrg/gobgp/v3/pkg/packet/bgp"
)

// uplinkd patch (PATCHES.md): a list of local paths (one AddPathStream
// request, one AddPath, one DeletePath of many) is sent to each peer as
// one list. Upstream propagates the paths of a list one by one and hands
// each peer's share of every path to its session separately, so the
// session's packer sees one path at a time and writes one UPDATE per
// prefix; gathered, the paths that share attributes go out packed (about
// a thousand IPv4 prefixes per UPDATE), as a session's initial table does.
//
// Only plain IPv4/IPv6 unicast lists without a repeated prefix are
// gathered: the packer reorders a list (withdrawals first, then by
// attributes), which changes nothing when every prefix occurs once, but
// would change what a receiver ends with if one prefix were announced
// and withdrawn, or announced twice, in one list.

// outgoingBatch is what each peer is to be sent, in the order the peers
// were first given something.
type outgoingBatch struct {
	peers []*peer
	paths map[*peer][]*table.Path
}

func newOutgoingBatch() *outgoingBatch {
	return &outgoingBatch{paths: make(map[*peer][]*table.Path)}
}

// sendPropagated sends paths to peer, or gathers them while a list is
// propagated.
func (s *BgpServer) sendPropagated(peer *peer, paths []*table.Path) {
	b := s.outBatch
	if b == nil {
		sendfsmOutgoingMsg(peer, paths, nil, false)
		return
	}
	if _, ok := b.paths[peer]; !ok {
		b.peers = append(b.peers, peer)
	}
	b.paths[peer] = append(b.paths[peer], paths...)
}

// flushOutBatch sends each peer what was gathered for it and ends the
// gathering.
func (s *BgpServer) flushOutBatch() {
	b := s.outBatch
	s.outBatch = nil
	for _, p := range b.peers {
		sendfsmOutgoingMsg(p, b.paths[p], nil, false)
	}
}

// batchable reports whether a list propagated from source may be sent
// gathered: a local list of more than one IPv4/IPv6 unicast path with no
// prefix twice. A list in ascending order (an announcer's usually is)
// shows that without a map.
func batchable(source *peer, paths []*table.Path) bool {
	if source != nil || len(paths) < 2 {
		return false
	}
	ascending := true
	var prev [18]byte
	for i, p := range paths {
		k, ok := unicastKey(p.GetNlri())
		if !ok {
			return false
		}
		if i > 0 && bytes.Compare(prev[:], k[:]) >= 0 {
			ascending = false
		}
		prev = k
	}
	return ascending || distinct(paths)
}

// distinct reports whether no prefix occurs twice in paths, all unicast.
func distinct(paths []*table.Path) bool {
	seen := make(map[[18]byte]struct{}, len(paths))
	for _, p := range paths {
		k, _ := unicastKey(p.GetNlri())
		if _, dup := seen[k]; dup {
			return false
		}
		seen[k] = struct{}{}
	}
	return true
}

// unicastKey is a unicast prefix as a comparable value: the family, the
// address in 16 bytes and the length.
func unicastKey(nlri bgp.AddrPrefixInterface) (k [18]byte, ok bool) {
	switch n := nlri.(type) {
	case *bgp.IPAddrPrefix:
		k[0] = 4
		copy(k[1:17], n.Prefix.To16())
		k[17] = n.Length
	case *bgp.IPv6AddrPrefix:
		k[0] = 6
		copy(k[1:17], n.Prefix.To16())
		k[17] = n.Length
	default:
		return k, false
	}
	return k, true
}

// plainPeers reports whether every peer takes the plain way of
// propagateUpdateToNeighbors for unicast: no route-server client (a table
// of its own) and no ADD-PATH sending (whose bookkeeping goes path by
// path, by the path propagated).
func (s *BgpServer) plainPeers() bool {
	for _, p := range s.neighborMap {
		if p.isRouteServerClient() || p.isAddPathSendEnabled(bgp.RF_IPv4_UC) || p.isAddPathSendEnabled(bgp.RF_IPv6_UC) {
			return false
		}
	}
	return true
}

// propagateLocalList is propagateUpdate for a batchable local list when
// plainPeers: each path through the import policy into the global table,
// then each family's table changes propagated in one call. Upstream calls
// propagateUpdateToNeighbors once per path, which for a plain peer does
// what one call does with all of them (dstsToPaths and
// processOutgoingPaths take lists; the path passed only picks the family,
// and the ADD-PATH and route-server ways this is not taken for); per path
// it made the change lists, the outgoing lists and the peer's export
// anew, about a third of what announcing a large table allocated.
func (s *BgpServer) propagateLocalList(rib *table.TableManager, pathList []*table.Path, opts *table.PolicyOptions) {
	dsts := make([]*table.Update, 0, len(pathList))
	var first *table.Path // the first path of the family being gathered
	flush := func() {
		if len(dsts) > 0 {
			s.propagateUpdateToNeighbors(rib, nil, first, dsts, true)
		}
		dsts, first = dsts[:0], nil
	}
	for _, path := range pathList {
		if p := s.policy.ApplyPolicy(table.GLOBAL_RIB_NAME, table.POLICY_DIRECTION_IMPORT, path, opts); p != nil {
			path = p
		} else {
			path = path.Clone(true)
		}
		if first != nil && first.GetRouteFamily() != path.GetRouteFamily() {
			flush()
		}
		if first == nil {
			first = path
		}
		dsts = rib.AppendUpdates(dsts, path)
	}
	flush()
}

// AddPathList adds paths in one management operation, as one request of
// the gRPC AddPathStream does, for a program that embeds the server:
// upstream offers a list only through gRPC, whose in-process round trip
// (marshal, socket, unmarshal) cost an announcer of a million paths more
// than adding them.
func (s *BgpServer) AddPathList(ctx context.Context, tableType api.TableType, vrfID string, paths []*api.Path) error {
	if tableType != api.TableType_GLOBAL && tableType != api.TableType_VRF {
		return fmt.Errorf("unsupported resource: %s", tableType)
	}
	list := make([]*table.Path, 0, len(paths))
	for _, p := range paths {
		tp, err := api2Path(tableType, p, p.IsWithdraw)
		if err != nil {
			return err
		}
		list = append(list, tp)
	}
	return s.addPathStream(vrfID, list)
}
