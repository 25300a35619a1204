package user

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/orderprocessor/orderprocessor/accounts"
	"github.com/orderprocessor/orderprocessor/auth"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/httpapi"
	"github.com/orderprocessor/orderprocessor/store/embedded"
	"github.com/orderprocessor/orderprocessor/trading"
)

// TestWholeStoreReadsOneAtATime: while a whole-store read runs, the ledger
// verification and the analytics summary are answered 429 with Retry-After
// and the stable error body at once; when it ends they run again.
func TestWholeStoreReadsOneAtATime(t *testing.T) {
	db, err := embedded.Open(t.TempDir(), dao.DefaultTables.Schemas(), embedded.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	trade := trading.New(trading.NewDAOs(db, dao.DefaultTables), trading.DefaultConfig(), trading.Options{})
	s := New(trade, accounts.New(trade, nil, accounts.Options{}), nil, nil, Options{Logger: slog.New(slog.DiscardHandler)})
	api := httpapi.New(httpapi.Options{})
	s.Register(api)
	get := func(path string) (int, http.Header, map[string]any) {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r = r.WithContext(auth.WithPrincipal(context.Background(), auth.Principal{Username: "admin", Role: auth.RoleAdmin}))
		w := httptest.NewRecorder()
		api.ServeHTTP(w, r)
		var body map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatalf("%s: %d %q: %v", path, w.Code, w.Body.String(), err)
		}
		return w.Code, w.Header(), body
	}
	paths := []string{"/api/v1/admin/verify", "/api/v1/admin/analytics/summary"}

	s.whole <- struct{}{} // a whole-store read is running
	for _, p := range paths {
		code, h, body := get(p)
		if code != http.StatusTooManyRequests || h.Get("Retry-After") != wholeStoreRetryAfter ||
			body["code"] != "rate_limited" || body["detail"] != errWholeStoreBusy.Message {
			t.Fatalf("%s while another runs: %d Retry-After %q %v", p, code, h.Get("Retry-After"), body)
		}
	}
	<-s.whole // it ended
	for _, p := range paths {
		if code, _, body := get(p); code != http.StatusOK {
			t.Fatalf("%s: %d %v", p, code, body)
		}
	}
	if code, _, body := get(paths[0]); code != http.StatusOK || body["ok"] != true {
		t.Fatalf("verify after the summary (its slot given back): %d %v", code, body)
	}
}
