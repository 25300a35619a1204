//go:build !race

package main

// raceEnabled reports whether the tests run with the race detector, which
// multiplies the memory and CPU a process uses.
const raceEnabled = false
