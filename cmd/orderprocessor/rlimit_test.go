package main

import (
	"testing"

	"github.com/orderprocessor/orderprocessor/stream"
)

// TestDefaultStreamTotal: half the soft limit of open files, at most
// stream.DefaultMaxTotal.
func TestDefaultStreamTotal(t *testing.T) {
	for _, tc := range []struct {
		soft uint64
		want int
	}{
		{0, stream.DefaultMaxTotal},
		{1024, 512},
		{20000, 10000},
		{1 << 20, stream.DefaultMaxTotal},
		{^uint64(0), stream.DefaultMaxTotal},
	} {
		if got := defaultStreamTotal(tc.soft); got != tc.want {
			t.Errorf("defaultStreamTotal(%d) = %d, want %d", tc.soft, got, tc.want)
		}
	}
}
