//go:build race

package bgp

// raceDetector: the race detector's allocator has no tiny-object
// combining, so heap object counts are not what a build ships with.
const raceDetector = true
