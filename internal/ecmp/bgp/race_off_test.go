//go:build !race

package bgp

// raceDetector: see race_on_test.go.
const raceDetector = false
