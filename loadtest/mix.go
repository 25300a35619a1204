package loadtest

import (
	"fmt"
	"strconv"
	"strings"
)

// Op is a kind of request the generator sends.
type Op int

// The operations of a mix.
const (
	// OpBuy is a market buy of Config.Quantity of one of Config.Assets.
	OpBuy Op = iota
	// OpSell is a market sell of a quantity an earlier buy of the same user
	// bought (a buy is sent instead while the user holds none).
	OpSell
	// OpLimit is a limit buy at half the market price, which rests on the
	// book holding cash; the next OpLimit of the same client for the same
	// user cancels it (an OpCancel) instead of placing another. (A server
	// without limit orders answers 422: counted as errors by status.)
	OpLimit
	// OpRead is one of GET /api/v1/orders?limit=10, /api/v1/balance and
	// /api/v1/portfolio, in turn.
	OpRead
	// numMixOps is the number of ops a Mix weighs.
	numMixOps
	// OpCancel is DELETE /api/v1/orders/{id} of a resting limit order: sent
	// in place of every other OpLimit, never weighed by a Mix.
	OpCancel = numMixOps
	numOps   = OpCancel + 1
)

var opNames = [numOps]string{"buy", "sell", "limit", "read", "cancel"}

// String returns the op's name in a mix: buy, sell, limit or read.
func (o Op) String() string {
	if o < 0 || o >= numOps {
		return "op(" + strconv.Itoa(int(o)) + ")"
	}
	return opNames[o]
}

// isOrder reports whether o places an order.
func (o Op) isOrder() bool { return o == OpBuy || o == OpSell || o == OpLimit }

// Mix is the relative weight of each operation, indexed by Op (OpBuy,
// OpSell, OpLimit, OpRead).
type Mix [numMixOps]int

// DefaultMix is half buys, half sells.
var DefaultMix = Mix{OpBuy: 50, OpSell: 50}

// ParseMix parses "buy=45,sell=45,read=10": comma-separated op=weight pairs
// with ops among buy, sell, limit and read, each at most once, and weights
// non-negative integers that sum to more than 0. Missing ops weigh 0.
func ParseMix(s string) (Mix, error) {
	var m Mix
	var seen [numMixOps]bool
	total := 0
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, weight, ok := strings.Cut(part, "=")
		if !ok {
			return Mix{}, fmt.Errorf("mix %q: %q is not op=weight", s, part)
		}
		op := Op(-1)
		for i, n := range opNames[:numMixOps] {
			if strings.EqualFold(strings.TrimSpace(name), n) {
				op = Op(i)
			}
		}
		if op < 0 {
			return Mix{}, fmt.Errorf("mix %q: unknown op %q (buy, sell, limit or read)", s, name)
		}
		if seen[op] {
			return Mix{}, fmt.Errorf("mix %q: %s given twice", s, op)
		}
		seen[op] = true
		w, err := strconv.Atoi(strings.TrimSpace(weight))
		if err != nil || w < 0 || w > 1_000_000 {
			return Mix{}, fmt.Errorf("mix %q: weight of %s must be an integer in 0..1000000", s, op)
		}
		m[op] = w
		total += w
	}
	if total == 0 {
		return Mix{}, fmt.Errorf("mix %q: the weights sum to 0", s)
	}
	return m, nil
}

// String formats m as ParseMix reads it, omitting zero weights.
func (m Mix) String() string {
	var b strings.Builder
	for op, w := range m {
		if w == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%d", Op(op), w)
	}
	return b.String()
}

// pick maps r in [0, total) to an op by weight.
func (m Mix) pick(r int) Op {
	for op, w := range m {
		if r < w {
			return Op(op)
		}
		r -= w
	}
	return OpRead // unreachable with r < total
}

func (m Mix) total() int {
	t := 0
	for _, w := range m {
		t += w
	}
	return t
}
