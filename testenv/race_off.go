//go:build !race

package testenv

// RaceEnabled reports whether the binary runs with the race detector, which
// slows it several times: latency measurements skip under it.
const RaceEnabled = false
