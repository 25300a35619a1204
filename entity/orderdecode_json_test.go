package entity

import (
	"encoding/json"
	"reflect"
	"testing"
)

// orderDocs are stored order documents: what AppendJSON writes, and the
// same in another key order, with whitespace, and numbers for decimals.
var orderDocs = []string{
	completedMarketOrderJSON, zeroOrderJSON,
	`{"order_id":"o","username":"","order_type":"","asset_id":"","quantity":"1.5E+40","price":null,` +
		`"limit_price":null,"stop_price":null,"trail_percent":null,"trail_amount":null,"high_water_mark":null,"status":"",` +
		`"time_in_force":"","expires_at":null,"client_order_id":"","currency":"","total_amount":"0","fee":"0",` +
		`"held_amount":"0","held_quantity":"0","executed_quantity":"0","executed_price":"9.99E+125","oco_with":"",` +
		`"status_history":[],"created_at":null,"updated_at":null,"version":7}`,
	` { "version" : 3 , "status_history" : [ { "reason" : "r" , "at" : "2026-11-25T21:57:29+01:00" , "status" : "queued" } ] ,` +
		` "quantity" : 10.50 , "stop_price" : 1e2 , "expires_at" : "2026-12-01T00:02:03.456789Z" , "status" : "queued" ,` +
		` "order_type" : "stop_loss" , "username" : "alice" , "currency" : "XYZ" } `,
	`{}`,
}

func TestDecodeOrder(t *testing.T) {
	for _, doc := range orderDocs {
		var fast Order
		if !fast.decodeFast([]byte(doc)) {
			t.Fatalf("decodeFast declined %s", doc)
		}
		var want Order
		if err := json.Unmarshal([]byte(doc), &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(&fast, &want) {
			t.Fatalf("decodeFast(%s) =\n%+v\nwant\n%+v", doc, fast, want)
		}
		got, err := DecodeOrder(doc)
		if err != nil || !reflect.DeepEqual(got, &want) {
			t.Fatalf("DecodeOrder(%s) = %+v, %v", doc, got, err)
		}
	}
}

// TestDecodeOrderFallsBack checks documents outside the fast path's shape:
// DecodeOrder gives json.Unmarshal's result or error for them.
func TestDecodeOrderFallsBack(t *testing.T) {
	for _, doc := range []string{
		queuedTrailingStopJSON,                           // escapes
		`{"Order_ID":"x"}`,                               // a key in another case
		`{"extra":1,"order_id":"x"}`,                     // an unknown key
		`{"order_id":"x","order_id":"y"}`,                // a repeated key
		`{"version":1.0}`,                                // not an integer
		`{"version":"1"}`,                                // a string for an integer
		`{"quantity":null}`,                              // null for a decimal value
		`{"status_history":[{"status":"queued","x":1}]}`, // an unknown key in a change
		`{"status_history":[{"status":"queued","status":"x"}]}`,
		`{"order_id":"x"} {}`, `{"order_id":"x",}`, `[1]`, ``, `{"created_at":"yesterday"}`,
	} {
		var fast Order
		if fast.decodeFast([]byte(doc)) {
			t.Errorf("decodeFast accepted %s", doc)
		}
		var want Order
		werr := json.Unmarshal([]byte(doc), &want)
		got, err := DecodeOrder(doc)
		switch {
		case (err == nil) != (werr == nil):
			t.Errorf("DecodeOrder(%s): error %v, json.Unmarshal's %v", doc, err, werr)
		case err == nil && !reflect.DeepEqual(got, &want):
			t.Errorf("DecodeOrder(%s) = %+v, want %+v", doc, got, want)
		}
	}
}

func FuzzDecodeOrder(f *testing.F) {
	for _, s := range orderDocs {
		f.Add(s)
	}
	f.Add(queuedTrailingStopJSON)
	f.Add(`{"version":9223372036854775808}`)
	f.Add(`{"version":-0,"quantity":-0.0e-0,"status_history":null,"updated_at":null}`)
	f.Fuzz(func(t *testing.T, doc string) {
		var fast Order
		if !fast.decodeFast([]byte(doc)) {
			return
		}
		var want Order
		if err := json.Unmarshal([]byte(doc), &want); err != nil {
			t.Fatalf("decodeFast accepted %q, json.Unmarshal fails: %v", doc, err)
		}
		if !reflect.DeepEqual(&fast, &want) {
			t.Fatalf("doc %q: decodeFast =\n%+v\nwant\n%+v", doc, fast, want)
		}
	})
}
