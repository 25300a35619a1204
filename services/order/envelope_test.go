package order_test

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/httpapi"
	"github.com/orderprocessor/orderprocessor/services/order"
)

var _ httpapi.JSONAppender = order.OrderEnvelope{}

// plainEnvelope is OrderEnvelope without its methods: what encoding/json
// wrote for it before AppendJSON.
type plainEnvelope order.OrderEnvelope

func encoderJSON(t *testing.T, v any) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func dec(s string) *decimal.Decimal {
	d := decimal.MustParse(s)
	return &d
}

func TestOrderEnvelopeAppendJSON(t *testing.T) {
	t0 := entity.MustParseTime("2026-11-25T21:57:29.123456Z")
	at := func(ms int) entity.Time { return entity.At(t0.Add(time.Duration(ms) * time.Millisecond)) }
	completed := &entity.Order{
		OrderID: "01JDQ8Z3V6W5N2T8K4M0R7P9XA", Username: "alice", OrderType: entity.MarketBuy, AssetID: "BTC",
		Quantity: decimal.MustParse("0.5"), Price: dec("65000.12"), Status: entity.StatusCompleted,
		TimeInForce: entity.GTC, ClientOrderID: "my-order-1", Currency: entity.USD,
		TotalAmount: decimal.MustParse("32500.06"), Fee: decimal.MustParse("32.5"),
		ExecutedQuantity: decimal.MustParse("0.5"), ExecutedPrice: dec("65000.12"),
		StatusHistory: []entity.StatusChange{
			{Status: entity.StatusPending, At: at(0)}, {Status: entity.StatusConfirmed, At: at(2)},
			{Status: entity.StatusProcessing, At: at(3)}, {Status: entity.StatusCompleted, At: at(5)},
		},
		CreatedAt: at(0), UpdatedAt: at(5), Version: 4,
	}
	const completedJSON = `{"data":{"order_id":"01JDQ8Z3V6W5N2T8K4M0R7P9XA","order_type":"market_buy","asset_id":"BTC",` +
		`"quantity":"0.5","price":"65000.12","limit_price":null,"stop_price":null,"trail_percent":null,` +
		`"trail_amount":null,"high_water_mark":null,"status":"completed","time_in_force":"gtc","expires_at":null,` +
		`"client_order_id":"my-order-1","currency":"USD","total_amount":"32500.06","fee":"32.50","held_amount":"0.00",` +
		`"held_quantity":"0","executed_quantity":"0.5","executed_price":"65000.12","oco_with":null,"status_history":[` +
		`{"status":"pending","at":"2026-11-25T21:57:29.123456Z"},{"status":"confirmed","at":"2026-11-25T21:57:29.125456Z"},` +
		`{"status":"processing","at":"2026-11-25T21:57:29.126456Z"},{"status":"completed","at":"2026-11-25T21:57:29.128456Z"}],` +
		`"created_at":"2026-11-25T21:57:29.123456Z","updated_at":"2026-11-25T21:57:29.128456Z"}}`
	queued := &entity.Order{
		OrderID: "01JDQ8Z3V6W5N2T8K4M0R7P9XB", Username: "bob", OrderType: entity.TrailingStop, AssetID: "ETH",
		Quantity: decimal.MustParse("1.25"), TrailPercent: dec("2.5"), HighWaterMark: dec("3000"),
		Status: entity.StatusQueued, TimeInForce: entity.GTD, ExpiresAt: entity.TimePtr(t0.Add(48 * time.Hour)),
		Currency: entity.EUR, HeldQuantity: decimal.MustParse("1.25"), OCOWith: "01JDQ8Z3V6W5N2T8K4M0R7P9XC",
		StatusHistory: []entity.StatusChange{{Status: entity.StatusPending, At: at(0)},
			{Status: entity.StatusQueued, At: at(1), Reason: `waiting for "<3000 & falling>"`}},
		CreatedAt: at(0), UpdatedAt: at(1), Version: 3,
	}
	tests := []struct {
		name string
		o    *entity.Order
		want string // exact JSON, or "" to compare with encoding/json only
	}{
		{"completed market buy", completed, completedJSON},
		{"queued trailing stop", queued, ""},
		{"empty order", &entity.Order{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := order.OrderEnvelope{Data: tt.o.Response()}
			std := encoderJSON(t, plainEnvelope(env))
			if tt.want != "" && std != tt.want+"\n" {
				t.Fatalf("encoding/json =\n%s\nwant\n%s", std, tt.want)
			}
			got, err := env.AppendJSON([]byte("> "))
			if err != nil || string(got) != "> "+std[:len(std)-1] {
				t.Fatalf("AppendJSON = %s, %v\nencoding/json = %s", got, err, std)
			}
			w := httptest.NewRecorder()
			httpapi.WriteJSON(w, 201, env)
			if w.Code != 201 || w.Body.String() != std || w.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("WriteJSON = %d %q %v", w.Code, w.Body.String(), w.Header())
			}
		})
	}
}
