package inventory

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/httpapi"
)

// btcDetail is GET /inventory/assets/BTC after seeding at t0, exactly.
// The 24-hour figures come from the price history (entity.PriceHours): one
// price since the seeding, so high = low = the price and no change.
// Derived: ath_change_percentage = (67250 − 73750.07) / 73750.07 × 100 = −8.81,
// atl_change_percentage = (67250 − 67.81) / 67.81 × 100 = 99074.16.
const btcDetail = `{"data":{"asset_id":"BTC","name":"Bitcoin","description":"The first decentralised digital currency, secured by proof of work.","category":"layer-1","price_usd":67250,"is_active":true,"availability_status":"available","symbol":"btc","image":null,"market_cap_rank":1,"market_cap":1327000000000,"price_change_24h":0,"price_change_percentage_24h":0,"price_change_percentage_7d":3.8,"price_change_percentage_30d":-2.1,"high_24h":67250,"low_24h":67250,"total_volume_24h":28500000000,"circulating_supply":19730000,"total_supply":19730000,"max_supply":21000000,"ath":73750.07,"ath_change_percentage":-8.81,"ath_date":"2024-03-14T07:10:36.635000Z","atl":67.81,"atl_change_percentage":99074.16,"atl_date":"2013-07-06T00:00:00.000000Z","last_updated":"2026-11-25T12:00:00.000000Z"}}`

const invalidAssetPath = `{"detail":[{"loc":["path","asset_id"],"msg":"must be 1-10 letters or digits","type":"value_error"}],"code":"invalid"}`

func TestGetAsset(t *testing.T) {
	e := newEnv(t, true)
	tests := []struct {
		name, path string
		status     int
		want       string
	}{
		{"upper", "/api/v1/inventory/assets/BTC", 200, btcDetail},
		{"lower", "/api/v1/inventory/assets/btc", 200, btcDetail},
		{"mixed, trailing slash", "/api/v1/inventory/assets/bTc/", 200, btcDetail},
		{"unknown", "/api/v1/inventory/assets/ZZZ", 404, `{"detail":"asset ZZZ not found","code":"not_found"}`},
		{"unknown lower", "/api/v1/inventory/assets/zzz", 404, `{"detail":"asset ZZZ not found","code":"not_found"}`},
		{"too long", "/api/v1/inventory/assets/ABCDEFGHIJK", 422, invalidAssetPath},
		{"dash", "/api/v1/inventory/assets/BTC-USD", 422, invalidAssetPath},
		{"escaped space", "/api/v1/inventory/assets/B%20C", 422, invalidAssetPath},
		{"non-ascii", "/api/v1/inventory/assets/%C3%A9", 422, invalidAssetPath},
		{"ten chars", "/api/v1/inventory/assets/ABCDEFGHIJ", 404, `{"detail":"asset ABCDEFGHIJ not found","code":"not_found"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, who := range []caller{anon, customer} {
				status, body := e.do(who, "GET", tc.path, "")
				if status != tc.status || body != tc.want {
					t.Fatalf("caller %d: got %d %s\nwant %d %s", who, status, body, tc.status, tc.want)
				}
			}
		})
	}
}

func TestGetAssetNullableFields(t *testing.T) {
	// ETH has no max supply; a created asset with only the required fields
	// has every optional field null (and still present), but for the
	// 24-hour figures of its price history.
	e := newEnv(t, true)
	_, body := e.do(anon, "GET", "/api/v1/inventory/assets/ETH", "")
	if !strings.Contains(body, `"total_supply":120100000,"max_supply":null,"ath":4878.26,`) {
		t.Fatalf("ETH supplies: %s", body)
	}
	e.clock.Set(t0.Add(90 * time.Minute))
	status, body := e.do(admin, "POST", PathAdminAssets, `{"asset_id":"new1","name":"  New One ","price_usd":0.00000001}`)
	want := `{"data":{"asset_id":"NEW1","name":"New One","description":null,"category":null,"price_usd":0.00000001,"is_active":true,"availability_status":"available","symbol":null,"image":null,"market_cap_rank":null,"market_cap":null,"price_change_24h":0,"price_change_percentage_24h":0,"price_change_percentage_7d":null,"price_change_percentage_30d":null,"high_24h":0.00000001,"low_24h":0.00000001,"total_volume_24h":null,"circulating_supply":null,"total_supply":null,"max_supply":null,"ath":null,"ath_change_percentage":null,"ath_date":null,"atl":null,"atl_change_percentage":null,"atl_date":null,"last_updated":"2026-11-25T13:30:00.000000Z"}}`
	if status != http.StatusCreated || body != want {
		t.Fatalf("create: got %d %s\nwant 201 %s", status, body, want)
	}
	if status, got := e.do(anon, "GET", "/api/v1/inventory/assets/new1", ""); status != 200 || got != want {
		t.Fatalf("get: got %d %s", status, got)
	}
}

func TestCreateAsset(t *testing.T) {
	e := newEnv(t, true)
	// The 24-hour figures come from the price history, not from the body.
	full := `{"asset_id":"xyz","name":"Xyz Coin","description":"A test coin.","category":"DeFi","price_usd":"12.345","is_active":false,"symbol":"xyz","image":"https://img.example/xyz.png","market_cap_rank":30,"market_cap":1000000,"high_24h":"13","low_24h":12,"ath":20,"ath_date":"2025-01-02T03:04:05Z","extra":"ignored"}`
	wantFull := `{"data":{"asset_id":"XYZ","name":"Xyz Coin","description":"A test coin.","category":"defi","price_usd":12.345,"is_active":false,"availability_status":"unavailable","symbol":"xyz","image":"https://img.example/xyz.png","market_cap_rank":30,"market_cap":1000000,"price_change_24h":0,"price_change_percentage_24h":0,"price_change_percentage_7d":null,"price_change_percentage_30d":null,"high_24h":12.345,"low_24h":12.345,"total_volume_24h":null,"circulating_supply":null,"total_supply":null,"max_supply":null,"ath":20,"ath_change_percentage":null,"ath_date":"2025-01-02T03:04:05.000000Z","atl":null,"atl_change_percentage":null,"atl_date":null,"last_updated":"2026-11-25T12:00:00.000000Z"}}`
	tests := []struct {
		name   string
		who    caller
		body   string
		status int
		want   string
	}{
		{"full", admin, full, 201, wantFull},
		{"duplicate", admin, `{"asset_id":"XYZ","name":"Again","price_usd":1}`, 409, `{"detail":"asset XYZ already exists","code":"conflict"}`},
		{"duplicate seeded, lower", admin, `{"asset_id":"btc","name":"Bitcoin 2","price_usd":1}`, 409, `{"detail":"asset BTC already exists","code":"conflict"}`},
		{"missing fields", admin, `{}`, 422, `{"detail":[{"loc":["body","asset_id"],"msg":"field required","type":"missing"},{"loc":["body","name"],"msg":"field required","type":"missing"},{"loc":["body","price_usd"],"msg":"field required","type":"missing"}],"code":"invalid"}`},
		{"zero price", admin, `{"asset_id":"Q1","name":"Q","price_usd":0}`, 422, `{"detail":[{"loc":["body","price_usd"],"msg":"must be greater than 0","type":"value_error"}],"code":"invalid"}`},
		{"nine decimals", admin, `{"asset_id":"Q1","name":"Q","price_usd":"0.000000001"}`, 422, `{"detail":[{"loc":["body","price_usd"],"msg":"must have at most 8 decimal places","type":"value_error"}],"code":"invalid"}`},
		{"huge price", admin, `{"asset_id":"Q1","name":"Q","price_usd":"1e400"}`, 422, `{"detail":[{"loc":["body","price_usd"],"msg":"invalid decimal: \"1e400\" is too large","type":"value_error"}],"code":"invalid"}`},
		{"bad id", admin, `{"asset_id":"BT C","name":"Q","price_usd":1}`, 422, `{"detail":[{"loc":["body","asset_id"],"msg":"must be 1-10 letters or digits","type":"value_error"}],"code":"invalid"}`},
		{"markup", admin, `{"asset_id":"Q1","name":"<script>x</script>","price_usd":1}`, 422, `{"detail":[{"loc":["body","name"],"msg":"must not contain markup or control characters","type":"value_error"}],"code":"invalid"}`},
		{"not an object", admin, `[1]`, 422, `{"detail":[{"loc":["body"],"msg":"Input should be a valid JSON object","type":"dict_type"}],"code":"invalid"}`},
		{"customer", customer, `{"asset_id":"Q2","name":"Q","price_usd":1}`, 403, `{"detail":"admin role required","code":"forbidden"}`},
		{"anonymous", anon, `{"asset_id":"Q2","name":"Q","price_usd":1}`, 401, `{"detail":"not authenticated","code":"unauthorized"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := e.do(tc.who, "POST", PathAdminAssets, tc.body)
			if status != tc.status || body != tc.want {
				t.Fatalf("got %d %s\nwant %d %s", status, body, tc.status, tc.want)
			}
		})
	}
	// Only XYZ was created; the seeded BTC is untouched; Q1, Q2 do not exist.
	all, err := e.d.Assets.All(context.Background())
	if err != nil || len(all) != 25 {
		t.Fatalf("catalogue: %d assets, %v", len(all), err)
	}
	if _, body := e.do(anon, "GET", "/api/v1/inventory/assets/BTC", ""); body != btcDetail {
		t.Fatalf("BTC changed: %s", body)
	}
	for _, id := range []string{"Q1", "Q2"} {
		if status, _ := e.do(anon, "GET", "/api/v1/inventory/assets/"+id, ""); status != 404 {
			t.Fatalf("%s: %d", id, status)
		}
	}
	if got := e.rec.take(); len(got) != 0 {
		t.Fatalf("hooks fired on create: %v", got)
	}
}

func TestUpdateAsset(t *testing.T) {
	e := newEnv(t, true)
	e.clock.Set(t0.Add(time.Hour))
	tests := []struct {
		name   string
		who    caller
		path   string
		body   string
		status int
		want   []string // substrings of the body
		hooks  []change
	}{
		{"rename", admin, "/api/v1/admin/assets/eth", `{"name":"Ether","description":"  New text. "}`, 200,
			[]string{`"asset_id":"ETH","name":"Ether","description":"New text.","category":"layer-1","price_usd":3480.5,"is_active":true,"availability_status":"available"`,
				`"last_updated":"2026-11-25T12:00:00.000000Z"`}, nil},
		{"deactivate", admin, "/api/v1/admin/assets/ETH", `{"is_active":false}`, 200,
			[]string{`"name":"Ether"`, `"is_active":false,"availability_status":"unavailable"`}, nil},
		{"price and market data", admin, "/api/v1/admin/assets/ETH", `{"price_usd":"3500.25","high_24h":3600,"market_cap_rank":2}`, 200,
			[]string{`"price_usd":3500.25,"is_active":false`, `"price_change_24h":19.75,"price_change_percentage_24h":0.57,`, `"high_24h":3500.25,"low_24h":3480.5`, `"last_updated":"2026-11-25T13:00:00.000000Z"`},
			[]change{{"ETH", "3480.5", "3500.25"}}},
		{"same price fires nothing", admin, "/api/v1/admin/assets/ETH", `{"price_usd":3500.250,"is_active":true}`, 200,
			[]string{`"price_usd":3500.25,"is_active":true,"availability_status":"available"`}, nil},
		{"empty body changes nothing", admin, "/api/v1/admin/assets/ETH", `{}`, 200,
			[]string{`"name":"Ether"`, `"price_usd":3500.25`}, nil},
		{"unknown", admin, "/api/v1/admin/assets/NOPE", `{"name":"x"}`, 404, []string{`{"detail":"asset NOPE not found","code":"not_found"}`}, nil},
		{"bad id", admin, "/api/v1/admin/assets/NO_PE", `{"name":"x"}`, 422, []string{invalidAssetPath}, nil},
		{"bad field", admin, "/api/v1/admin/assets/ETH", `{"name":"","price_usd":-1,"market_cap":-5}`, 422,
			[]string{`{"detail":[{"loc":["body","name"],"msg":"field required","type":"missing"},{"loc":["body","price_usd"],"msg":"must be greater than 0","type":"value_error"},{"loc":["body","market_cap"],"msg":"must not be negative","type":"value_error"}],"code":"invalid"}`}, nil},
		{"wrong type", admin, "/api/v1/admin/assets/ETH", `{"is_active":"yes"}`, 422,
			[]string{`{"detail":[{"loc":["body","is_active"],"msg":"Input should be a valid boolean","type":"bool_type"}],"code":"invalid"}`}, nil},
		{"no body", admin, "/api/v1/admin/assets/ETH", ``, 422, []string{`{"detail":[{"loc":["body"],"msg":"Field required","type":"missing"}],"code":"invalid"}`}, nil},
		{"customer", customer, "/api/v1/admin/assets/ETH", `{"name":"Mine"}`, 403, []string{`"code":"forbidden"`}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := e.do(tc.who, "PUT", tc.path, tc.body)
			if status != tc.status {
				t.Fatalf("status %d %s, want %d", status, body, tc.status)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("body %s\nlacks %s", body, w)
				}
			}
			if got := e.rec.take(); !slices.Equal(got, tc.hooks) {
				t.Errorf("hooks %v, want %v", got, tc.hooks)
			}
		})
	}
	a, err := e.d.Assets.Get(context.Background(), "ETH")
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != "Ether" || !a.IsActive || a.PriceUSD.String() != "3500.25" || a.Version != 6 {
		t.Fatalf("stored ETH: %q %v %s v%d", a.Name, a.IsActive, a.PriceUSD, a.Version)
	}
}

func TestSetPrice(t *testing.T) {
	e := newEnv(t, true)
	e.clock.Set(t0.Add(2 * time.Hour))
	tests := []struct {
		name   string
		who    caller
		id     string
		body   string
		status int
		want   string // a substring of the body
		hooks  []change
	}{
		{"number", admin, "btc", `{"price_usd":70000.5}`, 200, `"price_usd":70000.5,`, []change{{"BTC", "67250", "70000.5"}}},
		{"string, 8 places", admin, "BTC", `{"price_usd":"70000.12345678"}`, 200, `"price_usd":70000.12345678,`, []change{{"BTC", "70000.5", "70000.12345678"}}},
		{"same price still fires", admin, "BTC", `{"price_usd":"70000.123456780"}`, 200, `"price_usd":70000.12345678,`, []change{{"BTC", "70000.12345678", "70000.12345678"}}},
		{"max", admin, "BTC", `{"price_usd":1000000000}`, 200, `"price_usd":1000000000,`, []change{{"BTC", "70000.12345678", "1000000000"}}},
		{"last_updated", admin, "SOL", `{"price_usd":150}`, 200, `"last_updated":"2026-11-25T14:00:00.000000Z"`, []change{{"SOL", "148.75", "150"}}},
		{"over max", admin, "BTC", `{"price_usd":1000000000.01}`, 422, `{"detail":[{"loc":["body","price_usd"],"msg":"must be at most 1000000000","type":"value_error"}],"code":"invalid"}`, nil},
		{"zero", admin, "BTC", `{"price_usd":0}`, 422, `"msg":"must be greater than 0"`, nil},
		{"negative", admin, "BTC", `{"price_usd":"-1"}`, 422, `"msg":"must be greater than 0"`, nil},
		{"nine places", admin, "BTC", `{"price_usd":1.000000001}`, 422, `"msg":"must have at most 8 decimal places"`, nil},
		{"missing", admin, "BTC", `{"price":5}`, 422, `{"detail":[{"loc":["body","price_usd"],"msg":"field required","type":"missing"}],"code":"invalid"}`, nil},
		{"null", admin, "BTC", `{"price_usd":null}`, 422, `"type":"missing"`, nil},
		{"not a number", admin, "BTC", `{"price_usd":"abc"}`, 422, `"loc":["body","price_usd"]`, nil},
		{"bool", admin, "BTC", `{"price_usd":true}`, 422, `"loc":["body","price_usd"]`, nil},
		{"malformed JSON", admin, "BTC", `{"price_usd":`, 422, `"type":"json_invalid"`, nil},
		{"unknown", admin, "ZZZ", `{"price_usd":1}`, 404, `{"detail":"asset ZZZ not found","code":"not_found"}`, nil},
		{"bad id", admin, "B.C", `{"price_usd":1}`, 422, invalidAssetPath, nil},
		{"customer", customer, "BTC", `{"price_usd":1}`, 403, `"code":"forbidden"`, nil},
		{"anonymous", anon, "BTC", `{"price_usd":1}`, 401, `"code":"unauthorized"`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := e.do(tc.who, "PUT", "/api/v1/admin/assets/"+tc.id+"/price", tc.body)
			if status != tc.status || !strings.Contains(body, tc.want) {
				t.Fatalf("got %d %s\nwant %d with %s", status, body, tc.status, tc.want)
			}
			if got := e.rec.take(); !slices.Equal(got, tc.hooks) {
				t.Errorf("hooks %v, want %v", got, tc.hooks)
			}
		})
	}
	prices, err := e.svc.Prices(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := prices["BTC"].String(); got != "1000000000" {
		t.Fatalf("stored BTC price %s", got)
	}
}

func TestActivateDeactivate(t *testing.T) {
	e := newEnv(t, true)
	steps := []struct {
		who    caller
		path   string
		status int
		want   string
		active int // active_count afterwards
	}{
		{admin, "/api/v1/admin/assets/doge/deactivate", 200, `"asset_id":"DOGE","name":"Dogecoin","description":"A peer-to-peer currency that began as a joke.","category":"meme","price_usd":0.1235,"is_active":false,"availability_status":"unavailable"`, 23},
		{admin, "/api/v1/admin/assets/DOGE/deactivate", 200, `"is_active":false`, 23},
		{admin, "/api/v1/admin/assets/USDT/deactivate/", 200, `"asset_id":"USDT"`, 22},
		{admin, "/api/v1/admin/assets/DOGE/activate", 200, `"is_active":true,"availability_status":"available"`, 23},
		{admin, "/api/v1/admin/assets/NOPE/activate", 404, `{"detail":"asset NOPE not found","code":"not_found"}`, 23},
		{admin, "/api/v1/admin/assets/N-P/activate", 422, invalidAssetPath, 23},
		{customer, "/api/v1/admin/assets/BTC/deactivate", 403, `"code":"forbidden"`, 23},
	}
	for i, s := range steps {
		status, body := e.do(s.who, "POST", s.path, "")
		if status != s.status || !strings.Contains(body, s.want) {
			t.Fatalf("step %d %s: got %d %s\nwant %d with %s", i, s.path, status, body, s.status, s.want)
		}
		if p := e.list("?limit=1"); p.ActiveCount != s.active || p.TotalCount != 24 {
			t.Fatalf("step %d: counts %d/%d, want %d/24", i, p.ActiveCount, p.TotalCount, s.active)
		}
	}
	// GET of a method the route does not serve is a JSON 405.
	status, body := e.do(admin, "GET", "/api/v1/admin/assets/DOGE/activate", "")
	if status != http.StatusMethodNotAllowed || body != `{"detail":"Method Not Allowed","code":"method_not_allowed"}` {
		t.Fatalf("GET activate: %d %s", status, body)
	}
	if got := e.rec.take(); len(got) != 0 {
		t.Fatalf("hooks fired: %v", got)
	}
}

func TestOperations(t *testing.T) {
	e := newEnv(t, false)
	type opSummary struct {
		Method, Path, ID string
		Auth             httpapi.Auth
		Status           int
		Tag              string
	}
	var got []opSummary
	for _, op := range e.api.Operations() {
		if op.Summary == "" || len(op.Tags) != 1 || op.Response == nil {
			t.Errorf("%s: incomplete metadata %+v", op.OperationID, op)
		}
		got = append(got, opSummary{op.Method, op.Path, op.OperationID, op.Auth, op.Status, op.Tags[0]})
	}
	want := []opSummary{
		{"GET", "/api/v1/inventory/assets", "listAssets", httpapi.AuthNone, 200, "inventory"},
		{"GET", "/api/v1/inventory/assets/{asset_id}", "getAsset", httpapi.AuthNone, 200, "inventory"},
		{"GET", "/api/v1/inventory/assets/{asset_id}/history", "getAssetPriceHistory", httpapi.AuthNone, 200, "inventory"},
		{"POST", "/api/v1/admin/assets", "createAsset", httpapi.AuthAdmin, 201, "admin"},
		{"PUT", "/api/v1/admin/assets/{asset_id}", "updateAsset", httpapi.AuthAdmin, 200, "admin"},
		{"PUT", "/api/v1/admin/assets/{asset_id}/price", "setAssetPrice", httpapi.AuthAdmin, 200, "admin"},
		{"POST", "/api/v1/admin/assets/{asset_id}/activate", "activateAsset", httpapi.AuthAdmin, 200, "admin"},
		{"POST", "/api/v1/admin/assets/{asset_id}/deactivate", "deactivateAsset", httpapi.AuthAdmin, 200, "admin"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("operations\n got %v\nwant %v", got, want)
	}
	spec := string(e.api.OpenAPI())
	for _, s := range []string{`"/api/v1/admin/assets/{asset_id}/price"`, `"operationId":"listAssets"`, `"active_only"`, `"AssetListResponse"`} {
		if !strings.Contains(spec, s) {
			t.Errorf("OpenAPI document lacks %s", s)
		}
	}
}
