//go:build !unix

/* SPDX-License-Identifier: MIT
 *
 * Copyright (C) 2017-2025 WireGuard LLC. All Rights Reserved.
 */

package device // uplinkd patch, see offheap.go

// mapSlab: no mapping here; buffers come from the heap.
func mapSlab(int) []byte { return nil }
