package trading_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/orderprocessor/orderprocessor/entity"
)

// BenchmarkMarketBuy measures durable market buys through the trading layer
// (no HTTP), spread over 64 users, with parallel callers.
func BenchmarkMarketBuy(b *testing.B) {
	e := newEnv(b, "100", "1000")
	const users = 64
	for i := 0; i < users; i++ {
		e.user(fmt.Sprintf("user%03d", i), "10000")
	}
	var n atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			u := fmt.Sprintf("user%03d", n.Add(1)%users)
			if _, _, err := e.s.PlaceOrder(e.ctx, u, entity.OrderCreate{OrderType: entity.MarketBuy, AssetID: "XYZ", Quantity: decp("0.001")}, "", nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "orders/s")
}
