package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

var orderKeys = []string{"asset_id", "client_order_id", "created_at", "currency", "executed_price", "executed_quantity",
	"expires_at", "fee", "held_amount", "held_quantity", "high_water_mark", "limit_price", "oco_with", "order_id",
	"order_type", "price", "quantity", "status", "status_history", "stop_price", "time_in_force", "total_amount",
	"trail_amount", "trail_percent", "updated_at"}

func orderData(t *testing.T, r response) map[string]any {
	t.Helper()
	m := r.obj(t)
	if got := sortedKeys(m); !slices.Equal(got, []string{"data"}) {
		t.Fatalf("envelope keys %v", got)
	}
	d := m["data"].(map[string]any)
	if got := sortedKeys(d); !slices.Equal(got, orderKeys) {
		t.Fatalf("order keys %v", got)
	}
	return d
}

func historyStatuses(t *testing.T, d map[string]any) []string {
	t.Helper()
	var out []string
	for _, h := range d["status_history"].([]any) {
		out = append(out, h.(map[string]any)["status"].(string))
	}
	return out
}

func TestMarketOrders(t *testing.T) {
	e := sharedEnv(t)
	u := e.newUser(t)
	btc := e.do(t, http.MethodGet, "/api/v1/inventory/assets/BTC", "", nil).want(t, http.StatusOK).obj(t)["data"].(map[string]any)
	price := dec(t, string(btc["price_usd"].(json.Number)))
	if price.String() != "67250" && price.String() != "67250.00" {
		t.Fatalf("seeded BTC price %s (another test changed it?)", price)
	}

	e.deposit(t, u, "10000")
	r := e.order(t, u, map[string]any{"order_type": "market_buy", "asset_id": "btc", "quantity": 0.1}).want(t, http.StatusCreated)
	buy := orderData(t, r)
	for k, v := range map[string]any{"order_type": "market_buy", "asset_id": "BTC", "quantity": "0.1", "price": "67250.00",
		"executed_price": "67250.00", "executed_quantity": "0.1", "limit_price": nil, "stop_price": nil, "status": "completed",
		"total_amount": "6725.00", "fee": "0.00", "held_amount": "0.00", "held_quantity": "0", "time_in_force": "gtc",
		"expires_at": nil, "client_order_id": nil, "currency": "USD", "oco_with": nil} {
		if buy[k] != v {
			t.Errorf("buy %s = %#v, want %#v", k, buy[k], v)
		}
	}
	if hs := historyStatuses(t, buy); !slices.Equal(hs, []string{"pending", "confirmed", "processing", "completed"}) {
		t.Fatalf("history %v", hs)
	}
	rfc3339UTC := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$`)
	for _, k := range []string{"created_at", "updated_at"} {
		if s, _ := buy[k].(string); !rfc3339UTC.MatchString(s) {
			t.Errorf("%s = %#v, want RFC 3339 UTC with fractional seconds", k, buy[k])
		}
	}
	e.wantBalance(t, u, "3275.00")

	// The price in the body of a market order is checked, then ignored.
	r = e.order(t, u, map[string]any{"order_type": "market_sell", "asset_id": "BTC", "quantity": "0.04", "price": "1"}).want(t, http.StatusCreated)
	sell := orderData(t, r)
	for k, v := range map[string]any{"order_type": "market_sell", "status": "completed", "total_amount": "2690.00", "price": "67250.00"} {
		if sell[k] != v {
			t.Errorf("sell %s = %#v, want %#v", k, sell[k], v)
		}
	}
	e.wantBalance(t, u, "5965.00")
	h := e.do(t, http.MethodGet, "/api/v1/balance/asset/BTC", u.token, nil).want(t, http.StatusOK).obj(t)
	if h["quantity"] != "0.06" || h["average_cost"] != "67250.00" {
		t.Fatalf("holding %v", h)
	}

	t.Run("ledger", func(t *testing.T) {
		var p txPage
		e.do(t, http.MethodGet, "/api/v1/balance/transactions", u.token, nil).want(t, http.StatusOK).into(t, &p)
		if len(p.Transactions) != 3 || p.TotalCount != 3 {
			t.Fatalf("ledger %+v", p)
		}
		sale, pay := p.Transactions[0], p.Transactions[1]
		if sale.TransactionType != "order_sale" || sale.Amount != "2690.00" || sale.ReferenceID == nil || *sale.ReferenceID != sell["order_id"] ||
			pay.TransactionType != "order_payment" || pay.Amount != "-6725.00" || pay.ReferenceID == nil || *pay.ReferenceID != buy["order_id"] {
			t.Fatalf("order entries %+v %+v", sale, pay)
		}
	})
	t.Run("get", func(t *testing.T) {
		d := orderData(t, e.do(t, http.MethodGet, "/api/v1/orders/"+buy["order_id"].(string), u.token, nil).want(t, http.StatusOK))
		if d["order_id"] != buy["order_id"] || d["total_amount"] != "6725.00" {
			t.Fatalf("get %v", d)
		}
		if hs := historyStatuses(t, d); !slices.Equal(hs, []string{"pending", "confirmed", "processing", "completed"}) {
			t.Fatalf("history %v", hs)
		}
		for _, h := range d["status_history"].([]any) {
			if at, _ := h.(map[string]any)["at"].(string); at == "" {
				t.Fatalf("history entry without time: %v", h)
			}
		}
	})
	t.Run("cancel completed is 409", func(t *testing.T) {
		id := buy["order_id"].(string)
		e.do(t, http.MethodDelete, "/api/v1/orders/"+id, u.token, nil).serviceError(t, http.StatusConflict, "conflict")
		e.do(t, http.MethodPut, "/api/v1/orders/"+id+"/cancel", u.token, nil).serviceError(t, http.StatusConflict, "conflict")
		d := orderData(t, e.do(t, http.MethodGet, "/api/v1/orders/"+id, u.token, nil).want(t, http.StatusOK))
		if d["status"] != "completed" {
			t.Fatalf("status %v", d["status"])
		}
	})
	t.Run("ids", func(t *testing.T) {
		for _, id := range []string{"short", "has%20space", "bad!id!1234567", strings.Repeat("a", 51)} {
			e.do(t, http.MethodGet, "/api/v1/orders/"+id, u.token, nil).serviceError(t, http.StatusUnprocessableEntity, "invalid")
			e.do(t, http.MethodDelete, "/api/v1/orders/"+id, u.token, nil).serviceError(t, http.StatusUnprocessableEntity, "invalid")
		}
		e.do(t, http.MethodGet, "/api/v1/orders/ZZZZZZZZZZZZZZZZZZZZZZZZZZ", u.token, nil).serviceError(t, http.StatusNotFound, "not_found")
		// Another user's order is not found (IDOR), for reading and cancelling.
		other := e.newUser(t)
		e.do(t, http.MethodGet, "/api/v1/orders/"+buy["order_id"].(string), other.token, nil).serviceError(t, http.StatusNotFound, "not_found")
		e.do(t, http.MethodDelete, "/api/v1/orders/"+buy["order_id"].(string), other.token, nil).serviceError(t, http.StatusNotFound, "not_found")
		var l struct {
			Data []any `json:"data"`
		}
		e.do(t, http.MethodGet, "/api/v1/orders", other.token, nil).want(t, http.StatusOK).into(t, &l)
		if len(l.Data) != 0 {
			t.Fatalf("other user sees %d orders", len(l.Data))
		}
		e.do(t, http.MethodGet, "/api/v1/orders/"+buy["order_id"].(string), "", nil).gatewayError(t, http.StatusUnauthorized, "UNAUTHORIZED")
	})
	t.Run("insufficient", func(t *testing.T) {
		poor := e.newUser(t)
		e.deposit(t, poor, "100")
		before := e.counts(t, poor)
		m := e.order(t, poor, map[string]any{"order_type": "market_buy", "asset_id": "BTC", "quantity": "0.01"}).
			serviceError(t, http.StatusUnprocessableEntity, "insufficient_funds")
		if m["detail"] != "insufficient funds" {
			t.Errorf("detail %v", m["detail"])
		}
		e.order(t, poor, map[string]any{"order_type": "market_sell", "asset_id": "BTC", "quantity": "0.01"}).
			serviceError(t, http.StatusUnprocessableEntity, "insufficient_funds")
		e.order(t, u, map[string]any{"order_type": "market_sell", "asset_id": "BTC", "quantity": "0.06000001"}).
			serviceError(t, http.StatusUnprocessableEntity, "insufficient_funds")
		e.order(t, poor, map[string]any{"order_type": "market_buy", "asset_id": "NOSUCH", "quantity": "1"}).
			serviceError(t, http.StatusUnprocessableEntity, "invalid")
		if after := e.counts(t, poor); after != before {
			t.Fatalf("records changed %+v -> %+v", before, after)
		}
		e.wantBalance(t, poor, "100.00")
	})
	t.Run("limit orders", func(t *testing.T) {
		before := e.counts(t, u)
		r := e.order(t, u, map[string]any{"order_type": "limit_buy", "asset_id": "BTC", "quantity": "0.01", "limit_price": "50000"})
		if r.Status == http.StatusCreated {
			// Limit orders are implemented: the order rests with a hold
			// that a cancel releases in full.
			d := orderData(t, r)
			if d["status"] != "queued" || d["held_amount"] != "500.00" {
				t.Fatalf("limit order %v", d)
			}
			cur, avail, held := e.balance(t, u)
			if cur != "5965.00" || avail != "5465.00" || held != "500.00" {
				t.Fatalf("balance with hold %s/%s/%s", cur, avail, held)
			}
			c := orderData(t, e.do(t, http.MethodDelete, "/api/v1/orders/"+d["order_id"].(string), u.token, nil).want(t, http.StatusOK))
			if c["status"] != "cancelled" || c["held_amount"] != "0.00" {
				t.Fatalf("cancelled %v", c)
			}
			e.wantBalance(t, u, "5965.00")
			return
		}
		m := r.serviceError(t, http.StatusUnprocessableEntity, "invalid")
		if locs := fieldLocs(t, m); !slices.Equal(locs, []string{"body.order_type"}) {
			t.Fatalf("locs %v", locs)
		}
		if after := e.counts(t, u); after != before {
			t.Fatalf("records changed %+v -> %+v", before, after)
		}
	})
	e.verifyOK(t)
}

type orderList struct {
	Data []struct {
		OrderID   string `json:"order_id"`
		OrderType string `json:"order_type"`
		AssetID   string `json:"asset_id"`
		Status    string `json:"status"`
		CreatedAt string `json:"created_at"`
	} `json:"data"`
	HasMore    bool    `json:"has_more"`
	NextCursor *string `json:"next_cursor"`
}

func TestOrderList(t *testing.T) {
	e := sharedEnv(t)
	u := e.newUser(t)
	a1, a2 := e.newAsset(t, "10"), e.newAsset(t, "20")
	e.deposit(t, u, "1000")
	var placed []string // oldest first
	for _, spec := range []struct{ typ, asset, qty string }{
		{"market_buy", a1, "5"}, {"market_buy", a2, "3"}, {"market_sell", a1, "1"}, {"market_buy", a1, "2"},
		{"market_sell", a2, "1"}, {"market_buy", a2, "1"}, {"market_sell", a1, "2"},
	} {
		d := orderData(t, e.order(t, u, map[string]any{"order_type": spec.typ, "asset_id": spec.asset, "quantity": spec.qty}).want(t, http.StatusCreated))
		placed = append(placed, d["order_id"].(string))
	}
	newest := slices.Clone(placed)
	slices.Reverse(newest)

	var all orderList
	raw := e.do(t, http.MethodGet, "/api/v1/orders", u.token, nil).want(t, http.StatusOK)
	raw.into(t, &all)
	if got := sortedKeys(raw.obj(t)); !slices.Equal(got, []string{"data", "has_more", "next_cursor"}) {
		t.Fatalf("keys %v", got)
	}
	var ids []string
	for _, o := range all.Data {
		ids = append(ids, o.OrderID)
	}
	if !slices.Equal(ids, newest) || all.HasMore || all.NextCursor != nil {
		t.Fatalf("list %v has_more %v, want %v", ids, all.HasMore, newest)
	}

	filter := func(q string) []string {
		var l orderList
		e.do(t, http.MethodGet, "/api/v1/orders?"+q, u.token, nil).want(t, http.StatusOK).into(t, &l)
		var out []string
		for _, o := range l.Data {
			out = append(out, o.OrderID)
		}
		return out
	}
	if got, want := filter("order_type=market_sell"), []string{placed[6], placed[4], placed[2]}; !slices.Equal(got, want) {
		t.Errorf("sells %v, want %v", got, want)
	}
	if got, want := filter("asset_id="+strings.ToLower(a2)), []string{placed[5], placed[4], placed[1]}; !slices.Equal(got, want) {
		t.Errorf("asset %v, want %v", got, want)
	}
	if got, want := filter("asset_id="+a1+"&order_type=market_buy&limit=1"), []string{placed[3]}; !slices.Equal(got, want) {
		t.Errorf("combined filters %v, want %v", got, want)
	}
	if got := filter("status=completed"); !slices.Equal(got, newest) {
		t.Errorf("completed %v", got)
	}
	if got := filter("status=cancelled"); len(got) != 0 {
		t.Errorf("cancelled %v", got)
	}
	if got, want := filter("limit=2&offset=3"), newest[3:5]; !slices.Equal(got, want) {
		t.Errorf("offset %v, want %v", got, want)
	}

	for _, limit := range []int{1, 2, 3, 7} {
		var got []string
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatal("cursor loop")
			}
			q := fmt.Sprintf("/api/v1/orders?limit=%d", limit)
			if cursor != "" {
				q += "&cursor=" + url.QueryEscape(cursor)
			}
			var l orderList
			e.do(t, http.MethodGet, q, u.token, nil).want(t, http.StatusOK).into(t, &l)
			for _, o := range l.Data {
				got = append(got, o.OrderID)
			}
			if l.HasMore != (l.NextCursor != nil) {
				t.Fatalf("has_more %v with next_cursor %v", l.HasMore, l.NextCursor)
			}
			if !l.HasMore {
				break
			}
			if len(l.Data) != limit {
				t.Fatalf("limit %d: short page of %d with has_more", limit, len(l.Data))
			}
			cursor = *l.NextCursor
		}
		if !slices.Equal(got, newest) {
			t.Fatalf("limit %d: paged %v, want %v", limit, got, newest)
		}
	}
	for _, q := range []string{"limit=0", "limit=101", "limit=abc", "offset=-1", "status=bogus", "order_type=bogus", "asset_id=bad-id", "cursor=garbage"} {
		e.do(t, http.MethodGet, "/api/v1/orders?"+q, u.token, nil).serviceError(t, http.StatusUnprocessableEntity, "invalid")
	}

	t.Run("asset transactions", func(t *testing.T) {
		type atx struct {
			Data []struct {
				AssetID         string `json:"asset_id"`
				TransactionType string `json:"transaction_type"`
				Quantity        string `json:"quantity"`
				Price           string `json:"price"`
				TotalAmount     string `json:"total_amount"`
				OrderID         string `json:"order_id"`
				Status          string `json:"status"`
				Timestamp       string `json:"timestamp"`
			} `json:"data"`
			HasMore    bool    `json:"has_more"`
			NextCursor *string `json:"next_cursor"`
		}
		var l atx
		r := e.do(t, http.MethodGet, "/api/v1/assets/"+a1+"/transactions", u.token, nil).want(t, http.StatusOK)
		r.into(t, &l)
		item := r.obj(t)["data"].([]any)[0].(map[string]any)
		if got := sortedKeys(item); !slices.Equal(got, []string{"asset_id", "order_id", "price", "quantity", "status", "timestamp", "total_amount", "transaction_type"}) {
			t.Fatalf("keys %v", got)
		}
		type mv struct{ typ, qty, total, order string }
		var got []mv
		for _, x := range l.Data {
			if x.AssetID != a1 || x.Price != "10.00" || x.Status != "completed" {
				t.Fatalf("movement %+v", x)
			}
			got = append(got, mv{x.TransactionType, x.Quantity, x.TotalAmount, x.OrderID})
		}
		want := []mv{{"SELL", "2", "20.00", placed[6]}, {"BUY", "2", "20.00", placed[3]}, {"SELL", "1", "10.00", placed[2]}, {"BUY", "5", "50.00", placed[0]}}
		if !slices.Equal(got, want) || l.HasMore || l.NextCursor != nil {
			t.Fatalf("movements %+v has_more %v, want %+v", got, l.HasMore, want)
		}
		var p1, p2 atx
		e.do(t, http.MethodGet, "/api/v1/assets/"+a1+"/transactions?limit=3", u.token, nil).want(t, http.StatusOK).into(t, &p1)
		if len(p1.Data) != 3 || !p1.HasMore || p1.NextCursor == nil {
			t.Fatalf("page 1: %d has_more %v", len(p1.Data), p1.HasMore)
		}
		e.do(t, http.MethodGet, "/api/v1/assets/"+a1+"/transactions?limit=3&cursor="+url.QueryEscape(*p1.NextCursor), u.token, nil).want(t, http.StatusOK).into(t, &p2)
		if len(p2.Data) != 1 || p2.HasMore || p2.Data[0].OrderID != placed[0] {
			t.Fatalf("page 2: %+v", p2)
		}
		var none atx
		e.do(t, http.MethodGet, "/api/v1/assets/BTC/transactions", u.token, nil).want(t, http.StatusOK).into(t, &none)
		if len(none.Data) != 0 || none.HasMore {
			t.Fatalf("BTC movements %+v", none)
		}
		e.do(t, http.MethodGet, "/api/v1/assets/bad-id/transactions", u.token, nil).serviceError(t, http.StatusUnprocessableEntity, "invalid")
		e.do(t, http.MethodGet, "/api/v1/assets/"+a1+"/transactions?cursor=garbage", u.token, nil).serviceError(t, http.StatusUnprocessableEntity, "invalid")
	})
	e.wantBalance(t, u, "900.00")
	e.verifyOK(t)
}

func TestClientOrderID(t *testing.T) {
	e := sharedEnv(t)
	u := e.newUser(t)
	a := e.newAsset(t, "10")
	e.deposit(t, u, "100")
	body := map[string]any{"order_type": "market_buy", "asset_id": a, "quantity": "1", "client_order_id": "my-order_1"}
	first := orderData(t, e.order(t, u, body).want(t, http.StatusCreated))
	if first["client_order_id"] != "my-order_1" {
		t.Fatalf("client_order_id %v", first["client_order_id"])
	}
	before := e.counts(t, u)
	again := orderData(t, e.order(t, u, body).want(t, http.StatusCreated))
	if again["order_id"] != first["order_id"] || again["total_amount"] != "10.00" {
		t.Fatalf("retry gave another order: %v vs %v", again["order_id"], first["order_id"])
	}
	changed := map[string]any{"order_type": "market_buy", "asset_id": a, "quantity": "2", "client_order_id": "my-order_1"}
	e.order(t, u, changed).serviceError(t, http.StatusConflict, "conflict")
	if after := e.counts(t, u); after != before {
		t.Fatalf("records changed %+v -> %+v", before, after)
	}
	e.wantBalance(t, u, "90.00")
	// The id is per user: another user may use it.
	v := e.newUser(t)
	e.deposit(t, v, "100")
	o := orderData(t, e.order(t, v, body).want(t, http.StatusCreated))
	if o["order_id"] == first["order_id"] {
		t.Fatal("two users share an order")
	}
	e.order(t, u, map[string]any{"order_type": "market_buy", "asset_id": a, "quantity": "1", "client_order_id": "bad id!"}).
		serviceError(t, http.StatusUnprocessableEntity, "invalid")
	e.verifyOK(t)
}

// waitOrder polls an order until it reaches status (a hang guard of 15 s,
// not a timing assertion: the trigger engine runs asynchronously).
func (e *env) waitOrder(t *testing.T, u *user, id, status string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		d := orderData(t, e.do(t, http.MethodGet, "/api/v1/orders/"+id, u.token, nil).want(t, http.StatusOK))
		if d["status"] == status {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("order %s is %v, never reached %s", id, d["status"], status)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLimitOrderLifecycle(t *testing.T) {
	e := sharedEnv(t)
	u := e.newUser(t)
	a := e.newAsset(t, "100")
	e.deposit(t, u, "1000")

	r := e.order(t, u, map[string]any{"order_type": "limit_buy", "asset_id": a, "quantity": "2", "limit_price": "90"})
	if r.Status == http.StatusUnprocessableEntity {
		t.Skip("limit orders are not available")
	}
	buy := orderData(t, r.want(t, http.StatusCreated))
	if buy["status"] != "queued" || buy["held_amount"] != "180.00" || buy["limit_price"] != "90.00" {
		t.Fatalf("limit buy %v", buy)
	}
	if cur, avail, held := e.balance(t, u); cur != "1000.00" || avail != "820.00" || held != "180.00" {
		t.Fatalf("balance with hold %s/%s/%s", cur, avail, held)
	}
	// The hold is not spendable.
	e.do(t, http.MethodPost, "/api/v1/balance/withdraw", u.token, map[string]any{"amount": "820.01"}).serviceError(t, http.StatusUnprocessableEntity, "insufficient_funds")
	e.order(t, u, map[string]any{"order_type": "limit_sell", "asset_id": a, "quantity": "1", "limit_price": "120"}).
		serviceError(t, http.StatusUnprocessableEntity, "insufficient_funds")

	// The price falls through the limit: the order executes at the market price.
	e.do(t, http.MethodPut, "/api/v1/admin/assets/"+a+"/price", e.admin, map[string]any{"price_usd": "85"}).want(t, http.StatusOK)
	done := e.waitOrder(t, u, buy["order_id"].(string), "completed")
	if done["executed_price"] != "85.00" || done["total_amount"] != "170.00" || done["held_amount"] != "0.00" || done["executed_quantity"] != "2" {
		t.Fatalf("executed %v", done)
	}
	if hs := historyStatuses(t, done); hs[0] != "pending" || hs[len(hs)-1] != "completed" || !slices.Contains(hs, "queued") {
		t.Fatalf("history %v", hs)
	}
	e.wantBalance(t, u, "830.00")

	// A limit sell holds the quantity; a cancel releases it.
	sell := orderData(t, e.order(t, u, map[string]any{"order_type": "limit_sell", "asset_id": a, "quantity": "2", "price": "120"}).want(t, http.StatusCreated))
	if sell["status"] != "queued" || sell["held_quantity"] != "2" || sell["limit_price"] != "120.00" {
		t.Fatalf("limit sell %v", sell)
	}
	h := e.do(t, http.MethodGet, "/api/v1/balance/asset/"+a, u.token, nil).want(t, http.StatusOK).obj(t)
	if h["held_quantity"] != "2" || h["quantity"] != "2" {
		t.Fatalf("holding with hold %v", h)
	}
	e.order(t, u, map[string]any{"order_type": "market_sell", "asset_id": a, "quantity": "1"}).serviceError(t, http.StatusUnprocessableEntity, "insufficient_funds")
	c := orderData(t, e.do(t, http.MethodDelete, "/api/v1/orders/"+sell["order_id"].(string), u.token, nil).want(t, http.StatusOK))
	if c["status"] != "cancelled" || c["held_quantity"] != "0" {
		t.Fatalf("cancelled %v", c)
	}
	e.do(t, http.MethodDelete, "/api/v1/orders/"+sell["order_id"].(string), u.token, nil).serviceError(t, http.StatusConflict, "conflict")
	h = e.do(t, http.MethodGet, "/api/v1/balance/asset/"+a, u.token, nil).want(t, http.StatusOK).obj(t)
	if dec(t, h["held_quantity"].(string)).Sign() != 0 {
		t.Fatalf("holding after cancel %v", h)
	}
	e.order(t, u, map[string]any{"order_type": "market_sell", "asset_id": a, "quantity": "2"}).want(t, http.StatusCreated)
	e.wantBalance(t, u, "1000.00")
	e.verifyOK(t)
}
