package testenv

import (
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/orderprocessor/orderprocessor/dao"
)

// InEveryTxOrder runs f as three subtests, with the writes of every
// dao.Tx in the order they were added, reversed, and shuffled (seeded by
// seed; safe for concurrent transactions), so that a test of how failed
// conditions map to errors shows the mapping does not depend on that order.
func InEveryTxOrder(t *testing.T, seed uint64, f func(t *testing.T)) {
	r := rand.New(rand.NewPCG(seed, seed+1))
	var mu sync.Mutex
	for _, o := range []struct {
		name string
		perm func(n int) []int
	}{
		{"added", nil},
		{"reversed", func(n int) []int {
			p := make([]int, n)
			for i := range p {
				p[i] = n - 1 - i
			}
			return p
		}},
		{"shuffled", func(n int) []int {
			mu.Lock()
			defer mu.Unlock()
			return r.Perm(n)
		}},
	} {
		t.Run(o.name, func(t *testing.T) {
			if o.perm != nil {
				t.Cleanup(dao.SetTxOrder(o.perm))
			}
			f(t)
		})
	}
}
