package httpapi_test

import (
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/httpapi"
)

func fieldErrJSON(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	if apperr.KindOf(err) != apperr.Invalid {
		t.Fatalf("kind %s: %v", apperr.KindOf(err), err)
	}
	b, _ := json.Marshal(apperr.FieldsOf(err))
	return string(b)
}

func TestDecodeQuery(t *testing.T) {
	from := time.Date(2024, 1, 2, 3, 4, 5, 600000000, time.UTC)
	zero, ten := int64(0), int64(10)
	tests := []struct {
		name    string
		query   string
		want    listQuery
		wantErr string
	}{
		{"defaults", "currency=USD", listQuery{Limit: 50, ActiveOnly: true, Currency: "USD"}, ""},
		{"all set", "currency=EUR&limit=100&cursor=abc&status=open&order_type=limit&active_only=false&from=2024-01-02T03:04:05.6Z&offset=10&amount=42",
			listQuery{Limit: 100, Cursor: "abc", Status: "open", Type: "limit", ActiveOnly: false, From: &from, Offset: &ten, Currency: "EUR", Amount: &intTextQ{"42"}}, ""},
		{"offset zero", "currency=USD&offset=0", listQuery{Limit: 50, ActiveOnly: true, Currency: "USD", Offset: &zero}, ""},
		{"every error at once", "limit=0&cursor=12345678901234567&status=done&order_type=stop&active_only=x&from=yesterday&offset=-1&amount=1.5&Skipped=x",
			listQuery{}, `[` +
				`{"loc":["query","limit"],"msg":"Input should be greater than or equal to 1","type":"greater_than_equal"},` +
				`{"loc":["query","cursor"],"msg":"String should have at most 16 characters","type":"string_too_long"},` +
				`{"loc":["query","status"],"msg":"Input should be 'open', 'filled' or 'cancelled'","type":"enum"},` +
				`{"loc":["query","order_type"],"msg":"Input should be 'market' or 'limit'","type":"enum"},` +
				`{"loc":["query","active_only"],"msg":"Input should be a valid boolean, unable to interpret input","type":"bool_parsing"},` +
				`{"loc":["query","from"],"msg":"Input should be a valid RFC 3339 date-time","type":"datetime_parsing"},` +
				`{"loc":["query","offset"],"msg":"Input should be greater than or equal to 0","type":"greater_than_equal"},` +
				`{"loc":["query","currency"],"msg":"Field required","type":"missing"},` +
				`{"loc":["query","amount"],"msg":"amount must be digits","type":"value_error"}]`},
		{"first value, escaped names and values", "currency=E%20UR&li%6Dit=8&limit=9&active_only=0",
			listQuery{Limit: 8, ActiveOnly: false, Currency: "E UR"}, ""},
		{"empty is absent", "currency=USD&limit=&active_only=", listQuery{Limit: 50, ActiveOnly: true, Currency: "USD"}, ""},
		{"bool on", "currency=USD&active_only=on", listQuery{Limit: 50, ActiveOnly: true, Currency: "USD"}, ""},
		{"int above", "currency=USD&limit=101", listQuery{}, `[{"loc":["query","limit"],"msg":"Input should be less than or equal to 100","type":"less_than_equal"}]`},
		{"int bad escape", "currency=USD&limit=%zz", listQuery{}, `[{"loc":["query","limit"],"msg":"Input should be a valid integer, unable to parse string as an integer","type":"int_parsing"}]`},
		{"int junk", "currency=USD&limit=1e3", listQuery{}, `[{"loc":["query","limit"],"msg":"Input should be a valid integer, unable to parse string as an integer","type":"int_parsing"}]`},
		{"int64 overflow", "currency=USD&offset=99999999999999999999", listQuery{}, `[{"loc":["query","offset"],"msg":"Input should be a valid integer, unable to parse string as an integer","type":"int_parsing"}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var q listQuery
			err := httpapi.DecodeQuery(httptest.NewRequest("GET", "/x?"+tt.query, nil), &q)
			if got := fieldErrJSON(t, err); got != tt.wantErr {
				t.Fatalf("err %s\nwant %s", got, tt.wantErr)
			}
			if tt.wantErr == "" && !reflect.DeepEqual(q, tt.want) {
				t.Fatalf("got %+v\nwant %+v", q, tt.want)
			}
		})
	}
	var notStruct int
	if err := httpapi.DecodeQuery(httptest.NewRequest("GET", "/", nil), &notStruct); apperr.KindOf(err) != apperr.Internal {
		t.Fatalf("non-struct: %v", err)
	}
	if err := httpapi.DecodeQuery(httptest.NewRequest("GET", "/", nil), listQuery{}); apperr.KindOf(err) != apperr.Internal {
		t.Fatalf("non-pointer: %v", err)
	}
}
