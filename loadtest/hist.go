package loadtest

import (
	"math"
	"math/bits"
	"time"
)

// Histogram buckets, HDR-style (log-linear): values below 2^subBits are
// exact; above, each power of two is split into 2^(subBits-1) equal buckets,
// so a bucket's width is at most 1/64 of its values (1.6% relative error).
const (
	subBits    = 7
	subCount   = 1 << subBits                      // 128 exact values
	halfCount  = subCount / 2                      // buckets per power of two above them
	numBuckets = (63-subBits)*halfCount + subCount // up to math.MaxInt64
)

// histogram records durations in nanoseconds in a fixed number of buckets
// (about 30 KiB), whatever the number of samples. Not safe for concurrent
// use: each worker has its own, merged at the end.
type histogram struct {
	counts [numBuckets]uint64
	n      uint64
	sum    uint64 // nanoseconds
	max    int64
}

// bucketOf returns the bucket of v >= 0.
func bucketOf(v int64) int {
	if v < subCount {
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - subBits // v>>shift is in [halfCount, subCount)
	return shift*halfCount + int(v>>shift)
}

// bucketMax returns the largest value that falls in bucket i.
func bucketMax(i int) int64 {
	if i < subCount {
		return int64(i)
	}
	shift := i/halfCount - 1
	top := int64(i%halfCount + halfCount)
	return (top+1)<<shift - 1
}

func (h *histogram) record(d time.Duration) {
	v := int64(d)
	if v < 0 {
		v = 0
	}
	h.counts[bucketOf(v)]++
	h.n++
	h.sum += uint64(v)
	if v > h.max {
		h.max = v
	}
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	h.max = max(h.max, o.max)
}

// quantile returns the value at quantile q in [0, 1]: the upper bound of the
// bucket holding the ceil(q*n)-th smallest sample (never above the maximum
// recorded), or 0 when the histogram is empty.
func (h *histogram) quantile(q float64) int64 {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(bucketMax(i), h.max)
		}
	}
	return h.max
}

// latency summarises h in milliseconds.
func (h *histogram) latency() Latency {
	ms := func(ns int64) float64 { return math.Round(float64(ns)/1e3) / 1e3 }
	l := Latency{P50: ms(h.quantile(0.50)), P90: ms(h.quantile(0.90)), P99: ms(h.quantile(0.99)), Max: ms(h.max)}
	if h.n > 0 {
		l.Mean = ms(int64(h.sum / h.n))
	}
	return l
}
