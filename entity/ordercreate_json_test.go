package entity

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/orderprocessor/orderprocessor/decimal"
)

// orderCreateBodies are typical POST /orders bodies, one or more of every
// order type and optional field (fuzz seeds and benchmark inputs).
var orderCreateBodies = []string{
	`{"order_type":"market_buy","asset_id":"DOGE","quantity":"1"}`,
	`{"order_type":"market_sell","asset_id":"BTC","quantity":"0.5"}`,
	`{"order_type":"limit_buy","asset_id":"ETH","quantity":"2.25","limit_price":"3100.5"}`,
	`{"order_type":"limit_sell","asset_id":"ETH","quantity":2,"price":3200}`,
	`{"order_type":"take_profit","asset_id":"SOL","quantity":"10","limit_price":"250","oco_with":"01JDQ8Z3V6W5N2T8K4M0R7P9XA"}`,
	`{"order_type":"stop_loss","asset_id":"BTC","quantity":"0.1","stop_price":"58000","time_in_force":"day"}`,
	`{"order_type":"trailing_stop","asset_id":"BTC","quantity":"0.1","trail_percent":"2.5"}`,
	`{"order_type":"trailing_stop","asset_id":"ADA","quantity":"100","trail_amount":0.05}`,
	`{"order_type":"limit_buy","asset_id":"BTC","quantity":"1","limit_price":"60000","time_in_force":"gtd","expires_at":"2026-11-25T21:57:29.123456Z"}`,
	`{"order_type":"market_buy","asset_id":"DOGE","quantity":"100","client_order_id":"my-order_1","currency":"EUR"}`,
	`{"order_type":"limit_sell","asset_id":"BTC","quantity":"1","limit_price":"70000","oco_with":"01JDQ8Z3V6W5N2T8K4M0R7P9XB","time_in_force":"gtc","currency":"usd"}`,
	"{\n  \"order_type\": \"market_buy\",\n  \"asset_id\": \"DOGE\",\n  \"quantity\": 1e2,\n  \"price\": null\n}\n",
}

func TestOrderCreateDecodeFast(t *testing.T) {
	expires := TimePtr(MustParseTime("2026-11-25T19:57:29.123456Z").Time)
	tests := []struct {
		name string
		body string
		want OrderCreate
	}{
		{"typical", `{"order_type":"market_buy","asset_id":"DOGE","quantity":"1"}`,
			OrderCreate{OrderType: MarketBuy, AssetID: "DOGE", Quantity: dec("1")}},
		{"empty object", `{}`, OrderCreate{}},
		{"whitespace everywhere", " \t\r\n{ \"asset_id\" :\t\"BTC\" ,\n\"quantity\"\r: 2 } \n",
			OrderCreate{AssetID: "BTC", Quantity: dec("2")}},
		{"every field", `{"order_type":"limit_buy","asset_id":"btc","quantity":"0.10000000","price":"1","limit_price":"60000.5",` +
			`"stop_price":"1","trail_percent":"2.5","trail_amount":"3","time_in_force":"gtd","expires_at":"2026-11-25T21:57:29.1234569+02:00",` +
			`"client_order_id":"c-1_x","currency":"EUR","oco_with":"01JDQ8Z3V6W5N2T8K4M0R7P9XA"}`,
			OrderCreate{OrderType: LimitBuy, AssetID: "btc", Quantity: dec("0.1"), Price: dec("1"), LimitPrice: dec("60000.5"),
				StopPrice: dec("1"), TrailPercent: dec("2.5"), TrailAmount: dec("3"), TimeInForce: GTD, ExpiresAt: expires,
				ClientOrderID: "c-1_x", Currency: EUR, OCOWith: "01JDQ8Z3V6W5N2T8K4M0R7P9XA"}},
		{"JSON numbers for decimals", `{"quantity":1.5,"price":-0,"limit_price":1E+3,"stop_price":25e-1,"trail_amount":0.000001}`,
			OrderCreate{Quantity: dec("1.5"), Price: dec("0"), LimitPrice: dec("1000"), StopPrice: dec("2.5"), TrailAmount: dec("0.000001")}},
		{"null pointers", `{"quantity":null,"price":null,"expires_at":null}`, OrderCreate{}},
		{"null strings", `{"order_type":null,"asset_id":null,"time_in_force":null,"client_order_id":null,"currency":null,"oco_with":null}`, OrderCreate{}},
		{"values kept as sent", `{"order_type":"MARKET_BUY","time_in_force":"GTC","currency":"usd","asset_id":""}`,
			OrderCreate{OrderType: "MARKET_BUY", TimeInForce: "GTC", Currency: "usd"}},
		{"UTF-8 and odd characters", "{\"client_order_id\":\"café 😀 \u2028 <&> \x7f /\",\"oco_with\":\"\ufffd\"}",
			OrderCreate{ClientOrderID: "café 😀 \u2028 <&> \x7f /", OCOWith: "\ufffd"}},
		{"longest decimal texts", `{"quantity":"` + strings.Repeat("0", decimal.MaxTextLen-1) + `1","price":1.` + strings.Repeat("0", decimal.MaxTextLen-2) + `}`,
			OrderCreate{Quantity: dec("1"), Price: dec("1")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got OrderCreate
			if !got.DecodeFast([]byte(tt.body)) {
				t.Fatalf("DecodeFast(%s) = false", tt.body)
			}
			if msg := diffOrderCreate(got, tt.want, false); msg != "" {
				t.Fatalf("DecodeFast(%s): %s", tt.body, msg)
			}
			var std OrderCreate
			if err := json.Unmarshal([]byte(tt.body), &std); err != nil {
				t.Fatalf("json.Unmarshal: %v", err)
			}
			if msg := diffOrderCreate(got, std, true); msg != "" {
				t.Fatalf("DecodeFast vs json.Unmarshal: %s", msg)
			}
		})
	}
}

func TestOrderCreateDecodeFastDeclines(t *testing.T) {
	tooLong := strings.Repeat("1", decimal.MaxTextLen+1)
	bodies := []string{
		// Not one plain object.
		``, `   `, `null`, `[]`, `"x"`, `1`, `{`, `}`, `{"asset_id":"X"`, `{"asset_id":"X}`, `{"asset_id"`,
		`{"asset_id"}`, `{"asset_id":}`, `{"asset_id" "X"}`, `{,}`, `{"asset_id":"X",}`, `{"asset_id":"X" "quantity":"1"}`,
		`{'asset_id':'X'}`, `{asset_id:"X"}`, "\ufeff{}", "\v{}", "{}\f", "\u00a0{}",
		// Trailing data.
		`{"asset_id":"X"} x`, `{}{}`, `{"asset_id":"X"},`, `{} null`, `{}]`,
		// Escapes, control characters and invalid UTF-8, in values and keys.
		`{"asset_id":"D\u004fGE"}`, `{"asset_id":"a\"b"}`, `{"asset_id":"a\\"}`, `{"asset\u005fid":"X"}`, `{"asset_id":"a\/b"}`,
		"{\"asset_id\":\"a\tb\"}", "{\"asset_id\":\"a\nb\"}", "{\"asset_id\":\"\x00\"}", "{\"asset_id\":\"\x1f\"}",
		"{\"asset_id\":\"\xff\"}", "{\"asset_id\":\"\xc3\"}", "{\"asset_id\":\"\xed\xa0\x80\"}", "{\"asset_id\":\"\xf4\x90\x80\x80\"}",
		"{\"\xff\":\"X\"}",
		// Unknown keys and keys matched only case-insensitively.
		`{"zzz":1}`, `{"order_type":"market_buy","note":"x"}`, `{"":"x"}`, `{"Order_Type":"market_buy"}`,
		`{"QUANTITY":"1"}`, `{"assetId":"X"}`, `{"asset_id ":"X"}`, "{\"\u017Fymbol\":\"X\"}",
		// Repeated keys (encoding/json keeps the last value; DecodeJSON refuses them).
		`{"asset_id":"BTC","asset_id":null,"currency":"EUR","currency":null}`, `{"quantity":"1","quantity":null}`,
		`{"expires_at":"2026-11-25T19:57:29.123456Z","expires_at":null}`, `{"order_type":"market_buy","order_type":"market_sell"}`,
		`{"order_type":"market_buy","asset_id":"DOGE","quantity":"10","quantity":"9999"}`, `{"oco_with":"a","price":"1","oco_with":"a"}`,
		`{"order_type":"market_buy","asset_id":"X","quantity":"1","price":"2","limit_price":"3","stop_price":"4","trail_percent":"5",` +
			`"trail_amount":"6","time_in_force":"gtc","expires_at":null,"client_order_id":"c","currency":"USD","oco_with":"o","order_type":"market_buy"}`,
		`{"quantity":"1","QUANTITY":"2"}`,
		// Values of other JSON types.
		`{"asset_id":5}`, `{"order_type":1.5}`, `{"currency":true}`, `{"oco_with":false}`, `{"asset_id":["x"]}`,
		`{"asset_id":{}}`, `{"quantity":{"v":1}}`, `{"quantity":[1]}`, `{"quantity":true}`, `{"expires_at":5}`,
		`{"expires_at":true}`, `{"expires_at":{}}`, `{"time_in_force":[]}`,
		// Bad literals and numbers.
		`{"asset_id":nul}`, `{"asset_id":nulll}`, `{"quantity":NULL}`, `{"quantity":01}`, `{"quantity":1.}`, `{"quantity":.5}`,
		`{"quantity":+1}`, `{"quantity":-}`, `{"quantity":1e}`, `{"quantity":1e+}`, `{"quantity":--1}`, `{"quantity":0x10}`,
		`{"quantity":1 2}`, `{"quantity":NaN}`, `{"quantity":Infinity}`, `{"quantity":-01}`,
		// Decimal and time texts their UnmarshalJSON rejects.
		`{"quantity":""}`, `{"quantity":"abc"}`, `{"quantity":" 1"}`, `{"quantity":"+1"}`, `{"quantity":"1."}`, `{"quantity":"1e999"}`,
		`{"quantity":1e126}`, `{"quantity":"0x1"}`, `{"quantity":"NaN"}`, `{"quantity":"` + tooLong + `"}`, `{"quantity":` + tooLong + `}`,
		`{"quantity":"123456789012345678901234567890123456789"}`, `{"quantity":"1","quantity":"x"}`, `{"quantity":"x","quantity":"1"}`,
		`{"expires_at":"tomorrow"}`, `{"expires_at":""}`, `{"expires_at":"2026-11-25"}`, `{"expires_at":"2026-11-25 21:57:29Z"}`,
	}
	for _, body := range bodies {
		var got OrderCreate
		if got.DecodeFast([]byte(body)) {
			t.Errorf("DecodeFast(%q) = true, %+v", body, got)
		}
		if got != (OrderCreate{}) {
			t.Errorf("DecodeFast(%q) declined but changed the receiver: %+v", body, got)
		}
	}

	// A receiver that is not the zero value: json.Unmarshal would merge.
	prev := OrderCreate{AssetID: "BTC", Quantity: dec("3")}
	got := prev
	if got.DecodeFast([]byte(orderCreateBodies[0])) || got != prev {
		t.Errorf("DecodeFast into a non-zero receiver: %+v", got)
	}
	if (*OrderCreate)(nil).DecodeFast([]byte(orderCreateBodies[0])) {
		t.Error("DecodeFast into nil = true")
	}
}

// diffOrderCreate describes how got differs from want, or returns "".
// Decimals and times are compared by value and by text (so that a
// representation difference shows); with deep, the whole values are then
// compared with reflect.DeepEqual, which also sees how each decimal's
// coefficient is stored (equal for decimals parsed from the same text, not
// necessarily for equal decimals built differently).
func diffOrderCreate(got, want OrderCreate, deep bool) string {
	decs := []struct {
		name   string
		gp, wp *decimal.Decimal
	}{
		{"quantity", got.Quantity, want.Quantity}, {"price", got.Price, want.Price},
		{"limit_price", got.LimitPrice, want.LimitPrice}, {"stop_price", got.StopPrice, want.StopPrice},
		{"trail_percent", got.TrailPercent, want.TrailPercent}, {"trail_amount", got.TrailAmount, want.TrailAmount},
	}
	for _, d := range decs {
		switch {
		case (d.gp == nil) != (d.wp == nil):
			return d.name + ": got " + decText(d.gp) + ", want " + decText(d.wp)
		case d.gp != nil && (!d.gp.Equal(*d.wp) || d.gp.String() != d.wp.String() || d.gp.Scale() != d.wp.Scale()):
			return d.name + ": got " + decText(d.gp) + ", want " + decText(d.wp)
		}
	}
	switch g, w := got.ExpiresAt, want.ExpiresAt; {
	case (g == nil) != (w == nil):
		return "expires_at: nil-ness differs"
	case g != nil && (!g.Equal(w.Time) || g.String() != w.String() || g.Location() != w.Location()):
		return "expires_at: got " + g.String() + ", want " + w.String()
	}
	if stringFields(got) != stringFields(want) {
		return "got " + mustMarshal(got) + "\nwant " + mustMarshal(want)
	}
	if deep && !reflect.DeepEqual(got, want) {
		return "got " + mustMarshal(got) + "\nwant " + mustMarshal(want) + " (a deep difference)"
	}
	return ""
}

// stringFields returns o without its pointer fields (compared apart).
func stringFields(o OrderCreate) OrderCreate {
	return OrderCreate{OrderType: o.OrderType, AssetID: o.AssetID, TimeInForce: o.TimeInForce,
		ClientOrderID: o.ClientOrderID, Currency: o.Currency, OCOWith: o.OCOWith}
}

func mustMarshal(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

func decText(d *decimal.Decimal) string {
	if d == nil {
		return "nil"
	}
	return d.String()
}

func FuzzOrderCreateDecodeFast(f *testing.F) {
	for _, s := range orderCreateBodies {
		f.Add([]byte(s))
	}
	for _, s := range []string{
		`{}`, ` {"quantity":null,"asset_id":null} `, `{"quantity":"1","quantity":2}`, `{"asset_id":"X","asset_id":null}`,
		`{"order_type":"market_buy","asset_id":"DOGE","quantity":"10","quantity":"9999"}`, `{"quantity":"1","Quantity":"2"}`,
		`{"quantity":-0.0e-0}`, `{"quantity":1E+125}`, `{"expires_at":"2026-11-25T21:57:29+14:00"}`, `{"expires_at":null}`,
		`{"asset_id":"D\u004fGE"}`, `{"Asset_ID":"X"}`, `{"asset_id":5}`, "{\"asset_id\":\"\xff\"}", `{"a":1}`, `{} x`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var got OrderCreate
		if !got.DecodeFast(body) {
			if got != (OrderCreate{}) {
				t.Fatalf("declined but changed the receiver: %+v", got)
			}
			return
		}
		var want OrderCreate
		if err := json.Unmarshal(body, &want); err != nil {
			t.Fatalf("DecodeFast accepted %q, json.Unmarshal fails: %v", body, err)
		}
		if err := exactUniqueKeys(body); err != nil {
			t.Fatalf("DecodeFast accepted %q: %v", body, err)
		}
		if msg := diffOrderCreate(got, want, true); msg != "" {
			t.Fatalf("body %q: %s", body, msg)
		}
		// Nothing decoded may alias the body, which DecodeJSON reuses.
		for i := range body {
			body[i] = '#'
		}
		if msg := diffOrderCreate(got, want, true); msg != "" {
			t.Fatalf("result changed with the body: %s", msg)
		}
	})
}

// exactUniqueKeys checks, with encoding/json's tokenizer, that body (one
// object of scalars) names each key at most once and only by an
// OrderCreate json tag spelt exactly.
func exactUniqueKeys(body []byte) error {
	tags := map[string]bool{}
	typ := reflect.TypeFor[OrderCreate]()
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		tags[name] = true
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil {
		return err
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key := tok.(string)
		switch {
		case seen[key]:
			return fmt.Errorf("repeated key %q", key)
		case !tags[key]:
			return fmt.Errorf("key %q is not a json tag of OrderCreate", key)
		}
		seen[key] = true
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return err
		}
	}
	return nil
}

var sinkOrderCreate OrderCreate

func BenchmarkOrderCreateDecode(b *testing.B) {
	for _, bc := range []struct{ name, body string }{
		{"market", orderCreateBodies[0]},
		{"limit_gtd", `{"order_type":"limit_buy","asset_id":"BTC","quantity":"0.25","limit_price":"60000.5",` +
			`"time_in_force":"gtd","expires_at":"2026-11-25T21:57:29.123456Z","client_order_id":"c-0123456789","currency":"USD"}`},
	} {
		body := []byte(bc.body)
		b.Run(bc.name+"/json.Unmarshal", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				var r OrderCreate
				if err := json.Unmarshal(body, &r); err != nil {
					b.Fatal(err)
				}
				sinkOrderCreate = r
			}
		})
		b.Run(bc.name+"/DecodeFast", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				var r OrderCreate
				if !r.DecodeFast(body) {
					b.Fatal("declined")
				}
				sinkOrderCreate = r
			}
		})
	}
}
