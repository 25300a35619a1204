package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/cockroachdb/apd/v3"

	"github.com/orderprocessor/orderprocessor/store"
)

// race runs n goroutines released at the same moment and waits for them.
func race(n int, f func(g int)) {
	var start, done sync.WaitGroup
	start.Add(1)
	done.Add(n)
	for g := 0; g < n; g++ {
		go func() {
			defer done.Done()
			start.Wait()
			f(g)
		}()
	}
	start.Done()
	done.Wait()
}

// errs collects the unexpected errors of racing goroutines.
type errs struct {
	mu   sync.Mutex
	list []error
}

func (e *errs) add(err error) {
	e.mu.Lock()
	e.list = append(e.list, err)
	e.mu.Unlock()
}

func (e *errs) check(t *testing.T) {
	t.Helper()
	if len(e.list) > 0 {
		t.Fatalf("%d unexpected errors, first: %v", len(e.list), e.list[0])
	}
}

func testConcurrency(t *testing.T, open OpenFunc) {
	t.Run("version race", func(t *testing.T) {
		t.Parallel()
		s := fresh(t, open)
		ctx := context.Background()
		k := key(TableItems, "RACE", "v")
		mustPut(t, s, k, store.Item{"version": store.Int(0)})
		const goroutines, versions = 50, 40
		var mu sync.Mutex
		winners := map[int64][]int{} // version -> goroutines that wrote it
		var bad errs
		race(goroutines, func(g int) {
			for {
				it, err := s.Get(ctx, k)
				if err != nil {
					bad.add(err)
					return
				}
				v := it.Int("version")
				if v >= versions {
					return
				}
				_, err = s.Update(ctx, store.Update{Key: k, Cond: store.VersionIs(v), Actions: []store.Action{
					store.Set("version", store.Int(v+1)), store.Set("by", store.Int(int64(g))),
				}})
				switch {
				case err == nil:
					mu.Lock()
					winners[v+1] = append(winners[v+1], g)
					mu.Unlock()
				case errors.Is(err, store.ErrConditionFailed):
				default:
					bad.add(err)
					return
				}
			}
		})
		bad.check(t)
		for v := int64(1); v <= versions; v++ {
			if len(winners[v]) != 1 {
				t.Fatalf("version %d won by %v, want exactly one goroutine", v, winners[v])
			}
		}
		if len(winners) != versions {
			t.Fatalf("%d versions won, want %d", len(winners), versions)
		}
		it := mustGet(t, s, k)
		if it.Int("version") != versions || it.Int("by") != int64(winners[versions][0]) {
			t.Fatalf("final item %v, last winner %v", it, winners[versions])
		}
	})

	t.Run("concurrent adds", func(t *testing.T) {
		t.Parallel()
		s := fresh(t, open)
		ctx := context.Background()
		k := key(TableLedger, "RACE", "counter")
		const goroutines, adds = 20, 10
		var bad errs
		race(goroutines, func(g int) {
			for i := 0; i < adds; i++ {
				if _, err := s.Update(ctx, store.Update{Key: k, Actions: []store.Action{store.Add("n", store.Int(1)), store.Add("cents", num("0.01"))}}); err != nil {
					bad.add(err)
				}
			}
		})
		bad.check(t)
		it := mustGet(t, s, k)
		if it.Int("n") != goroutines*adds || !it["cents"].Equal(num("2.00")) {
			t.Fatalf("counter %v, want n=%d cents=2.00", it, goroutines*adds)
		}
	})

	// Transfers move money between accounts by read-modify-write: each
	// reads both balances and versions, then writes the new balances with
	// Set under VersionIs and balance >= amount. A lost update or a half
	// transaction would break the sum.
	t.Run("transfers conserve money", func(t *testing.T) {
		t.Parallel()
		s := fresh(t, open)
		ctx := context.Background()
		const accounts, goroutines, transfers = 3, 12, 15
		acct := func(i int) store.Key { return key(TableItems, fmt.Sprintf("ACCT#%d", i), "BALANCE") }
		for i := 0; i < accounts; i++ {
			mustPut(t, s, acct(i), store.Item{"balance": num("100.00"), "version": store.Int(0)})
		}
		var mu sync.Mutex
		committed := 0
		var bad errs
		race(goroutines, func(g int) {
			for n := 0; n < transfers; n++ {
				from, to := (g+n)%accounts, (g+n+1+g%2)%accounts
				if from == to {
					to = (to + 1) % accounts
				}
				amount := num(fmt.Sprintf("%d.%02d", (g*7+n*13)%60, (g*31+n)%100))
				for attempt := 0; ; attempt++ {
					if attempt > 1000 {
						bad.add(errors.New("transfer starved"))
						return
					}
					fi, err1 := s.Get(ctx, acct(from))
					ti, err2 := s.Get(ctx, acct(to))
					if err := errors.Join(err1, err2); err != nil {
						bad.add(err)
						return
					}
					fb, _ := fi.Num("balance")
					tb, _ := ti.Num("balance")
					amt, _ := amount.Decimal()
					if fb.Cmp(amt) < 0 {
						break // not enough money: skip this transfer
					}
					var nf, nt apd.Decimal
					if _, err := apd.BaseContext.Sub(&nf, fb, amt); err != nil {
						bad.add(err)
						return
					}
					if _, err := apd.BaseContext.Add(&nt, tb, amt); err != nil {
						bad.add(err)
						return
					}
					err := s.Transact(ctx, []store.Write{
						update(acct(from), store.And(store.VersionIs(fi.Int("version")), store.Ge("balance", amount)),
							store.Set("balance", store.Dec(&nf)), store.Set("version", store.Int(fi.Int("version")+1))),
						update(acct(to), store.VersionIs(ti.Int("version")),
							store.Set("balance", store.Dec(&nt)), store.Set("version", store.Int(ti.Int("version")+1))),
					})
					switch {
					case err == nil:
						mu.Lock()
						committed++
						mu.Unlock()
					case errors.Is(err, store.ErrConditionFailed), errors.Is(err, store.ErrTxConflict):
						continue // someone else moved first: read again
					default:
						bad.add(err)
						return
					}
					break
				}
			}
		})
		bad.check(t)
		sum := new(apd.Decimal)
		versions := int64(0)
		for i := 0; i < accounts; i++ {
			it := mustGet(t, s, acct(i))
			b, err := it.Num("balance")
			if err != nil {
				t.Fatal(err)
			}
			if b.Sign() < 0 {
				t.Fatalf("account %d overdrawn: %v", i, it)
			}
			if _, err := apd.BaseContext.Add(sum, sum, b); err != nil {
				t.Fatal(err)
			}
			versions += it.Int("version")
		}
		if sum.Cmp(apd.New(300, 0)) != 0 {
			t.Fatalf("money not conserved: sum %s, want 300", sum.Text('f'))
		}
		if committed == 0 || versions != int64(2*committed) {
			t.Fatalf("%d transfers committed but versions sum to %d", committed, versions)
		}
	})

	// Transfers with Add: the store does the arithmetic under the condition
	// balance >= amount, so racing transfers never overdraw.
	t.Run("conditional adds never overdraw", func(t *testing.T) {
		t.Parallel()
		s := fresh(t, open)
		ctx := context.Background()
		a, b := key(TableLedger, "ACCT#a", "BALANCE"), key(TableLedger, "ACCT#b", "BALANCE")
		mustPut(t, s, a, store.Item{"balance": num("10.00")})
		mustPut(t, s, b, store.Item{"balance": num("10.00")})
		const goroutines, transfers = 16, 10
		var mu sync.Mutex
		moved := map[string]int{}
		var bad errs
		race(goroutines, func(g int) {
			from, to, dir := a, b, "a->b"
			if g%2 == 1 {
				from, to, dir = b, a, "b->a"
			}
			for n := 0; n < transfers; n++ {
				amount := num("3.33")
				err := s.Transact(ctx, []store.Write{
					update(from, store.Ge("balance", amount), store.Add("balance", num("-3.33"))),
					update(to, nil, store.Add("balance", amount)),
				})
				switch {
				case err == nil:
					mu.Lock()
					moved[dir]++
					mu.Unlock()
				case errors.Is(err, store.ErrConditionFailed), errors.Is(err, store.ErrTxConflict):
				default:
					bad.add(err)
					return
				}
			}
		})
		bad.check(t)
		ab, _ := mustGet(t, s, a).Num("balance")
		bb, _ := mustGet(t, s, b).Num("balance")
		if ab.Sign() < 0 || bb.Sign() < 0 {
			t.Fatalf("overdrawn: a=%s b=%s", ab.Text('f'), bb.Text('f'))
		}
		// a = 10 - 3.33*(a->b) + 3.33*(b->a), exactly.
		want := num(fmt.Sprintf("%d", 1000+333*(moved["b->a"]-moved["a->b"])))
		wd, _ := want.Decimal()
		wd.Exponent -= 2
		if ab.Cmp(wd) != 0 {
			t.Fatalf("a = %s, want %s after %v", ab.Text('f'), wd.Text('f'), moved)
		}
		var sum apd.Decimal
		if _, err := apd.BaseContext.Add(&sum, ab, bb); err != nil || sum.Cmp(apd.New(20, 0)) != 0 {
			t.Fatalf("sum %s, want 20", sum.Text('f'))
		}
	})

	t.Run("disjoint transactions all commit", func(t *testing.T) {
		t.Parallel()
		s := fresh(t, open)
		ctx := context.Background()
		const goroutines, rounds = 16, 5
		var bad errs
		race(goroutines, func(g int) {
			for r := 0; r < rounds; r++ {
				pk := fmt.Sprintf("USER#%d", g)
				err := s.Transact(ctx, []store.Write{
					update(key(TableItems, pk, "BALANCE"), nil, store.Add("n", store.Int(1))),
					put(key(TableLedger, pk, fmt.Sprintf("TX#%d", r)), store.Item{"r": store.Int(int64(r))}, store.ItemNotExists()),
					update(key(TableItems, pk, "STATS"), store.Or(store.ItemNotExists(), store.VersionIs(int64(r))), store.Set("version", store.Int(int64(r+1)))),
				})
				if err != nil {
					bad.add(fmt.Errorf("goroutine %d round %d: %w", g, r, err))
				}
			}
		})
		bad.check(t)
		for g := 0; g < goroutines; g++ {
			pk := fmt.Sprintf("USER#%d", g)
			if n := mustGet(t, s, key(TableItems, pk, "BALANCE")).Int("n"); n != rounds {
				t.Fatalf("%s balance n = %d", pk, n)
			}
			if v := mustGet(t, s, key(TableItems, pk, "STATS")).Int("version"); v != rounds {
				t.Fatalf("%s version = %d", pk, v)
			}
			p, err := s.Query(ctx, store.Query{Table: TableLedger, PK: pk})
			if err != nil || len(p.Items) != rounds {
				t.Fatalf("%s has %d ledger entries (%v)", pk, len(p.Items), err)
			}
		}
	})
}
