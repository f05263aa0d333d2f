/* SPDX-License-Identifier: MIT
 *
 * Copyright (C) 2017-2025 WireGuard LLC. All Rights Reserved.
 */

// uplinkd patch (see third_party/wireguard/PATCHES.md): message buffers
// outside the Go heap.
//
// Each receive routine holds a whole batch of message buffers (128 of
// 64 KiB for the UDP socket of each family and for the TUN reader: about
// 24 MiB a device) that an idle or lightly used tunnel barely touches.
// On the Go heap they count as live data, so the collector lets as much
// garbage again pile up before it runs: three tunnels added ~70 MiB of
// resident garbage to a daemon's peak. Mapped outside the heap they cost
// only the pages a packet touched, and the collector neither scans nor
// counts them.
//
// Buffers are never unmapped: a put buffer goes on a free list shared by
// every device, so the memory is bounded by the most ever in use at once
// (a closed device's buffers serve the next one), and no buffer can be
// unmapped while a late user still holds it. sync.Pool could not hold
// them: it drops idle items at a collection, which would leak the mapping.

package device

import "sync"

// bufferStride is MaxMessageSize rounded up to whole pages.
const bufferStride = 1 << 16

// slabBuffers is how many buffers one mapping holds (1 MiB).
const slabBuffers = 16

type bufferPool struct {
	mu     sync.Mutex
	free   []*[MaxMessageSize]byte
	mapped int // buffers mapped so far
}

var messageBuffers bufferPool

func (p *bufferPool) get() *[MaxMessageSize]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) == 0 {
		p.grow()
	}
	n := len(p.free) - 1
	b := p.free[n]
	p.free[n] = nil
	p.free = p.free[:n]
	return b
}

func (p *bufferPool) put(b *[MaxMessageSize]byte) {
	p.mu.Lock()
	p.free = append(p.free, b)
	p.mu.Unlock()
}

// grow maps a slab of buffers onto the free list, or, where that fails or
// is not supported, allocates one buffer on the heap.
func (p *bufferPool) grow() {
	slab := mapSlab(slabBuffers * bufferStride)
	if slab == nil {
		p.free = append(p.free, new([MaxMessageSize]byte))
		return
	}
	for i := range slabBuffers {
		p.free = append(p.free, (*[MaxMessageSize]byte)(slab[i*bufferStride:]))
	}
	p.mapped += slabBuffers
}

// MappedMessageBuffers is how many message buffers live outside the Go
// heap (uplinkd patch: for tests and status).
func MappedMessageBuffers() int {
	messageBuffers.mu.Lock()
	defer messageBuffers.mu.Unlock()
	return messageBuffers.mapped
}
