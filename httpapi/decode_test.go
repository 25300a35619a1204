package httpapi_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/httpapi"
)

// intText is a test-local exact number: it accepts a JSON integer or a string
// of digits and rejects floats, like the project's decimal type rejects
// numbers it cannot represent. It receives the raw JSON bytes.
type intText struct{ digits string }

func (n *intText) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		return nil
	}
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	if strings.ContainsAny(s, ".eE") {
		return apperr.New(apperr.Invalid, "must be a whole number")
	}
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return &apperr.Error{Kind: apperr.Invalid, Message: "not a number",
			Fields: []apperr.FieldError{{Loc: []string{"body"}, Msg: "not a number", Type: "number_parsing"}}}
	}
	n.digits = s
	return nil
}

func (n intText) MarshalJSON() ([]byte, error) { return json.Marshal(n.digits) }

func (intText) JSONSchema() map[string]any {
	return map[string]any{"type": "string", "pattern": "^[0-9]+$"}
}

// plainErrText fails with a plain (non-apperr) error for "bad".
type plainErrText string

func (p *plainErrText) UnmarshalJSON(b []byte) error {
	if string(b) == `"bad"` {
		return errors.New("code must not be bad")
	}
	return json.Unmarshal(b, (*string)(p))
}

type side string

func (side) Enum() []string { return []string{"buy", "sell"} }

type base struct {
	ClientOrderID string  `json:"client_order_id,omitempty" doc:"caller's id for idempotency"`
	Note          *string `json:"note"`
}

type leg struct {
	Qty  intText `json:"qty"`
	Side side    `json:"side"`
}

type orderReq struct {
	base
	OrderType string         `json:"order_type"`
	AssetID   string         `json:"asset_id"`
	Quantity  intText        `json:"quantity"`
	Price     *intText       `json:"price,omitempty"`
	ExpiresAt *time.Time     `json:"expires_at,omitempty"`
	Legs      []leg          `json:"legs,omitempty"`
	Meta      map[string]int `json:"meta,omitempty"`
	Count     int            `json:"count,omitempty"`
	Flag      bool           `json:"flag,omitempty"`
	Code      plainErrText   `json:"code,omitempty"`
	Num       int            `json:"num,string,omitempty"`
	Ratio     float64        `json:"ratio,omitempty"`
	Ignored   string         `json:"-"`
	//lint:ignore U1000 present to check that unexported fields are skipped
	unexported  int
	Pair        [2]int `json:"pair,omitempty"`
	Small       uint8  `json:"small,omitempty"`
	TimeInForce string `json:"TimeInForce,omitempty"`
}

// decodeServer echoes the decoded order or writes the decode error.
func decodeServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req orderReq
		if err := httpapi.DecodeJSON(r, &req); err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, req)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	return resp.StatusCode, strings.TrimSuffix(string(b), "\n")
}

func fieldBody(items ...string) string {
	return `{"detail":[` + strings.Join(items, ",") + `],"code":"invalid"}`
}

// badKey is the 400 answer for an ambiguous key.
func badKey(msg string) string {
	return `{"detail":"invalid request body: ` + msg + `","code":"bad_request"}`
}

// manyKeys returns n distinct members "k0":0,... (no braces).
func manyKeys(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = `"k` + strconv.Itoa(i) + `":0`
	}
	return strings.Join(parts, ",")
}

func TestDecodeJSON(t *testing.T) {
	srv := decodeServer(t)
	okEcho := func(fields string) string {
		return `{"note":null,"order_type":"market","asset_id":"BTC","quantity":"` + fields + `","pair":[0,0]}`
	}
	tests := []struct {
		name   string
		body   string
		status int
		want   string
	}{
		{"valid number", `{"order_type":"market","asset_id":"BTC","quantity":100000000000000000001}`, 200, okEcho("100000000000000000001")},
		{"valid string and unknown fields ignored", `{"order_type":"market","asset_id":"BTC","quantity":"7","zzz":[1,{"a":null}],"Ignored":"x","unexported":1}`, 200, okEcho("7")},
		{"key differing from a field only by case", `{"ORDER_TYPE":"market","asset_id":"BTC","quantity":"7"}`, 400,
			badKey(`key \"ORDER_TYPE\" in body differs from the field \"order_type\" only by case (keys are case-sensitive)`)},
		{"key folding to a field (Kelvin sign)", "{\"asset_id\":\"BTC\",\"quantity\":\"7\",\"\u212Aeep\":1,\"pair\":[1,2],\"\u017Fmall\":1}", 400,
			badKey(`key \"ſmall\" in body differs from the field \"small\" only by case (keys are case-sensitive)`)},
		{"case variant after the exact key", `{"quantity":"1","QUANTITY":"9999"}`, 400,
			badKey(`key \"QUANTITY\" in body differs from the field \"quantity\" only by case (keys are case-sensitive)`)},
		{"case variant in a nested struct", `{"legs":[{"qty":1},{"Side":"buy"}]}`, 400,
			badKey(`key \"Side\" in body.legs.1 differs from the field \"side\" only by case (keys are case-sensitive)`)},
		{"case variant of a promoted field", `{"Client_Order_ID":"x"}`, 400,
			badKey(`key \"Client_Order_ID\" in body differs from the field \"client_order_id\" only by case (keys are case-sensitive)`)},
		{"field named in upper case spelt exactly", `{"order_type":"market","asset_id":"BTC","quantity":"7","TimeInForce":"gtc"}`, 200,
			`{"note":null,"order_type":"market","asset_id":"BTC","quantity":"7","pair":[0,0],"TimeInForce":"gtc"}`},
		{"map keys are not fields", `{"order_type":"market","asset_id":"BTC","quantity":"7","meta":{"Quantity":1,"quantity":2}}`, 200,
			`{"note":null,"order_type":"market","asset_id":"BTC","quantity":"7","meta":{"Quantity":1,"quantity":2},"pair":[0,0]}`},
		{"duplicate key", `{"order_type":"market","asset_id":"BTC","quantity":"10","quantity":"9999"}`, 400, badKey(`duplicate key \"quantity\" in body`)},
		{"duplicate key with null", `{"note":"a","note":null}`, 400, badKey(`duplicate key \"note\" in body`)},
		{"duplicate key spelt with an escape", `{"quantity":"10","quan\u0074ity":"9999"}`, 400, badKey(`duplicate key \"quantity\" in body`)},
		{"duplicate key in a nested struct", `{"legs":[{"qty":1,"side":"buy","qty":2}]}`, 400, badKey(`duplicate key \"qty\" in body.legs.0`)},
		{"duplicate key in a map", `{"meta":{"a":1,"b":2,"a":3}}`, 400, badKey(`duplicate key \"a\" in body.meta`)},
		{"duplicate unknown key", `{"zzz":1,"zzz":2}`, 400, badKey(`duplicate key \"zzz\" in body`)},
		{"duplicate key inside an unknown field", `{"zzz":[{"a":1,"a":1}]}`, 400, badKey(`duplicate key \"a\" in body.zzz.0`)},
		{"duplicate key inside a custom unmarshaler's value", `{"quantity":{"v":1,"v":2}}`, 400, badKey(`duplicate key \"v\" in body.quantity`)},
		{"duplicate key with a field error", `{"count":1.5,"count":2}`, 400, badKey(`duplicate key \"count\" in body`)},
		{"duplicate invalid UTF-8 keys decode alike", "{\"\xff\":1,\"\xfe\":2}", 400, badKey("duplicate key \\\"\ufffd\\\" in body")},
		{"duplicate key among many", `{` + manyKeys(40) + `,"k7":0}`, 400, badKey(`duplicate key \"k7\" in body`)},
		{"many distinct keys", `{` + manyKeys(40) + `,"order_type":"market","asset_id":"BTC","quantity":"7"}`, 200, okEcho("7")},
		{"syntax error comes first", `{"quantity":"1","quantity":"2"`, 422, fieldBody(`{"loc":["body"],"msg":"Invalid JSON: unexpected end of JSON input at offset 30","type":"json_invalid"}`)},
		{"empty body", ``, 422, fieldBody(`{"loc":["body"],"msg":"Field required","type":"missing"}`)},
		{"whitespace body", " \n\t ", 422, fieldBody(`{"loc":["body"],"msg":"Field required","type":"missing"}`)},
		{"null", `null`, 422, fieldBody(`{"loc":["body"],"msg":"Input should be a valid JSON object","type":"dict_type"}`)},
		{"array", `[{"order_type":"market"}]`, 422, fieldBody(`{"loc":["body"],"msg":"Input should be a valid JSON object","type":"dict_type"}`)},
		{"scalar", ` 42 `, 422, fieldBody(`{"loc":["body"],"msg":"Input should be a valid JSON object","type":"dict_type"}`)},
		{"string", `"x"`, 422, fieldBody(`{"loc":["body"],"msg":"Input should be a valid JSON object","type":"dict_type"}`)},
		{"not JSON", `hello`, 422, fieldBody(`{"loc":["body"],"msg":"Invalid JSON","type":"json_invalid"}`)},
		{"trailing garbage", `{"order_type":"market"} x`, 422, fieldBody(`{"loc":["body"],"msg":"Invalid JSON: invalid character 'x' after top-level value at offset 25","type":"json_invalid"}`)},
		{"two objects", `{}{}`, 422, fieldBody(`{"loc":["body"],"msg":"Invalid JSON: invalid character '{' after top-level value at offset 3","type":"json_invalid"}`)},
		{"truncated", `{"order_type":`, 422, fieldBody(`{"loc":["body"],"msg":"Invalid JSON: unexpected end of JSON input at offset 14","type":"json_invalid"}`)},
		{"string field gets number", `{"order_type":5}`, 422, fieldBody(`{"loc":["body","order_type"],"msg":"Input should be a valid string","type":"string_type"}`)},
		{"custom unmarshaler rejects float", `{"quantity":1.5}`, 422, fieldBody(`{"loc":["body","quantity"],"msg":"must be a whole number","type":"value_error"}`)},
		{"custom unmarshaler apperr field type", `{"quantity":"abc"}`, 422, fieldBody(`{"loc":["body","quantity"],"msg":"not a number","type":"number_parsing"}`)},
		{"custom unmarshaler behind pointer", `{"price":2e3}`, 422, fieldBody(`{"loc":["body","price"],"msg":"must be a whole number","type":"value_error"}`)},
		{"custom unmarshaler plain error", `{"code":"bad"}`, 422, fieldBody(`{"loc":["body","code"],"msg":"code must not be bad","type":"value_error"}`)},
		{"nested array element", `{"legs":[{"qty":1,"side":"buy"},{"qty":2.5}]}`, 422, fieldBody(`{"loc":["body","legs","1","qty"],"msg":"must be a whole number","type":"value_error"}`)},
		{"all errors in body order", `{"quantity":1.5,"order_type":1,"asset_id":true}`, 422, fieldBody(
			`{"loc":["body","quantity"],"msg":"must be a whole number","type":"value_error"}`,
			`{"loc":["body","order_type"],"msg":"Input should be a valid string","type":"string_type"}`,
			`{"loc":["body","asset_id"],"msg":"Input should be a valid string","type":"string_type"}`)},
		{"embedded struct field", `{"client_order_id":5}`, 422, fieldBody(`{"loc":["body","client_order_id"],"msg":"Input should be a valid string","type":"string_type"}`)},
		{"int from float", `{"count":1.5}`, 422, fieldBody(`{"loc":["body","count"],"msg":"Input should be a valid integer, got a number with a fractional part","type":"int_from_float"}`)},
		{"int overflow", `{"count":123456789012345678901234567890}`, 422, fieldBody(`{"loc":["body","count"],"msg":"Input should be a valid integer within range","type":"int_parsing"}`)},
		{"uint negative", `{"small":-1}`, 422, fieldBody(`{"loc":["body","small"],"msg":"Input should be a valid integer within range","type":"int_parsing"}`)},
		{"int from string", `{"count":"3"}`, 422, fieldBody(`{"loc":["body","count"],"msg":"Input should be a valid integer","type":"int_type"}`)},
		{"bool", `{"flag":"yes"}`, 422, fieldBody(`{"loc":["body","flag"],"msg":"Input should be a valid boolean","type":"bool_type"}`)},
		{"float", `{"ratio":"0.5"}`, 422, fieldBody(`{"loc":["body","ratio"],"msg":"Input should be a valid number","type":"float_type"}`)},
		{"list expected", `{"legs":{"qty":1}}`, 422, fieldBody(`{"loc":["body","legs"],"msg":"Input should be a valid list","type":"list_type"}`)},
		{"object expected in list", `{"legs":[3]}`, 422, fieldBody(`{"loc":["body","legs","0"],"msg":"Input should be a valid object","type":"dict_type"}`)},
		{"map expected", `{"meta":[1]}`, 422, fieldBody(`{"loc":["body","meta"],"msg":"Input should be a valid object","type":"dict_type"}`)},
		{"map value", `{"meta":{"a":1,"b":"x"}}`, 422, fieldBody(`{"loc":["body","meta","b"],"msg":"Input should be a valid integer","type":"int_type"}`)},
		{"array element", `{"pair":[1,"x",3]}`, 422, fieldBody(`{"loc":["body","pair","1"],"msg":"Input should be a valid integer","type":"int_type"}`)},
		{"time", `{"expires_at":"tomorrow"}`, 422, fieldBody(`{"loc":["body","expires_at"],"msg":"Input should be a valid RFC 3339 date-time","type":"datetime_parsing"}`)},
		{"time wrong type", `{"expires_at":5}`, 422, fieldBody(`{"loc":["body","expires_at"],"msg":"Input should be a valid RFC 3339 date-time","type":"datetime_parsing"}`)},
		{"string option unquoted", `{"num":12}`, 422, fieldBody(`{"loc":["body","num"],"msg":"Input is not a valid value","type":"value_error"}`)},
		{"null for composites is fine", `{"order_type":"market","asset_id":"BTC","quantity":"1","legs":null,"meta":null,"price":null,"expires_at":null}`, 200, okEcho("1")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := post(t, srv.URL, tt.body)
			if status != tt.status || body != tt.want {
				t.Errorf("got %d %s\nwant %d %s", status, body, tt.status, tt.want)
			}
		})
	}
}

func TestDecodeJSONFieldErrorsBounded(t *testing.T) {
	srv := decodeServer(t)
	body := `{"legs":[` + strings.Repeat(`{"qty":1.5},`, 100) + `{"qty":1.5}]}`
	status, resp := post(t, srv.URL, body)
	var got struct {
		Detail []apperr.FieldError `json:"detail"`
	}
	if err := json.Unmarshal([]byte(resp), &got); err != nil || status != 422 {
		t.Fatalf("got %d %s (%v)", status, resp, err)
	}
	if len(got.Detail) != 32 || got.Detail[31].Loc[2] != "31" {
		t.Fatalf("got %d errors, last %v", len(got.Detail), got.Detail[len(got.Detail)-1])
	}
}

func TestDecodeJSONSizeLimit(t *testing.T) {
	srv := decodeServer(t)
	valid := `{"order_type":"market","asset_id":"BTC","quantity":"7"}`
	exact := valid + strings.Repeat(" ", httpapi.MaxBodyBytes-len(valid))
	tooBig := exact + " "
	const want413 = `{"detail":"request body too large","code":"payload_too_large"}`
	tests := []struct {
		name    string
		body    string
		chunked bool
		status  int
	}{
		{"exactly the limit", exact, false, 200},
		{"one byte over, with Content-Length", tooBig, false, 413},
		{"exactly the limit, chunked", exact, true, 200},
		{"one byte over, chunked", tooBig, true, 413},
		{"far over, chunked", strings.Repeat(tooBig, 4), true, 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader = strings.NewReader(tt.body)
			if tt.chunked {
				body = io.MultiReader(body) // hides the length: sent chunked
			}
			resp, err := http.Post(srv.URL, "application/json", body)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d %s", resp.StatusCode, b)
			}
			if tt.status == 413 && strings.TrimSpace(string(b)) != want413 {
				t.Fatalf("body %s", b)
			}
		})
	}
}

func TestDecodeJSONMaxBytesReader(t *testing.T) {
	// A body already limited by http.MaxBytesReader (e.g. by a gateway) is a 413 too.
	r := httptest.NewRequest("POST", "/", strings.NewReader(`{"a":"`+strings.Repeat("x", 100)+`"}`))
	r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, 10)
	r.ContentLength = -1
	var v map[string]any
	if err := httpapi.DecodeJSON(r, &v); !errors.Is(err, httpapi.ErrTooLarge) || apperr.KindOf(err) != apperr.TooLarge {
		t.Fatalf("err = %v", err)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestDecodeJSONReadErrorAndBadTarget(t *testing.T) {
	r := httptest.NewRequest("POST", "/", nil)
	r.Body = io.NopCloser(failingReader{})
	var v map[string]any
	err := httpapi.DecodeJSON(r, &v)
	if apperr.KindOf(err) != apperr.Invalid || len(apperr.FieldsOf(err)) != 1 || apperr.FieldsOf(err)[0].Type != "body_read" {
		t.Fatalf("read error: %v %+v", err, apperr.FieldsOf(err))
	}
	r = httptest.NewRequest("POST", "/", strings.NewReader(`{}`))
	if err := httpapi.DecodeJSON(r, v); apperr.KindOf(err) != apperr.Internal {
		t.Fatalf("non-pointer target: %v", err)
	}
	r = httptest.NewRequest("POST", "/", nil)
	r.Body = nil
	if err := httpapi.DecodeJSON(r, &v); apperr.FieldsOf(err)[0].Type != "missing" {
		t.Fatalf("nil body: %v", err)
	}
}

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		``, `{}`, `null`, `[]`, `{"quantity":1.5}`, `{"legs":[{"qty":"1"},{"qty":[]}]}`,
		`{"meta":{"a":1}}`, `{"expires_at":"2024-01-02T03:04:05Z"}`, `{"num":"12"}`, `{"pair":[1,2,3]}`,
		`{"a":1} x`, `{"order_type":"market","asset_id":"BTC","quantity":"1","price":"2","base":{}}`,
		`{"quantity":"1","quantity":"2"}`, `{"QUANTITY":"1"}`, `{"legs":[{"qty":1,"Qty":2}]}`, `{"meta":{"a":1,"a":2}}`,
		`{"zzz":{"b":[{"c":1,"c":2}]}}`, `{"quan\u0074ity":"1","quantity":"2"}`, `{"meta":{"A":1,"a":2}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := httptest.NewRequest("POST", "/", bytes.NewReader(data))
		var v orderReq
		err := httpapi.DecodeJSON(r, &v)
		// Differential: DecodeJSON accepts exactly the JSON objects that
		// encoding/json decodes without error and whose keys are unique in
		// each object and spelt as the fields they name.
		jerr := json.Unmarshal(data, new(orderReq))
		isObject := len(bytes.TrimLeft(data, " \t\r\n")) > 0 && bytes.TrimLeft(data, " \t\r\n")[0] == '{'
		var kerr error
		if isObject && json.Valid(data) {
			dec := json.NewDecoder(bytes.NewReader(data))
			dec.UseNumber() // a number beyond float64 (1E700) is valid JSON
			kerr = ambiguousKey(dec, orderReqKeys)
		}
		if len(data) <= httpapi.MaxBodyBytes && (err == nil) != (jerr == nil && kerr == nil && isObject) {
			t.Fatalf("DecodeJSON err %v, json.Unmarshal err %v, keys %v", err, jerr, kerr)
		}
		if err == nil {
			return
		}
		ae, ok := err.(*apperr.Error)
		if !ok {
			t.Fatalf("error %T is not *apperr.Error: %v", err, err)
		}
		if len(data) > httpapi.MaxBodyBytes {
			if ae.Kind != apperr.TooLarge {
				t.Fatalf("kind %s for a big body", ae.Kind)
			}
			return
		}
		if kerr != nil {
			if ae.Kind != apperr.BadRequest || !strings.HasPrefix(ae.Message, "invalid request body: ") {
				t.Fatalf("ambiguous key (%v): kind %s: %v", kerr, ae.Kind, err)
			}
			return
		}
		if ae.Kind != apperr.Invalid || len(ae.Fields) == 0 {
			t.Fatalf("kind %s fields %v: %v", ae.Kind, ae.Fields, err)
		}
		var se *json.SyntaxError
		fieldLevel := isObject && !errors.As(jerr, &se)
		for _, fe := range ae.Fields {
			if len(fe.Loc) == 0 || fe.Loc[0] != "body" || fe.Msg == "" || fe.Type == "" {
				t.Fatalf("bad field error %+v", fe)
			}
			if fieldLevel && len(fe.Loc) < 2 {
				t.Fatalf("field error not located: %+v for %v", fe, jerr)
			}
		}
	})
}

// keyNode describes where a JSON value lands in orderReq: the field names
// of a struct (fields != nil), or the node of a slice's or map's elements.
// A nil node is a value with no struct inside (only repeated keys count).
type keyNode struct {
	fields map[string]*keyNode
	elem   *keyNode
}

var orderReqKeys = func() *keyNode {
	n := &keyNode{fields: map[string]*keyNode{}}
	for _, f := range []string{"client_order_id", "note", "order_type", "asset_id", "quantity", "price", "expires_at",
		"meta", "count", "flag", "code", "num", "ratio", "pair", "small", "TimeInForce"} {
		n.fields[f] = nil
	}
	n.fields["legs"] = &keyNode{elem: &keyNode{fields: map[string]*keyNode{"qty": nil, "side": nil}}}
	return n
}()

// ambiguousKey reads the next value from dec (well-formed JSON) and reports
// the first key repeated in an object and the first key of a struct object
// that equals a field name only under strings.EqualFold.
func ambiguousKey(dec *json.Decoder, n *keyNode) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return err
			}
			key := kt.(string)
			if seen[key] {
				return fmt.Errorf("repeated key %q", key)
			}
			seen[key] = true
			var next *keyNode
			if n != nil && n.fields != nil {
				if sub, ok := n.fields[key]; ok {
					next = sub
				} else {
					for name := range n.fields {
						if strings.EqualFold(name, key) {
							return fmt.Errorf("key %q for field %q", key, name)
						}
					}
				}
			} else if n != nil {
				next = n.elem
			}
			if err := ambiguousKey(dec, next); err != nil {
				return err
			}
		}
		_, err = dec.Token() // '}'
		return err
	case json.Delim('['):
		var next *keyNode
		if n != nil && n.fields == nil {
			next = n.elem
		}
		for dec.More() {
			if err := ambiguousKey(dec, next); err != nil {
				return err
			}
		}
		_, err = dec.Token() // ']'
		return err
	}
	return nil
}

// benchOrder is the shape of a typical order placement body.
type benchOrder struct {
	OrderType     string   `json:"order_type"`
	AssetID       string   `json:"asset_id"`
	Quantity      intText  `json:"quantity"`
	Price         *intText `json:"price,omitempty"`
	LimitPrice    *intText `json:"limit_price,omitempty"`
	TimeInForce   string   `json:"time_in_force,omitempty"`
	ClientOrderID string   `json:"client_order_id,omitempty"`
	Currency      string   `json:"currency,omitempty"`
}

func BenchmarkDecodeJSON(b *testing.B) {
	body := []byte(`{"order_type":"limit","asset_id":"BTC","quantity":"10","limit_price":"6500000",` +
		`"time_in_force":"gtc","client_order_id":"c-0123456789","currency":"USD"}`)
	rd := bytes.NewReader(body)
	r := httptest.NewRequest("POST", "/api/v1/orders", rd)
	r.Body = io.NopCloser(rd)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		rd.Reset(body)
		var o benchOrder
		if err := httpapi.DecodeJSON(r, &o); err != nil {
			b.Fatal(err)
		}
	}
}
