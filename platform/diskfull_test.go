package platform

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/gateway"
	"github.com/orderprocessor/orderprocessor/store/embedded"
)

// fullLog is an errorfs injector: once armed, every write and sync of the
// embedded store's write-ahead log fails with ENOSPC, as on a full disk.
type fullLog struct{ armed atomic.Bool }

func (f *fullLog) String() string { return "full disk under the log" }

func (f *fullLog) MaybeError(op errorfs.Op) error {
	if !f.armed.Load() || !strings.HasSuffix(op.Path, ".log") {
		return nil
	}
	switch op.Kind {
	case errorfs.OpFileWrite, errorfs.OpFileWriteAt, errorfs.OpFileSync, errorfs.OpFileSyncData, errorfs.OpFileSyncTo:
		return fmt.Errorf("injected: %w", syscall.ENOSPC)
	}
	return nil
}

// TestFullDiskFailsStore: once the disk under the embedded store's log is
// full, a deposit and an order are answered 503 {"detail":"store
// unavailable","code":"store_unavailable"} (no 500, no hang), and so is a
// read; /health/ready answers 503 naming the store, /health/live 200.
func TestFullDiskFailsStore(t *testing.T) {
	full := &fullLog{}
	edb, err := embedded.Open(t.TempDir(), dao.DefaultTables.Schemas(),
		embedded.Options{Logger: quiet(), FS: errorfs.Wrap(vfs.Default, full)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = edb.Close() })
	p, err := Open(context.Background(), Config{Store: sharedStore{edb}, JWTSecret: []byte(testSecret), Logger: quiet(),
		PasswordParams: fastParams, Gateway: gateway.DefaultConfig(), PriceFeed: "static", AdminPassword: adminPassword})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p.Handler)
	t.Cleanup(func() {
		srv.Close()
		_ = p.Close()
	})
	// A hang fails the request, not the suite.
	hc := &http.Client{Timeout: 10 * time.Second}
	do := func(method, path, token string, body any, hdr ...string) (int, []byte) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, err := http.NewRequest(method, srv.URL+path, rd)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, b
	}
	c := client{t, srv.URL}
	c.do("POST", "/api/v1/auth/register", "", map[string]any{"username": "full_disk_1", "email": "full1@example.com",
		"password": userPassword, "first_name": "Full", "last_name": "Disk"}).Want(t, 201)
	tok := login(t, c, "full_disk_1", userPassword)
	c.do("POST", "/api/v1/balance/deposit", tok, map[string]any{"amount": "1000"}, "Idempotency-Key", "dep-1").Want(t, 201)
	if st, b := do("GET", "/health/ready", "", nil); st != 200 {
		t.Fatalf("ready before the fault: %d %s", st, b)
	}

	full.armed.Store(true)
	wantStoreUnavailable := func(what string, st int, b []byte) {
		t.Helper()
		var body map[string]any
		if err := json.Unmarshal(b, &body); err != nil || st != 503 || len(body) != 2 ||
			body["detail"] != "store unavailable" || body["code"] != "store_unavailable" {
			t.Fatalf("%s: %d %s, want 503 {\"detail\":\"store unavailable\",\"code\":\"store_unavailable\"}", what, st, b)
		}
	}
	st, b := do("POST", "/api/v1/balance/deposit", tok, map[string]any{"amount": "10"}, "Idempotency-Key", "dep-2")
	wantStoreUnavailable("the deposit that meets the full disk", st, b)
	st, b = do("POST", "/api/v1/balance/deposit", tok, map[string]any{"amount": "10"}, "Idempotency-Key", "dep-3")
	wantStoreUnavailable("a later deposit", st, b)
	st, b = do("POST", "/api/v1/orders", tok, map[string]any{"order_type": "market_buy", "asset_id": "BTC", "quantity": "0.001"})
	wantStoreUnavailable("an order", st, b)
	st, b = do("GET", "/api/v1/balance", tok, nil)
	wantStoreUnavailable("a read", st, b)

	st, b = do("GET", "/health/ready", "", nil)
	var ready map[string]any
	if err := json.Unmarshal(b, &ready); err != nil || st != 503 || ready["code"] != gateway.CodeServiceUnavailable || ready["message"] != "not ready: store" {
		t.Fatalf("ready after the fault: %d %s, want 503 %s \"not ready: store\"", st, b, gateway.CodeServiceUnavailable)
	}
	if st, b := do("GET", "/health/live", "", nil); st != 200 {
		t.Fatalf("live after the fault: %d %s", st, b)
	}
}
