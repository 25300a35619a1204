package entity

import "testing"

func TestEnumSchemas(t *testing.T) {
	tests := []struct {
		schema map[string]any
		want   string
	}{
		{Role("").JSONSchema(), `{"enum":["customer","admin"],"type":"string"}`},
		{Currency("").JSONSchema(), `{"enum":["USD","EUR","GBP","JPY","CHF","CAD","AUD"],"type":"string"}`},
		{TransactionType("").JSONSchema(), `{"enum":["deposit","withdraw","order_payment","order_sale","order_refund","order_hold","system_adjustment","currency_conversion"],"type":"string"}`},
		{TransactionStatus("").JSONSchema(), `{"enum":["pending","completed","failed","cancelled"],"type":"string"}`},
		{AssetTxType("").JSONSchema(), `{"enum":["BUY","SELL"],"type":"string"}`},
		{OrderType("").JSONSchema(), `{"enum":["market_buy","market_sell","limit_buy","limit_sell","stop_loss","take_profit","trailing_stop"],"type":"string"}`},
		{OrderStatus("").JSONSchema(), `{"enum":["pending","confirmed","queued","triggered","processing","completed","cancelled","failed","expired"],"type":"string"}`},
		{TimeInForce("").JSONSchema(), `{"enum":["gtc","day","gtd","ioc","fok"],"type":"string"}`},
	}
	for _, tt := range tests {
		if got := mustJSON(t, tt.schema); got != tt.want {
			t.Errorf("got %s, want %s", got, tt.want)
		}
	}
}
