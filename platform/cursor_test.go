package platform

import (
	"context"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/orderprocessor/orderprocessor/gateway"
)

// TestCursorKeyFollowsTheSecret: a page cursor made by a server is refused
// (422 invalid, loc query.cursor) by a server on the same store with
// another JWT secret, and accepted by one with the same secret (a restart,
// or another replica).
func TestCursorKeyFollowsTheSecret(t *testing.T) {
	dir := t.TempDir()
	const otherSecret = "fedcba9876543210fedcba9876543210-other"
	serve := func(secret string, fn func(c client)) {
		t.Helper()
		p, err := Open(context.Background(), Config{DataDir: dir, JWTSecret: []byte(secret), Logger: quiet(),
			PasswordParams: fastParams, Gateway: gateway.DefaultConfig(), PriceFeed: "static"})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(p.Handler)
		defer func() {
			srv.Close()
			if err := p.Close(); err != nil {
				t.Error(err)
			}
		}()
		fn(client{t, srv.URL})
	}
	const list = "/api/v1/inventory/assets?limit=2"
	var cursor, second string
	serve(testSecret, func(c client) {
		first := c.do("GET", list, "", nil).Want(t, 200)
		cursor, _ = first["next_cursor"].(string)
		if cursor == "" {
			t.Fatalf("no next_cursor: %v", first)
		}
		page2 := c.do("GET", list+"&cursor="+url.QueryEscape(cursor), "", nil).Want(t, 200)
		second = assetIDs(t, page2)
	})
	serve(otherSecret, func(c client) {
		r := c.do("GET", list+"&cursor="+url.QueryEscape(cursor), "", nil)
		want := `{"detail":[{"loc":["query","cursor"],"msg":"Invalid cursor: use the next_cursor of the previous page of the same query","type":"value_error"}],"code":"invalid"}` + "\n"
		if r.Status != 422 || string(r.Body) != want {
			t.Fatalf("another secret: %d %s, want 422 %s", r.Status, r.Body, want)
		}
	})
	serve(testSecret, func(c client) {
		page2 := c.do("GET", list+"&cursor="+url.QueryEscape(cursor), "", nil).Want(t, 200)
		if got := assetIDs(t, page2); got != second {
			t.Fatalf("same secret after a restart: page %s, want %s", got, second)
		}
	})
}

// assetIDs returns the asset ids of a page of the catalogue, comma-separated.
func assetIDs(t *testing.T, page map[string]any) string {
	t.Helper()
	data, _ := page["data"].([]any)
	ids := ""
	for _, d := range data {
		id, _ := d.(map[string]any)["asset_id"].(string)
		ids += id + ","
	}
	if len(data) == 0 || ids == "" {
		t.Fatalf("no assets in %v", page)
	}
	return ids
}
