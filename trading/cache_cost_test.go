package trading_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/cache"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/trading"
)

// capacityTransport counts DynamoDB calls by operation and sums the
// capacity units DynamoDB reports as consumed (it asks for them on every
// call that can return them).
type capacityTransport struct {
	mu    sync.Mutex
	calls map[string]int
	units float64
	next  http.RoundTripper
}

var capacityOps = []string{"GetItem", "BatchGetItem", "Query", "PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems"}

func (c *capacityTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	op := r.Header.Get("X-Amz-Target")
	op = op[strings.LastIndexByte(op, '.')+1:]
	if slices.Contains(capacityOps, op) && r.Body != nil {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		body = append([]byte(`{"ReturnConsumedCapacity":"TOTAL",`), bytes.TrimPrefix(body, []byte("{"))...)
		r = r.Clone(r.Context())
		r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	}
	resp, err := c.next.RoundTrip(r)
	if err != nil {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	var out struct {
		ConsumedCapacity json.RawMessage
	}
	_ = json.Unmarshal(body, &out)
	var units float64
	type capacity struct{ CapacityUnits float64 }
	var one capacity
	var many []capacity
	if json.Unmarshal(out.ConsumedCapacity, &many) == nil {
		for _, c := range many {
			units += c.CapacityUnits
		}
	} else if json.Unmarshal(out.ConsumedCapacity, &one) == nil {
		units = one.CapacityUnits
	}
	c.mu.Lock()
	c.calls[op]++
	c.units += units
	c.mu.Unlock()
	return resp, nil
}

func (c *capacityTransport) take() (map[string]int, float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	calls, units := c.calls, c.units
	c.calls, c.units = map[string]int{}, 0
	return calls, units
}

// TestCachedCallCount measures the DynamoDB calls and consumed capacity
// of a market buy, a market sell, GET /balance and GET /orders/{id} (the
// reads their handlers make), without and with the Redis cache, and pins
// the cached costs: a market buy is one TransactWriteItems and no read, a
// sale reads its holding and idempotency record in one BatchGetItem, and a
// repeated read of a balance or an order reads nothing. The figures go to
// the test log (-v) and docs/performance.md.
func TestCachedCallCount(t *testing.T) {
	ep := os.Getenv("DYNAMODB_ENDPOINT")
	redisURL := os.Getenv("REDIS_URL")
	if ep == "" || redisURL == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("DynamoDB Local and Redis required in CI: DYNAMODB_ENDPOINT or REDIS_URL is not set")
		}
		t.Skip("DYNAMODB_ENDPOINT or REDIS_URL not set (scripts/dynamodb-local start, scripts/redis start)")
	}
	counter := &capacityTransport{calls: map[string]int{}, next: http.DefaultTransport}
	db, tables := dynamoThrough(t, ep, "ccost", counter)
	ctx := context.Background()
	c, err := cache.Open(ctx, redisURL, db, cache.Options{Prefix: "test:" + strings.ToLower(rand.Text()[:12]) + ":",
		Group: tables.CacheGroup, QueryGroup: tables.CacheQueryGroup, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })

	plain := trading.NewDAOs(db, tables)
	cached := trading.NewDAOs(c.Store(), tables)
	cached.Cache = c.View()
	cachedReads := trading.NewDAOs(c.View(), tables)
	now := entity.At(time.Now())
	if err := cached.Assets.Create(ctx, &entity.Asset{AssetID: "XYZ", Name: "Xyz", PriceUSD: dec("100"), IsActive: true,
		LastUpdated: now, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}

	type cost struct {
		calls map[string]int
		units float64
	}
	measure := func(f func() error) cost {
		t.Helper()
		counter.take()
		if err := f(); err != nil {
			t.Fatal(err)
		}
		calls, units := counter.take()
		return cost{calls, units}
	}
	run := func(name string, d, reads *dao.DAOs) map[string]cost {
		s := trading.New(d, trading.Config{}, trading.Options{Reads: reads})
		user := "u_" + name
		if _, _, err := s.Deposit(ctx, user, entity.DepositRequest{Amount: decp("1000")}, nil); err != nil {
			t.Fatal(err)
		}
		out := map[string]cost{}
		var orderID string
		for i, req := range []entity.OrderCreate{
			{OrderType: entity.MarketBuy, AssetID: "XYZ", Quantity: decp("2")},
			{OrderType: entity.MarketSell, AssetID: "XYZ", Quantity: decp("1")},
		} {
			idem := &trading.Idem{Key: tables.IdemKey(user, "order", fmt.Sprint("k", i)), ReqHash: "h",
				Render: func(any) (int, []byte, error) { return 201, []byte("{}"), nil }}
			// The first order warms the cache's quote.
			out[string(req.OrderType)] = measure(func() error {
				p, _, err := s.PlaceOrder(ctx, user, req, "", idem)
				if err == nil {
					orderID = p.Order.OrderID
				}
				return err
			})
		}
		// The buy again, with its Idempotency-Key: the stored response.
		out["market_buy, replayed"] = measure(func() error {
			idem := &trading.Idem{Key: tables.IdemKey(user, "order", "k0"), ReqHash: "h",
				Render: func(any) (int, []byte, error) { return 201, []byte("{}"), nil }}
			_, rep, err := s.PlaceOrder(ctx, user, entity.OrderCreate{OrderType: entity.MarketBuy, AssetID: "XYZ", Quantity: decp("2")}, "", idem)
			if err == nil && (rep == nil || string(rep.Body) != "{}") {
				err = fmt.Errorf("replay %+v, want the stored response", rep)
			}
			return err
		})
		r := s.ReadDAOs()
		out["GET /balance, first"] = measure(func() error { _, err := r.Balances.Get(ctx, user, entity.USD); return err })
		out["GET /balance, again"] = measure(func() error { _, err := r.Balances.Get(ctx, user, entity.USD); return err })
		out["GET /orders/{id}, first"] = measure(func() error { _, err := r.Orders.Get(ctx, user, orderID); return err })
		out["GET /orders/{id}, again"] = measure(func() error { _, err := r.Orders.Get(ctx, user, orderID); return err })
		portfolio := func() error { // the reads of GET /portfolio
			hs, err := r.Holdings.ListCurrent(ctx, user)
			if err != nil {
				return err
			}
			if _, err := r.Balances.List(ctx, user); err != nil {
				return err
			}
			for _, h := range hs {
				if _, err := r.Assets.Get(ctx, h.AssetID); err != nil {
					return err
				}
			}
			return nil
		}
		out["GET /portfolio, first"] = measure(portfolio)
		out["GET /portfolio, again"] = measure(portfolio)
		return out
	}
	without := run("plain", plain, nil)
	// The asset's creation wrote it through to the cache: the first order
	// finds its quote there.
	with := run("cached", cached, cachedReads)

	rows := []string{string(entity.MarketBuy), string(entity.MarketSell), "market_buy, replayed", "GET /balance, first", "GET /balance, again",
		"GET /orders/{id}, first", "GET /orders/{id}, again", "GET /portfolio, first", "GET /portfolio, again"}
	for _, r := range rows {
		t.Logf("| %s | %v, %.1f units | %v, %.1f units |", r, without[r].calls, without[r].units, with[r].calls, with[r].units)
	}
	want := map[string]string{
		string(entity.MarketBuy):  "map[TransactWriteItems:1]",
		string(entity.MarketSell): "map[BatchGetItem:1 TransactWriteItems:1]",
		"market_buy, replayed":    "map[GetItem:1 TransactWriteItems:1]",
		"GET /balance, first":     "map[GetItem:1]",
		"GET /balance, again":     "map[]",
		"GET /orders/{id}, first": "map[GetItem:1]",
		"GET /orders/{id}, again": "map[]",
		"GET /portfolio, first":   "map[Query:2]",
		"GET /portfolio, again":   "map[]",
	}
	for r, w := range want {
		if got := fmt.Sprint(with[r].calls); got != w {
			t.Errorf("%s with the cache: DynamoDB calls %s, want %s", r, got, w)
		}
	}
	if got := fmt.Sprint(without[string(entity.MarketBuy)].calls); got != "map[BatchGetItem:1 TransactWriteItems:1]" {
		t.Errorf("market buy without the cache: DynamoDB calls %s", got)
	}
}
