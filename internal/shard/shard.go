// Package shard picks, for the calling goroutine, one of a few padded
// counters: the one speed trick the engine's lock-free counters share
// (core's Budget and Throttler).
//
// A counter written by every call on every core is a contended cache line;
// N counters, each goroutine keeping to one, spread the writes. The index
// is a hash of an address on the caller's stack: a goroutine keeps to one
// index while its stack stays put, goroutines on different cores mostly
// get different ones, and it costs a multiply (a random number per call
// cost about as much as the atomic add it spreads). The address is only
// hashed, never turned back into a pointer.
package shard

import "unsafe"

// Bits is log2 of N.
const Bits = 3

// N is the number of shards: Index returns a value in [0, N).
const N = 1 << Bits

// Index returns the calling goroutine's shard.
func Index() uint64 {
	var x byte
	return uint64(uintptr(unsafe.Pointer(&x))>>10) * 0x9e3779b97f4a7c15 >> (64 - Bits)
}
