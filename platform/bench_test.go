package platform_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/orderprocessor/orderprocessor/auth"
	"github.com/orderprocessor/orderprocessor/gateway"
	"github.com/orderprocessor/orderprocessor/platform"
	"github.com/orderprocessor/orderprocessor/trading"
)

// BenchmarkHTTPMarketOrder measures market orders through the whole stack
// in one process: gateway (JWT, limits), JSON, trading, durable commit.
func BenchmarkHTTPMarketOrder(b *testing.B) {
	g := gateway.DefaultConfig()
	g.RateLimit = 0
	g.RegisterLimit = 0 // 32 users register from one address
	tc := trading.DefaultConfig()
	tc.DepositDailyLimit = tc.DepositDailyLimit.Mul(tc.DepositDailyLimit)
	p, err := platform.Open(context.Background(), platform.Config{DataDir: b.TempDir(), Gateway: g, Trading: tc,
		PriceFeed: "static", PasswordParams: auth.Params{MemoryKiB: 64, Iterations: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	srv := httptest.NewServer(p.Handler)
	defer srv.Close()
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 256
	client := &http.Client{Transport: tr}
	post := func(path, token string, body any) (int, []byte) {
		j, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", srv.URL+path, bytes.NewReader(j))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer res.Body.Close()
		out, _ := io.ReadAll(res.Body)
		return res.StatusCode, out
	}
	const users = 32
	tokens := make([]string, users)
	for i := range tokens {
		name := fmt.Sprintf("bench_user_%02d", i)
		post("/api/v1/auth/register", "", map[string]any{"username": name, "email": name + "@example.com",
			"password": "Str0ng!Passw0rd", "first_name": "B", "last_name": "U"})
		_, body := post("/api/v1/auth/login", "", map[string]any{"username": name, "password": "Str0ng!Passw0rd"})
		var lr struct {
			AccessToken string `json:"access_token"`
		}
		_ = json.Unmarshal(body, &lr)
		tokens[i] = lr.AccessToken
		if st, _ := post("/api/v1/balance/deposit", tokens[i], map[string]any{"amount": "1000000"}); st != 201 {
			b.Fatal("deposit failed")
		}
	}
	order := []byte(`{"order_type":"market_buy","asset_id":"DOGE","quantity":"0.1"}`)
	var n atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("POST", srv.URL+"/api/v1/orders", bytes.NewReader(order))
			req.Header.Set("Authorization", "Bearer "+tokens[n.Add(1)%users])
			res, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 201 {
				b.Fatalf("status %d", res.StatusCode)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "orders/s")
}
