package trading_test

import (
	"sync"
	"testing"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/entity"
)

// release starts every goroutine at once.
func race(n int, fn func(i int)) {
	var start, done sync.WaitGroup
	start.Add(1)
	for i := 0; i < n; i++ {
		done.Add(1)
		go func(i int) {
			defer done.Done()
			start.Wait()
			fn(i)
		}(i)
	}
	start.Done()
	done.Wait()
}

// 50 concurrent limit buys each holding 100.00 against 1,000.00: exactly 10
// rest; then every resting order cancelled twice at once: exactly one cancel
// of each wins and the holds are released exactly once.
func TestConcurrentLimitHoldsAndCancels(t *testing.T) {
	e := newEnv(t, "100", "1000")
	var mu sync.Mutex
	var placed []*entity.Order
	refused := 0
	race(50, func(int) {
		p, _, err := e.s.PlaceOrder(e.ctx, "alice", entity.OrderCreate{OrderType: entity.LimitBuy, AssetID: "XYZ",
			Quantity: decp("2"), LimitPrice: decp("50")}, "", nil)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			placed = append(placed, p.Order)
		case apperr.Is(err, apperr.InsufficientFunds):
			refused++
		default:
			t.Errorf("place: %v", err)
		}
	})
	if len(placed) != 10 || refused != 40 {
		t.Fatalf("placed %d, refused %d; want 10 and 40", len(placed), refused)
	}
	e.cash("alice", "1000", "1000")
	e.verify()

	wins, conflicts := 0, 0
	race(2*len(placed), func(i int) {
		_, err := e.s.CancelOrder(e.ctx, placed[i/2])
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			wins++
		case apperr.Is(err, apperr.Conflict):
			conflicts++
		default:
			t.Errorf("cancel: %v", err)
		}
	})
	if wins != 10 || conflicts != 10 {
		t.Fatalf("cancels won %d, conflicted %d; want 10 and 10", wins, conflicts)
	}
	e.cash("alice", "1000", "0")
	e.verify()
}

// Sell-side holds: 30 concurrent stop-losses of 1 against a holding of 5:
// exactly 5 rest, holding all 5; a market sell then finds nothing available.
func TestConcurrentSellHolds(t *testing.T) {
	e := newEnv(t, "100", "1000")
	e.buyHolding("5")
	var mu sync.Mutex
	ok, refused := 0, 0
	race(30, func(int) {
		_, _, err := e.s.PlaceOrder(e.ctx, "alice", entity.OrderCreate{OrderType: entity.StopLoss, AssetID: "XYZ",
			Quantity: decp("1"), StopPrice: decp("80")}, "", nil)
		mu.Lock()
		defer mu.Unlock()
		if err == nil {
			ok++
		} else if apperr.Is(err, apperr.InsufficientFunds) {
			refused++
		} else {
			t.Errorf("place: %v", err)
		}
	})
	if ok != 5 || refused != 25 {
		t.Fatalf("rested %d, refused %d; want 5 and 25", ok, refused)
	}
	e.holding("alice", "5", "5")
	if _, _, err := e.s.PlaceOrder(e.ctx, "alice", entity.OrderCreate{OrderType: entity.MarketSell, AssetID: "XYZ", Quantity: decp("1")}, "", nil); !apperr.Is(err, apperr.InsufficientFunds) {
		t.Fatalf("sold held quantity: %v", err)
	}
	if n := e.tick("80"); n != 5 {
		t.Fatalf("stops fired %d, want 5", n)
	}
	e.holding("alice", "0", "0")
	e.cash("alice", "900", "0") // bought 5 at 100, sold 5 at 80
	e.verify()
}
