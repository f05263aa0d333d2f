//go:build race

package bfd

// raceDetector: the race detector slows every goroutine several times;
// see newFlowBound.
const raceDetector = true
