//go:build race

package trading_test

// raceEnabled reports whether the tests run under the race detector, which
// makes them ~15 times slower: the large suites run smaller then.
const raceEnabled = true
