package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// startServe runs serve with args (and a fresh data directory, the static
// price feed and loopback addresses) and returns the API's and the
// metrics' base URLs ("" without a metrics listener). The server stops at
// the end of the test.
func startServeInProcess(t *testing.T, args ...string) (api, metrics string) {
	t.Helper()
	t.Setenv("ORDERPROCESSOR_JWT_SECRET", validSecret)
	ctx, cancel := context.WithCancel(context.Background())
	type addrs struct{ api, metrics net.Addr }
	ready := make(chan addrs, 1)
	done := make(chan int, 1)
	args = append([]string{"--data-dir", t.TempDir(), "--addr", "127.0.0.1:0", "--price-feed", "static"}, args...)
	go func() {
		done <- serve(ctx, args, func(a, m net.Addr) { ready <- addrs{a, m} })
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve %v = %d", args, code)
		}
	})
	select {
	case a := <-ready:
		api = "http://" + a.api.String()
		if a.metrics != nil {
			metrics = "http://" + a.metrics.String()
		}
		return api, metrics
	case code := <-done:
		t.Fatalf("serve %v = %d before listening", args, code)
	case <-time.After(60 * time.Second):
		t.Fatalf("serve %v: not listening after 60 s", args)
	}
	return "", ""
}

// get returns the status and body of GET url.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(b)
}

// isMetrics reports whether body is the platform's Prometheus exposition.
func isMetrics(body string) bool {
	return strings.Contains(body, "# TYPE gateway_http_requests_in_flight gauge") && strings.Contains(body, "# TYPE go_goroutines gauge")
}

// TestServeMetricsAddr: with --metrics-addr the metrics are on that
// listener (and only at /metrics there) and the API's /metrics answers
// 404; in production mode without it, the API's /metrics answers 404 too;
// otherwise the API serves them.
func TestServeMetricsAddr(t *testing.T) {
	const notFound = `"error":"NOT_FOUND","message":"not found","code":"NOT_FOUND"`
	t.Run("production with --metrics-addr", func(t *testing.T) {
		api, metrics := startServeInProcess(t, "--production", "--metrics-addr", "127.0.0.1:0")
		if metrics == "" {
			t.Fatal("no metrics listener")
		}
		if code, body := get(t, metrics+"/metrics"); code != http.StatusOK || !isMetrics(body) {
			t.Fatalf("metrics listener /metrics: %d %.200q", code, body)
		}
		if code, _ := get(t, metrics+"/health"); code != http.StatusNotFound {
			t.Fatalf("metrics listener /health: %d, want 404", code)
		}
		if code, body := get(t, api+"/metrics"); code != http.StatusNotFound || !strings.Contains(body, notFound) {
			t.Fatalf("API /metrics: %d %.200q, want 404 %s", code, body, notFound)
		}
		if code, _ := get(t, api+"/health"); code != http.StatusOK {
			t.Fatalf("API /health: %d", code)
		}
	})
	t.Run("production without --metrics-addr", func(t *testing.T) {
		api, metrics := startServeInProcess(t, "--production")
		if metrics != "" {
			t.Fatalf("metrics listener %s without --metrics-addr", metrics)
		}
		if code, body := get(t, api+"/metrics"); code != http.StatusNotFound || !strings.Contains(body, notFound) {
			t.Fatalf("API /metrics: %d %.200q, want 404 %s", code, body, notFound)
		}
	})
	t.Run("--metrics-addr without production", func(t *testing.T) {
		t.Setenv("ORDERPROCESSOR_METRICS_ADDR", "127.0.0.1:0")
		api, metrics := startServeInProcess(t)
		if code, body := get(t, metrics+"/metrics"); code != http.StatusOK || !isMetrics(body) {
			t.Fatalf("metrics listener /metrics: %d %.200q", code, body)
		}
		if code, _ := get(t, api+"/metrics"); code != http.StatusNotFound {
			t.Fatalf("API /metrics: %d, want 404", code)
		}
	})
	t.Run("default", func(t *testing.T) {
		api, _ := startServeInProcess(t)
		if code, body := get(t, api+"/metrics"); code != http.StatusOK || !isMetrics(body) {
			t.Fatalf("API /metrics: %d %.200q", code, body)
		}
	})
}
