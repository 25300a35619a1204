package httpapi_test

import (
	"bytes"
	"io"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/httpapi"
)

// fastProbe takes the fast path for the body {"fast":true} and marks the
// value, which encoding/json cannot do (the mark is unexported).
type fastProbe struct {
	Fast bool `json:"fast"`
	mark bool
}

func (p *fastProbe) DecodeFast(body []byte) bool {
	if string(body) != `{"fast":true}` {
		return false
	}
	p.Fast, p.mark = true, true
	return true
}

// plainOrderCreate has entity.OrderCreate's fields but not its DecodeFast:
// DecodeJSON decodes it with encoding/json only, the reference for the fast path.
type plainOrderCreate entity.OrderCreate

var _ httpapi.FastDecoder = (*entity.OrderCreate)(nil)

// decodeBody decodes body into dst with DecodeJSON and returns the error
// response WriteError writes for its error ("" for none), and the error.
func decodeBody(t *testing.T, body string, dst any) (string, error) {
	t.Helper()
	r := httptest.NewRequest("POST", "/api/v1/orders", strings.NewReader(body))
	err := httpapi.DecodeJSON(r, dst)
	if err == nil {
		return "", nil
	}
	w := httptest.NewRecorder()
	httpapi.WriteError(w, r, err)
	return strconv.Itoa(w.Code) + " " + strings.TrimSuffix(w.Body.String(), "\n"), err
}

func TestDecodeJSONFastPath(t *testing.T) {
	var p fastProbe
	if _, err := decodeBody(t, `{"fast":true}`, &p); err != nil || !p.Fast || !p.mark {
		t.Fatalf("fast path not taken: %+v %v", p, err)
	}
	p = fastProbe{}
	if _, err := decodeBody(t, ` {"fast":true}`, &p); err != nil || !p.Fast || p.mark {
		t.Fatalf("declined body not decoded by encoding/json: %+v %v", p, err)
	}
	p = fastProbe{}
	if resp, err := decodeBody(t, `{"fast":1}`, &p); err == nil || !strings.Contains(resp, `"loc":["body","fast"]`) {
		t.Fatalf("declined bad body: %v %s", err, resp)
	}

	var o entity.OrderCreate
	if _, err := decodeBody(t, `{"order_type":"market_buy","asset_id":"DOGE","quantity":"1"}`, &o); err != nil ||
		o.OrderType != entity.MarketBuy || o.AssetID != "DOGE" || o.Quantity == nil || o.Quantity.String() != "1" {
		t.Fatalf("OrderCreate: %+v %v", o, err)
	}
}

// TestDecodeJSONOrderCreateUnchanged decodes bodies into entity.OrderCreate
// (fast path) and into plainOrderCreate (encoding/json only): the values,
// the errors and the error responses must be the same.
func TestDecodeJSONOrderCreateUnchanged(t *testing.T) {
	bodies := []string{
		// Taken by the fast path.
		`{"order_type":"market_buy","asset_id":"DOGE","quantity":"1"}`,
		`{"order_type":"limit_buy","asset_id":"BTC","quantity":0.5,"limit_price":"60000","time_in_force":"gtd",` +
			`"expires_at":"2026-11-25T21:57:29.123456Z","client_order_id":"c-1","currency":"EUR","oco_with":"x","price":null}`,
		`{}`,
		// Declined by the fast path but valid for encoding/json.
		`{"order_type":"market_buy","asset_id":"D\u004fGE","quantity":"1"}`,
		`{"order_type":"market_buy","note":{"a":[1,2]},"quantity":"1"}`, "{\"asset_id\":\"\xff\"}",
		// Errors: every one from the encoding/json path.
		``, ` `, `null`, `[]`, `"x"`, `{`, `{"asset_id":"X"} x`, `{}{}`, `{"asset_id":"X",}`, "{\"asset_id\":\"a\tb\"}",
		`{"order_type":5}`, `{"asset_id":true,"quantity":"x"}`, `{"quantity":{}}`, `{"quantity":""}`, `{"quantity":"1e999"}`,
		`{"quantity":01}`, `{"expires_at":5}`, `{"expires_at":"tomorrow"}`, `{"quantity":"1","quantity":"abc"}`,
		`{"Quantity":"abc"}`, `{"order_type":"market_buy","unknown":1,"price":[]}`,
		// Repeated keys and keys matching a field only by case: 400 from both.
		`{"asset_id":"X","asset_id":null,"quantity":"1","quantity":null}`, `{"Order_Type":"market_buy","QUANTITY":"2"}`,
		`{"order_type":"market_buy","asset_id":"DOGE","quantity":"10","quantity":"9999"}`, `{"quantity":"1","Quantity":"2"}`,
	}
	for _, body := range bodies {
		var fast entity.OrderCreate
		var plain plainOrderCreate
		fresp, ferr := decodeBody(t, body, &fast)
		presp, perr := decodeBody(t, body, &plain)
		if (ferr == nil) != (perr == nil) || fresp != presp {
			t.Errorf("body %q:\nfast  %v %s\nplain %v %s", body, ferr, fresp, perr, presp)
			continue
		}
		// The wrapped encoding/json error names the struct type.
		if ferr != nil && ferr.Error() != strings.ReplaceAll(perr.Error(), "plainOrderCreate", "OrderCreate") {
			t.Errorf("body %q: error %q, want %q", body, ferr, perr)
		}
		if !reflect.DeepEqual(plainOrderCreate(fast), plain) {
			t.Errorf("body %q: value %+v, want %+v", body, fast, plain)
		}
	}

	// A non-zero destination: encoding/json merges the body into it.
	fast := entity.OrderCreate{AssetID: "BTC", Currency: entity.EUR}
	plain := plainOrderCreate(fast)
	body := `{"order_type":"market_buy","quantity":"1"}`
	if _, ferr := decodeBody(t, body, &fast); ferr != nil {
		t.Fatal(ferr)
	}
	if _, perr := decodeBody(t, body, &plain); perr != nil {
		t.Fatal(perr)
	}
	if !reflect.DeepEqual(plainOrderCreate(fast), plain) || fast.AssetID != "BTC" {
		t.Errorf("merge: %+v, want %+v", fast, plain)
	}
}

// TestDecodeJSONOrderCreateAmbiguousKeys checks the answers for the order
// body (the fast path's type) with a repeated key or a key that matches a
// field only by case, and that an unknown key is still ignored.
func TestDecodeJSONOrderCreateAmbiguousKeys(t *testing.T) {
	for _, tt := range []struct{ body, want string }{
		{`{"order_type":"market_buy","asset_id":"DOGE","quantity":"10","quantity":"9999"}`,
			`400 {"detail":"invalid request body: duplicate key \"quantity\" in body","code":"bad_request"}`},
		{`{"order_type":"market_buy","order_type":"market_sell","asset_id":"DOGE","quantity":"1"}`,
			`400 {"detail":"invalid request body: duplicate key \"order_type\" in body","code":"bad_request"}`},
		{`{"order_type":"market_buy","asset_id":"DOGE","quantity":"1","price":null,"price":"5"}`,
			`400 {"detail":"invalid request body: duplicate key \"price\" in body","code":"bad_request"}`},
		{`{"order_type":"market_buy","asset_id":"DOGE","QUANTITY":"1"}`,
			`400 {"detail":"invalid request body: key \"QUANTITY\" in body differs from the field \"quantity\" only by case (keys are case-sensitive)","code":"bad_request"}`},
		{`{"order_type":"market_buy","Asset_ID":"DOGE","quantity":"1"}`,
			`400 {"detail":"invalid request body: key \"Asset_ID\" in body differs from the field \"asset_id\" only by case (keys are case-sensitive)","code":"bad_request"}`},
		{`{"order_type":"market_buy","asset_id":"DOGE","quantity":"1","note":"x"}`, ``},
	} {
		var o entity.OrderCreate
		if got, _ := decodeBody(t, tt.body, &o); got != tt.want {
			t.Errorf("body %s:\ngot  %s\nwant %s", tt.body, got, tt.want)
		}
	}
}

// BenchmarkDecodeJSONOrderCreate decodes the typical order body with and
// without the fast path.
func BenchmarkDecodeJSONOrderCreate(b *testing.B) {
	body := []byte(`{"order_type":"market_buy","asset_id":"DOGE","quantity":"1"}`)
	rd := bytes.NewReader(body)
	r := httptest.NewRequest("POST", "/api/v1/orders", rd)
	r.Body = io.NopCloser(rd)
	bench := func(b *testing.B, dst func() any) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			rd.Reset(body)
			if err := httpapi.DecodeJSON(r, dst()); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("encoding/json", func(b *testing.B) { bench(b, func() any { return new(plainOrderCreate) }) })
	b.Run("DecodeFast", func(b *testing.B) { bench(b, func() any { return new(entity.OrderCreate) }) })
}

// BenchmarkDecodeJSONBatch decodes a batch body of 100 orders (the general
// path: a struct holding a slice of orders).
func BenchmarkDecodeJSONBatch(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"orders":[`)
	for i := range 100 {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`{"order_type":"market_buy","asset_id":"DOGE","quantity":"1","client_order_id":"c-` + strconv.Itoa(i) + `"}`)
	}
	sb.WriteString(`]}`)
	body := []byte(sb.String())
	rd := bytes.NewReader(body)
	r := httptest.NewRequest("POST", "/api/v1/orders/batch", rd)
	r.Body = io.NopCloser(rd)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		rd.Reset(body)
		var req struct {
			Orders []entity.OrderCreate `json:"orders"`
		}
		if err := httpapi.DecodeJSON(r, &req); err != nil {
			b.Fatal(err)
		}
	}
}
