package order_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/services/order"
	"github.com/orderprocessor/orderprocessor/testenv/apitest"
	"github.com/orderprocessor/orderprocessor/trading"
)

const (
	ordersP    = "/api/v1/orders"
	idemHeader = "Idempotency-Key"
)

// newEnv serves the order service over a fresh store with one asset, BTC
// at 100 USD, and a customer alice_01 with 10,000 USD; it returns alice's
// token and the registry of the service's metrics.
func newEnv(t *testing.T) (*apitest.Env, string, *prometheus.Registry) {
	t.Helper()
	e := apitest.New(t, apitest.Options{Config: trading.Config{FeeRate: decimal.MustParse("0.001")}})
	reg := prometheus.NewRegistry()
	s := order.New(e.Trade, order.Options{Metrics: reg})
	e.Serve(s.Register)
	e.Asset("BTC", "100")
	tok := e.User("alice_01", entity.RoleCustomer)
	e.Deposit("alice_01", "10000", entity.USD)
	return e, tok, reg
}

// counted returns the orders_total counter of typ and outcome.
func counted(t *testing.T, reg *prometheus.Registry, typ, outcome string) int {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "orderprocessor_orders_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["order_type"] == typ && labels["outcome"] == outcome {
				return int(m.GetCounter().GetValue())
			}
		}
	}
	return 0
}

func place(t *testing.T, e *apitest.Env, tok, body string, hdr ...string) entity.OrderResponse {
	t.Helper()
	var env order.OrderEnvelope
	e.Do("POST", ordersP, tok, body, hdr...).Want(t, http.StatusCreated, &env)
	return env.Data
}

// TestPlaceMarketOrder: a market buy executes at the asset's price with its
// fee and is answered 201 with the order; its balance effect is exact.
func TestPlaceMarketOrder(t *testing.T) {
	e, tok, reg := newEnv(t)
	o := place(t, e, tok, `{"order_type":"market_buy","asset_id":"btc","quantity":"1.5"}`)
	if o.OrderType != entity.MarketBuy || o.AssetID != "BTC" || o.Quantity != "1.5" || o.Status != entity.StatusCompleted ||
		o.TotalAmount != "150.15" || o.Fee != "0.15" || o.ExecutedQuantity != "1.5" || o.ExecutedPrice == nil || *o.ExecutedPrice != "100.00" ||
		len(o.OrderID) != 26 || o.Currency != entity.USD {
		t.Fatalf("order: %+v", o)
	}
	b, err := e.DAOs.Balances.Get(t.Context(), "alice_01", entity.USD)
	if err != nil || b.CurrentBalance.String() != "9849.85" {
		t.Fatalf("balance after the buy: %v, %v", b.CurrentBalance, err)
	}
	var got order.OrderEnvelope
	e.Do("GET", ordersP+"/"+o.OrderID, tok, "").Want(t, http.StatusOK, &got)
	if got.Data.OrderID != o.OrderID || got.Data.Status != entity.StatusCompleted || len(got.Data.StatusHistory) != len(o.StatusHistory) {
		t.Fatalf("get: %+v", got.Data)
	}
	if n := counted(t, reg, "market_buy", "placed"); n != 1 {
		t.Fatalf("market_buy placed counted %d times", n)
	}
}

// TestPlaceRefusals: bad input is 4xx with the stable body (and counted as
// invalid, by type when it has one), an unknown asset 422 at asset_id, too little cash 422
// insufficient_funds, and nothing is stored for a refused order.
func TestPlaceRefusals(t *testing.T) {
	e, tok, reg := newEnv(t)
	e.Do("POST", ordersP, tok, `{"order_type":`).WantField(t, "body")
	e.Do("POST", ordersP, tok, `{"order_type":"market_buy","order_type":"market_buy"}`).WantError(t, http.StatusBadRequest, "bad_request", "")
	e.Do("POST", ordersP, tok, `{"order_type":"market_buy","asset_id":"BTC","quantity":"0"}`).WantField(t, "body.quantity")
	e.Do("POST", ordersP, tok, `{"order_type":"teleport","asset_id":"BTC","quantity":"1"}`).WantField(t, "body.order_type")
	e.Do("POST", ordersP, tok, `{"order_type":"limit_buy","asset_id":"BTC","quantity":"1"}`).WantField(t, "body.limit_price")
	e.Do("POST", ordersP, tok, `{"order_type":"market_buy","asset_id":"DOGE","quantity":"1"}`).WantField(t, "body.asset_id")
	e.Do("POST", ordersP, tok, `{"order_type":"market_buy","asset_id":"BTC","quantity":"100"}`).
		WantError(t, http.StatusUnprocessableEntity, "insufficient_funds", "insufficient funds")
	e.Do("POST", ordersP, "", `{"order_type":"market_buy","asset_id":"BTC","quantity":"1"}`).
		WantError(t, http.StatusUnauthorized, "unauthorized", "not authenticated")
	var list order.OrderList
	e.Do("GET", ordersP, tok, "").Want(t, http.StatusOK, &list)
	if len(list.Data) != 0 {
		t.Fatalf("orders after refusals: %+v", list.Data)
	}
	for typ, want := range map[string]int{"unknown": 3, "market_buy": 2, "limit_buy": 1} {
		if n := counted(t, reg, typ, "invalid"); n != want {
			t.Errorf("%s invalid counted %d times, want %d", typ, n, want)
		}
	}
	if n := counted(t, reg, "market_buy", "insufficient_funds"); n != 1 {
		t.Errorf("market_buy insufficient_funds counted %d times", n)
	}
}

// TestPlaceIdempotent: the Idempotency-Key replays the first answer (and
// places nothing more); with another body it is 409; a malformed key is
// 422. A repeated client_order_id returns the existing order; with
// another request it is 409.
func TestPlaceIdempotent(t *testing.T) {
	e, tok, reg := newEnv(t)
	body := `{"order_type":"market_buy","asset_id":"BTC","quantity":"1"}`
	first := e.Do("POST", ordersP, tok, body, idemHeader, "buy-1")
	again := e.Do("POST", ordersP, tok, body, idemHeader, "buy-1")
	if first.Status != http.StatusCreated || again.Status != http.StatusCreated || again.Body != first.Body ||
		again.Header.Get("Idempotent-Replayed") != "true" || first.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("replay: %d %s / %d %v %s", first.Status, first.Body, again.Status, again.Header, again.Body)
	}
	e.Do("POST", ordersP, tok, strings.Replace(body, `"1"`, `"2"`, 1), idemHeader, "buy-1").
		WantError(t, http.StatusConflict, "conflict", trading.ErrIdemMismatch.Message)
	e.Do("POST", ordersP, tok, body, idemHeader, "clé").
		WantError(t, http.StatusUnprocessableEntity, "invalid", "Idempotency-Key must be 1-255 printable ASCII characters")

	coid := `{"order_type":"market_buy","asset_id":"BTC","quantity":"1","client_order_id":"my-1"}`
	o1 := place(t, e, tok, coid)
	o2 := place(t, e, tok, coid)
	if o1.OrderID != o2.OrderID || o2.ClientOrderID == nil || *o2.ClientOrderID != "my-1" {
		t.Fatalf("client_order_id replay: %s then %s", o1.OrderID, o2.OrderID)
	}
	e.Do("POST", ordersP, tok, strings.Replace(coid, `"1"`, `"3"`, 1)).WantError(t, http.StatusConflict, "conflict", "client_order_id already used")

	var list order.OrderList
	e.Do("GET", ordersP, tok, "").Want(t, http.StatusOK, &list)
	if len(list.Data) != 2 {
		t.Fatalf("orders placed: %d, want 2", len(list.Data))
	}
	if p, r := counted(t, reg, "market_buy", "placed"), counted(t, reg, "market_buy", "replayed"); p != 2 || r != 2 {
		t.Fatalf("placed %d replayed %d, want 2 and 2", p, r)
	}
}

// TestGetAndCancel: a resting limit order is read and cancelled by either
// cancel route (its hold released); a second cancel is 409; another
// user's order and unknown ids are 404; a malformed id is 422.
func TestGetAndCancel(t *testing.T) {
	e, tok, _ := newEnv(t)
	o := place(t, e, tok, `{"order_type":"limit_buy","asset_id":"BTC","quantity":"2","limit_price":"50"}`)
	if o.Status != entity.StatusQueued || o.HeldAmount != "100.10" {
		t.Fatalf("resting order: %+v", o)
	}
	o2 := place(t, e, tok, `{"order_type":"limit_buy","asset_id":"BTC","quantity":"1","limit_price":"40"}`)
	other := e.User("bobby_01", entity.RoleCustomer)
	e.Do("GET", ordersP+"/"+o.OrderID, other, "").WantError(t, http.StatusNotFound, "not_found", "order not found")
	e.Do("DELETE", ordersP+"/"+o.OrderID, other, "").WantError(t, http.StatusNotFound, "not_found", "order not found")
	e.Do("GET", ordersP+"/01JDQ8Z3V6W5N2T8K4M0R7P9XA", tok, "").WantError(t, http.StatusNotFound, "not_found", "order not found")
	e.Do("GET", ordersP+"/short", tok, "").WantField(t, "path.order_id")
	e.Do("DELETE", ordersP+"/bad!id!bad!id", tok, "").WantField(t, "path.order_id")

	var c order.OrderEnvelope
	e.Do("DELETE", ordersP+"/"+o.OrderID, tok, "").Want(t, http.StatusOK, &c)
	if c.Data.OrderID != o.OrderID || c.Data.Status != entity.StatusCancelled || c.Data.HeldAmount != "0.00" {
		t.Fatalf("cancelled: %+v", c.Data)
	}
	e.Do("DELETE", ordersP+"/"+o.OrderID, tok, "").
		WantError(t, http.StatusConflict, "conflict", fmt.Sprintf("order %s is already cancelled", o.OrderID))
	e.Do("PUT", ordersP+"/"+o2.OrderID+"/cancel", tok, "").Want(t, http.StatusOK, &c)
	if c.Data.Status != entity.StatusCancelled {
		t.Fatalf("cancelled by PUT: %+v", c.Data)
	}
	b, err := e.DAOs.Balances.Get(t.Context(), "alice_01", entity.USD)
	if err != nil || b.CurrentBalance.String() != "10000" || !b.HeldBalance.IsZero() {
		t.Fatalf("balance after the cancels: %+v, %v", b, err)
	}
}

// TestListPaging: the caller's orders are listed newest first, filtered by
// status, type and asset, paged by limit and offset with has_more, and by
// next_cursor to the end.
func TestListPaging(t *testing.T) {
	e, tok, _ := newEnv(t)
	e.Asset("ETH", "10")
	var ids []string // oldest first
	for i := range 5 {
		e.Clock.Advance(time.Second)
		ids = append(ids, place(t, e, tok, fmt.Sprintf(`{"order_type":"market_buy","asset_id":"BTC","quantity":"0.%d"}`, i+1)).OrderID)
	}
	e.Clock.Advance(time.Second)
	eth := place(t, e, tok, `{"order_type":"limit_buy","asset_id":"ETH","quantity":"1","limit_price":"5"}`).OrderID
	e.User("bobby_01", entity.RoleCustomer)
	e.Deposit("bobby_01", "100", entity.USD)
	e.Order("bobby_01", entity.MarketBuy, "BTC", "0.5", "") // not alice's

	list := func(query string) order.OrderList {
		t.Helper()
		var out order.OrderList
		e.Do("GET", ordersP+query, tok, "").Want(t, http.StatusOK, &out)
		return out
	}
	idsOf := func(l order.OrderList) string {
		s := make([]string, len(l.Data))
		for i, o := range l.Data {
			s[i] = o.OrderID
		}
		return strings.Join(s, ",")
	}
	join := func(s ...string) string { return strings.Join(s, ",") }

	if all := list(""); idsOf(all) != join(eth, ids[4], ids[3], ids[2], ids[1], ids[0]) || all.HasMore || all.NextCursor != nil {
		t.Fatalf("all: %s more %v", idsOf(all), all.HasMore)
	}
	p1 := list("?order_type=market_buy&limit=2")
	if idsOf(p1) != join(ids[4], ids[3]) || !p1.HasMore || p1.NextCursor == nil {
		t.Fatalf("page 1: %s more %v cursor %v", idsOf(p1), p1.HasMore, p1.NextCursor)
	}
	p2 := list("?order_type=market_buy&limit=2&cursor=" + *p1.NextCursor)
	if idsOf(p2) != join(ids[2], ids[1]) || !p2.HasMore || p2.NextCursor == nil {
		t.Fatalf("page 2: %s more %v", idsOf(p2), p2.HasMore)
	}
	p3 := list("?order_type=market_buy&limit=2&cursor=" + *p2.NextCursor)
	if idsOf(p3) != ids[0] || p3.HasMore || p3.NextCursor != nil {
		t.Fatalf("page 3: %s more %v", idsOf(p3), p3.HasMore)
	}
	if off := list("?limit=2&offset=3"); idsOf(off) != join(ids[2], ids[1]) || !off.HasMore {
		t.Fatalf("offset 3: %s more %v", idsOf(off), off.HasMore)
	}
	if end := list("?offset=9"); len(end.Data) != 0 || end.HasMore {
		t.Fatalf("offset past the end: %+v", end)
	}
	if q := list("?status=queued"); idsOf(q) != eth {
		t.Fatalf("queued: %s", idsOf(q))
	}
	if a := list("?asset_id=eth"); idsOf(a) != eth {
		t.Fatalf("ETH: %s", idsOf(a))
	}
	rep := e.Do("GET", ordersP+"?asset_id=DOGE", tok, "")
	if rep.Status != http.StatusOK || rep.Body != `{"data":[],"has_more":false,"next_cursor":null}` {
		t.Fatalf("no DOGE orders: %d %s", rep.Status, rep.Body)
	}
	e.Do("GET", ordersP+"?asset_id=E-H", tok, "").WantField(t, "query.asset_id")
	e.Do("GET", ordersP+"?status=lost", tok, "").WantField(t, "query.status")
	e.Do("GET", ordersP+"?limit=101", tok, "").WantField(t, "query.limit")
	e.Do("GET", ordersP+"?cursor=garbage", tok, "").WantError(t, http.StatusUnprocessableEntity, "invalid", "")
}

// TestAssetTransactions: the caller's movements of one asset, newest first,
// paged with has_more and next_cursor; bad ids and paging are 422.
func TestAssetTransactions(t *testing.T) {
	e, tok, _ := newEnv(t)
	for _, q := range []string{"1", "2", "3"} {
		e.Clock.Advance(time.Second)
		e.Order("alice_01", entity.MarketBuy, "BTC", q, "")
	}
	e.Clock.Advance(time.Second)
	e.Order("alice_01", entity.MarketSell, "BTC", "0.5", "")
	type page struct {
		Data []struct {
			AssetID         string `json:"asset_id"`
			TransactionType string `json:"transaction_type"`
			Quantity        string `json:"quantity"`
			Price           string `json:"price"`
			TotalAmount     string `json:"total_amount"`
			OrderID         string `json:"order_id"`
			Status          string `json:"status"`
		} `json:"data"`
		HasMore    bool    `json:"has_more"`
		NextCursor *string `json:"next_cursor"`
	}
	get := func(query string) page {
		t.Helper()
		var p page
		e.Do("GET", "/api/v1/assets/btc/transactions"+query, tok, "").Want(t, http.StatusOK, &p)
		return p
	}
	moves := func(p page) string {
		s := ""
		for _, m := range p.Data {
			s += m.TransactionType + ":" + m.Quantity + "@" + m.Price + "=" + m.TotalAmount + " "
		}
		return s
	}
	all := get("")
	if got := moves(all); got != "SELL:0.5@100.00=49.95 BUY:3@100.00=300.30 BUY:2@100.00=200.20 BUY:1@100.00=100.10 " ||
		all.HasMore || all.NextCursor != nil || all.Data[0].AssetID != "BTC" || all.Data[0].OrderID == "" || all.Data[0].Status != "completed" {
		t.Fatalf("all: %s %+v", got, all)
	}
	p1 := get("?limit=3")
	if got := moves(p1); got != "SELL:0.5@100.00=49.95 BUY:3@100.00=300.30 BUY:2@100.00=200.20 " || !p1.HasMore || p1.NextCursor == nil {
		t.Fatalf("page 1: %s more %v", got, p1.HasMore)
	}
	p2 := get("?limit=3&cursor=" + *p1.NextCursor)
	if got := moves(p2); got != "BUY:1@100.00=100.10 " || p2.HasMore || p2.NextCursor != nil {
		t.Fatalf("page 2: %s more %v", got, p2.HasMore)
	}
	if p := get("?limit=2&offset=1"); moves(p) != "BUY:3@100.00=300.30 BUY:2@100.00=200.20 " || !p.HasMore {
		t.Fatalf("offset 1: %s more %v", moves(p), p.HasMore)
	}
	if p := get("?limit=4"); len(p.Data) != 4 || p.HasMore || p.NextCursor != nil {
		t.Fatalf("an exact last page: %d more %v cursor %v", len(p.Data), p.HasMore, p.NextCursor)
	}
	rep := e.Do("GET", "/api/v1/assets/ETH/transactions", tok, "")
	if rep.Status != http.StatusOK || rep.Body != `{"data":[],"has_more":false,"next_cursor":null}` {
		t.Fatalf("no ETH movements: %d %s", rep.Status, rep.Body)
	}
	e.Do("GET", "/api/v1/assets/B-C/transactions", tok, "").WantField(t, "path.asset_id")
	e.Do("GET", "/api/v1/assets/BTC/transactions?offset=-1", tok, "").WantField(t, "query.offset")
}

// TestBatch: a batch places each valid order in turn and answers each
// failure as the order alone would be answered; an empty or oversized
// batch is 422, and a body that is not JSON is refused.
func TestBatch(t *testing.T) {
	e, tok, reg := newEnv(t)
	const batchP = ordersP + "/batch"
	var out order.BatchResponse
	e.Do("POST", batchP, tok, `{"orders":[
		{"order_type":"market_buy","asset_id":"BTC","quantity":"1","client_order_id":"b-1"},
		{"order_type":"market_buy","asset_id":"BTC","quantity":"0"},
		{"order_type":"warp","asset_id":"BTC","quantity":"1"},
		{"order_type":"market_buy","asset_id":"BTC","quantity":"1000"},
		{"order_type":"limit_sell","asset_id":"BTC","quantity":"1","limit_price":"200"}]}`).Want(t, http.StatusOK, &out)
	if out.Succeeded != 2 || out.Failed != 3 || len(out.Data) != 5 {
		t.Fatalf("batch: %+v", out)
	}
	want := []struct {
		status int
		code   string
	}{{201, ""}, {422, "invalid"}, {422, "invalid"}, {422, "insufficient_funds"}, {201, ""}}
	for i, w := range want {
		r := out.Data[i]
		if r.Status != w.status || (w.code == "") != (r.Error == nil) || (r.Error != nil && r.Error.Code != w.code) ||
			(w.code == "") != (r.Data != nil) {
			t.Errorf("result %d: %+v, want %d %q", i, r, w.status, w.code)
		}
	}
	if out.Data[0].Data.Status != entity.StatusCompleted || out.Data[4].Data.Status != entity.StatusQueued {
		t.Fatalf("placed: %+v / %+v", out.Data[0].Data, out.Data[4].Data)
	}
	// The client_order_id answers by the single-order route too.
	if o := place(t, e, tok, `{"order_type":"market_buy","asset_id":"BTC","quantity":"1","client_order_id":"b-1"}`); o.OrderID != out.Data[0].Data.OrderID {
		t.Fatalf("client_order_id across routes: %s, want %s", o.OrderID, out.Data[0].Data.OrderID)
	}
	for typ, want := range map[string][2]int{"market_buy": {1, 2}, "unknown": {0, 1}, "limit_sell": {1, 0}} {
		failed := counted(t, reg, typ, "invalid") + counted(t, reg, typ, "insufficient_funds")
		if p := counted(t, reg, typ, "placed"); p != want[0] || failed != want[1] {
			t.Errorf("%s: placed %d failed %d, want %v", typ, p, failed, want)
		}
	}

	e.Do("POST", batchP, tok, `{"orders":[]}`).WantField(t, "body.orders")
	e.Do("POST", batchP, tok, `{"orders":[`+strings.Repeat(`{"order_type":"market_buy","asset_id":"BTC","quantity":"1"},`, 100)+
		`{"order_type":"market_buy","asset_id":"BTC","quantity":"1"}]}`).WantField(t, "body.orders")
	e.Do("POST", batchP, tok, `{"orders":`).WantField(t, "body")
}

// TestStoreDown: with the store down, every route answers 500 with the
// stable internal error body.
func TestStoreDown(t *testing.T) {
	e, tok, _ := newEnv(t)
	e.Do("GET", ordersP, tok, "").Want(t, http.StatusOK, nil) // the account is cached
	e.CloseStore()
	for _, r := range []struct{ method, path, body string }{
		{"POST", ordersP, `{"order_type":"market_buy","asset_id":"BTC","quantity":"1"}`},
		{"GET", ordersP, ""},
		{"GET", ordersP + "/01JDQ8Z3V6W5N2T8K4M0R7P9XA", ""},
		{"DELETE", ordersP + "/01JDQ8Z3V6W5N2T8K4M0R7P9XA", ""},
		{"GET", "/api/v1/assets/BTC/transactions", ""},
		{"POST", ordersP + "/batch", `{"orders":[{"order_type":"market_buy","asset_id":"BTC","quantity":"1"}]}`},
	} {
		rep := e.Do(r.method, r.path, tok, r.body)
		if rep.Status != http.StatusInternalServerError || rep.Body != `{"detail":"internal server error","code":"internal"}` {
			t.Errorf("%s %s with the store down: %d %s", r.method, r.path, rep.Status, rep.Body)
		}
	}
}
