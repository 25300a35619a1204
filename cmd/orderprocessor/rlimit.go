package main

import "github.com/orderprocessor/orderprocessor/stream"

// openFileLimit is the process's limit of open files (RLIMIT_NOFILE).
type openFileLimit struct {
	Before uint64 // the soft limit found at start
	Soft   uint64 // the soft limit after raiseOpenFileLimit
	Hard   uint64
}

// defaultStreamTotal is the default of --stream-max-total for a soft limit
// of open files: half of it, so that streams (one descriptor each) leave
// the other half to the other clients' connections, the store's files and
// the connections to Redis or DynamoDB, and at most stream.DefaultMaxTotal.
// 0 (unknown limit) gives stream.DefaultMaxTotal.
func defaultStreamTotal(soft uint64) int {
	if soft == 0 {
		return stream.DefaultMaxTotal
	}
	return int(min(soft/2, stream.DefaultMaxTotal))
}

// streamBound maps a bound flag (0: none) to the platform's setting
// (negative: none).
func streamBound(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}
