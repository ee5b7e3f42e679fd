//go:build race

package core_test

// raceEnabled: sync.Pool drops items at random under the race detector.
const raceEnabled = true
