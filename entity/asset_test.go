package entity

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/orderprocessor/orderprocessor/decimal"
)

func TestAssetID(t *testing.T) {
	for in, want := range map[string]string{"btc": "BTC", "B": "B", "Eth2": "ETH2", "ABCDEFGHIJ": "ABCDEFGHIJ",
		"": "", "ABCDEFGHIJK": "", "BT-C": "", "BTC ": "", "ÉTH": "", "<b>": ""} {
		got, ok := NormalizeAssetID(in)
		if got != want || ok != (want != "") {
			t.Errorf("NormalizeAssetID(%q) = %q, %v", in, got, ok)
		}
	}
	if id, err := ValidateAssetID("sol", "path", "asset_id"); err != nil || id != "SOL" {
		t.Errorf("ValidateAssetID = %q %v", id, err)
	}
	_, err := ValidateAssetID("toolongassetid", "path", "asset_id")
	wantFields(t, err, map[string]string{"path.asset_id": TypeValue})
	_, err = ValidateAssetID("", "path", "asset_id")
	wantFields(t, err, map[string]string{"path.asset_id": TypeMissing})
}

func sampleAsset() *Asset {
	rank := 1
	return &Asset{
		AssetID: "BTC", Name: "Bitcoin", Description: "Digital gold", Category: "cryptocurrency",
		PriceUSD: decimal.MustParse("65000.50"), IsActive: true, Symbol: "btc", Image: "https://img.example/btc.png",
		MarketData: MarketData{
			MarketCapRank: &rank, MarketCap: dec("1280000000000"), PriceChangePercentage24h: dec("-1.2345"),
			TotalVolume24h: dec("35000000000.5"), MaxSupply: dec("21000000"), ATHDate: TimePtr(testNow),
		},
		LastUpdated: At(testNow), CreatedAt: At(testNow), UpdatedAt: At(testNow), Version: 3,
	}
}

func TestAssetListItemJSON(t *testing.T) {
	want := `{"asset_id":"BTC","name":"Bitcoin","description":"Digital gold","category":"cryptocurrency",` +
		`"price_usd":65000.5,"is_active":true,"symbol":"btc","image":"https://img.example/btc.png","market_cap_rank":1,` +
		`"price_change_percentage_24h":-1.2345,"market_cap":1280000000000,"total_volume_24h":35000000000.5}`
	if got := mustJSON(t, sampleAsset().ListItem()); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	bare := &Asset{AssetID: "X", Name: "X", PriceUSD: decimal.MustParse("0.00001234")}
	want = `{"asset_id":"X","name":"X","description":null,"category":null,"price_usd":0.00001234,"is_active":false,` +
		`"symbol":null,"image":null,"market_cap_rank":null,"price_change_percentage_24h":null,"market_cap":null,"total_volume_24h":null}`
	if got := mustJSON(t, bare.ListItem()); got != want {
		t.Errorf("bare got  %s\nwant %s", got, want)
	}
	resp := AssetListResponse{Data: []AssetListItem{bare.ListItem()}, TotalCount: 1, ActiveCount: 0}
	if got := mustJSON(t, resp); !strings.HasSuffix(got, `],"total_count":1,"active_count":0,"next_cursor":null}`) {
		t.Errorf("list response %s", got)
	}
}

func TestAssetDetailJSON(t *testing.T) {
	got := mustJSON(t, sampleAsset().Detail())
	want := `{"asset_id":"BTC","name":"Bitcoin","description":"Digital gold","category":"cryptocurrency",` +
		`"price_usd":65000.5,"is_active":true,"availability_status":"available","symbol":"btc",` +
		`"image":"https://img.example/btc.png","market_cap_rank":1,"market_cap":1280000000000,"price_change_24h":null,` +
		`"price_change_percentage_24h":-1.2345,"price_change_percentage_7d":null,"price_change_percentage_30d":null,` +
		`"high_24h":null,"low_24h":null,"total_volume_24h":35000000000.5,"circulating_supply":null,"total_supply":null,` +
		`"max_supply":21000000,"ath":null,"ath_change_percentage":null,"ath_date":"2026-11-25T21:57:29.123456Z",` +
		`"atl":null,"atl_change_percentage":null,"atl_date":null,"last_updated":"2026-11-25T21:57:29.123456Z"}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	a := &Asset{AssetID: "X", Name: "X"}
	var m map[string]any
	if err := json.Unmarshal([]byte(mustJSON(t, a.Detail())), &m); err != nil {
		t.Fatal(err)
	}
	if len(m) != 28 || m["availability_status"] != "unavailable" || m["last_updated"] != nil || m["price_usd"] != 0.0 {
		t.Errorf("detail of bare asset: %d keys %v", len(m), m)
	}
}

func TestAssetStoredRoundTrip(t *testing.T) {
	a := sampleAsset()
	var back Asset
	if err := json.Unmarshal([]byte(mustJSON(t, a)), &back); err != nil {
		t.Fatal(err)
	}
	if !back.PriceUSD.Equal(a.PriceUSD) || *back.MarketCapRank != 1 || !back.MarketCap.Equal(*a.MarketCap) ||
		back.PriceChange24h != nil || !back.ATHDate.Equal(a.ATHDate.Time) || back.Version != 3 {
		t.Errorf("round trip: %+v", back)
	}
}

func TestAssetCreate(t *testing.T) {
	valid := func() AssetCreate {
		return AssetCreate{AssetID: "doge", Name: " Dogecoin ", Description: "Much wow", Category: "Meme",
			PriceUSD: dec("0.12345678"), Symbol: "doge", Image: "https://x.example/d.png"}
	}
	neg := dec("-1")
	zeroRank := 0
	tests := []struct {
		name string
		mod  func(*AssetCreate)
		want map[string]string
	}{
		{"valid", func(*AssetCreate) {}, nil},
		{"price max", func(r *AssetCreate) { r.PriceUSD = dec("1000000000") }, nil},
		{"price over", func(r *AssetCreate) { r.PriceUSD = dec("1000000000.00000001") }, map[string]string{"body.price_usd": TypeValue}},
		{"price zero", func(r *AssetCreate) { r.PriceUSD = dec("0") }, map[string]string{"body.price_usd": TypeValue}},
		{"price 9 places", func(r *AssetCreate) { r.PriceUSD = dec("0.123456789") }, map[string]string{"body.price_usd": TypeValue}},
		{"price missing", func(r *AssetCreate) { r.PriceUSD = nil }, map[string]string{"body.price_usd": TypeMissing}},
		{"id bad", func(r *AssetCreate) { r.AssetID = "DOGE!" }, map[string]string{"body.asset_id": TypeValue}},
		{"name missing", func(r *AssetCreate) { r.Name = "  " }, map[string]string{"body.name": TypeMissing}},
		{"name 100", func(r *AssetCreate) { r.Name = strings.Repeat("n", 100) }, nil},
		{"name 101", func(r *AssetCreate) { r.Name = strings.Repeat("n", 101) }, map[string]string{"body.name": TypeValue}},
		{"name markup", func(r *AssetCreate) { r.Name = "<img src=x onerror=alert(1)>" }, map[string]string{"body.name": TypeValue}},
		{"description long", func(r *AssetCreate) { r.Description = strings.Repeat("d", 2001) }, map[string]string{"body.description": TypeValue}},
		{"description markup", func(r *AssetCreate) { r.Description = "javascript:alert(1)" }, map[string]string{"body.description": TypeValue}},
		{"category bad", func(r *AssetCreate) { r.Category = "meme/coins" }, map[string]string{"body.category": TypeValue}},
		{"category long", func(r *AssetCreate) { r.Category = strings.Repeat("c", 51) }, map[string]string{"body.category": TypeValue}},
		{"symbol long", func(r *AssetCreate) { r.Symbol = strings.Repeat("s", 21) }, map[string]string{"body.symbol": TypeValue}},
		{"image not url", func(r *AssetCreate) { r.Image = "ftp://x/y.png" }, map[string]string{"body.image": TypeValue}},
		{"image quote", func(r *AssetCreate) { r.Image = `https://x/"onerror=` }, map[string]string{"body.image": TypeValue}},
		{"image http", func(r *AssetCreate) { r.Image = "http://x.example/y.png" }, nil},
		{"market negative", func(r *AssetCreate) { r.MarketCap, r.ATL = neg, neg }, map[string]string{"body.market_cap": TypeValue, "body.atl": TypeValue}},
		{"rank zero", func(r *AssetCreate) { r.MarketCapRank = &zeroRank }, map[string]string{"body.market_cap_rank": TypeValue}},
		{"percent negative ok", func(r *AssetCreate) { r.PriceChangePercentage24h = neg }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := valid()
			tt.mod(&r)
			wantFields(t, r.Validate(), tt.want)
		})
	}
	r := valid()
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	a := r.Asset(At(testNow))
	if a.AssetID != "DOGE" || a.Name != "Dogecoin" || a.Category != "meme" || !a.IsActive || a.Version != 1 ||
		a.PriceUSD.String() != "0.12345678" || !a.LastUpdated.Equal(testNow.Truncate(1000)) {
		t.Errorf("Asset = %+v", a)
	}
	off := false
	r.IsActive = &off
	if r.Asset(At(testNow)).IsActive {
		t.Error("is_active false ignored")
	}
}

func TestAssetUpdate(t *testing.T) {
	a := sampleAsset()
	var u AssetUpdate
	if err := json.Unmarshal([]byte(`{"name":" Bitcoin Core ","price_usd":"70000","is_active":false,"high_24h":71000,"category":"Layer 1"}`), &u); err != nil {
		t.Fatal(err)
	}
	if err := u.Validate(); err != nil {
		t.Fatal(err)
	}
	later := At(testNow.Add(3600e9))
	if !u.Apply(a, later) {
		t.Error("price change not reported")
	}
	if a.Name != "Bitcoin Core" || a.PriceUSD.String() != "70000" || a.IsActive || a.High24h.String() != "71000" ||
		a.Category != "layer 1" || !a.LastUpdated.Equal(later.Time) || a.MarketCap.String() != "1280000000000" ||
		a.Description != "Digital gold" || a.Symbol != "btc" {
		t.Errorf("after Apply: %+v", a)
	}
	same := AssetUpdate{PriceUSD: dec("70000.00"), Description: str("new"), Symbol: str("XBT"), Image: str("https://y/z.png")}
	if err := same.Validate(); err != nil {
		t.Fatal(err)
	}
	if same.Apply(a, At(testNow)) || !a.LastUpdated.Equal(later.Time) || a.Description != "new" || a.Symbol != "XBT" || a.Image != "https://y/z.png" {
		t.Errorf("unchanged price reported or market time moved: %+v", a)
	}
	all := AssetUpdate{MarketData: MarketData{MarketCapRank: new(int), MarketCap: dec("1"), PriceChange24h: dec("1"),
		PriceChangePercentage24h: dec("1"), PriceChangePercentage7d: dec("1"), PriceChangePercentage30d: dec("1"),
		High24h: dec("1"), Low24h: dec("1"), TotalVolume24h: dec("1"), CirculatingSupply: dec("1"), TotalSupply: dec("1"),
		MaxSupply: dec("1"), ATH: dec("1"), ATHChangePercentage: dec("1"), ATHDate: TimePtr(testNow), ATL: dec("1"),
		ATLChangePercentage: dec("1"), ATLDate: TimePtr(testNow)}}
	wantFields(t, all.Validate(), map[string]string{"body.market_cap_rank": TypeValue})
	*all.MarketCapRank = 2
	all.Apply(a, At(testNow))
	if *a.MarketCapRank != 2 || a.ATLDate == nil || a.MaxSupply.String() != "1" || !a.LastUpdated.Equal(At(testNow).Time) {
		t.Errorf("market data not applied: %+v", a.MarketData)
	}
	bad := AssetUpdate{Name: str(""), PriceUSD: dec("-1"), Image: str("javascript:alert(1)")}
	wantFields(t, bad.Validate(), map[string]string{"body.name": TypeMissing, "body.price_usd": TypeValue, "body.image": TypeValue})
}

func TestPriceUpdate(t *testing.T) {
	wantFields(t, (&PriceUpdate{PriceUSD: dec("1.5")}).Validate(), nil)
	wantFields(t, (&PriceUpdate{}).Validate(), map[string]string{"body.price_usd": TypeMissing})
	wantFields(t, (&PriceUpdate{PriceUSD: dec("-0.01")}).Validate(), map[string]string{"body.price_usd": TypeValue})
}

func TestHoldings(t *testing.T) {
	b := Holding{Username: "alice_smith", AssetID: "BTC", CreatedAt: At(testNow), UpdatedAt: At(testNow)}
	b.AddBought(decimal.MustParse("0.1"), decimal.MustParse("60000"))
	b.AddBought(decimal.MustParse("0.3"), decimal.MustParse("70000"))
	if b.Quantity.String() != "0.4" || b.AverageCost.String() != "67500" {
		t.Fatalf("after buys: %s @ %s", b.Quantity, b.AverageCost)
	}
	b.AddBought(decimal.MustParse("0.0000001"), decimal.MustParse("1"))
	if b.AverageCost.String() != "67499.98312525" { // 67499.98312525421... half-even to 8 places
		t.Errorf("average %s", b.AverageCost)
	}
	b.HeldQuantity = decimal.MustParse("0.1")
	if b.Available().String() != "0.3000001" {
		t.Errorf("available %s", b.Available())
	}
	a := sampleAsset()
	got := mustJSON(t, b.Response(a))
	want := `{"asset_id":"BTC","asset_name":"Bitcoin","quantity":"0.4000001","held_quantity":"0.1","available":"0.3000001",` +
		`"current_price":"65000.50","total_value":"26000.21","average_cost":"67499.98312525",` +
		`"created_at":"2026-11-25T21:57:29.123456Z","updated_at":"2026-11-25T21:57:29.123456Z"}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	var empty Holding
	empty.AddBought(decimal.Zero, decimal.FromInt(5))
	if !empty.AverageCost.IsZero() {
		t.Error("zero buy changed the average")
	}
	for in, want := range map[string]string{"65000": "65000.00", "0.5": "0.50", "0.00001234": "0.00001234", "1.25": "1.25"} {
		if got := FormatPrice(decimal.MustParse(in)); got != want {
			t.Errorf("FormatPrice(%s) = %s", in, got)
		}
	}
}

func TestAssetTransaction(t *testing.T) {
	tx := AssetTransaction{TransactionID: "01JDQ8Z3V6W5N2T8K4M0R7P9XA", Username: "alice_smith", AssetID: "BTC",
		TransactionType: AssetSell, Quantity: decimal.MustParse("0.1"), Price: decimal.MustParse("65000"),
		TotalAmount: decimal.MustParse("6500"), OrderID: "01JDQ8Z3V6W5N2T8K4M0R7P9XB", Status: TxCompleted, Timestamp: At(testNow)}
	if tx.Effect().String() != "-0.1" {
		t.Errorf("sell effect %s", tx.Effect())
	}
	want := `{"transaction_id":"01JDQ8Z3V6W5N2T8K4M0R7P9XA","asset_id":"BTC","transaction_type":"SELL","quantity":"0.1",` +
		`"price":"65000.00","total_amount":"6500.00","order_id":"01JDQ8Z3V6W5N2T8K4M0R7P9XB","status":"completed",` +
		`"timestamp":"2026-11-25T21:57:29.123456Z"}`
	if got := mustJSON(t, tx.Response()); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	tx.TransactionType = AssetBuy
	if tx.Effect().String() != "0.1" {
		t.Errorf("buy effect %s", tx.Effect())
	}
	tx.Status = TxFailed
	if !tx.Effect().IsZero() {
		t.Error("failed movement has an effect")
	}
}

func TestBalanceTransactionMovement(t *testing.T) {
	leg := &AssetLeg{AssetID: "BTC", Quantity: decimal.MustParse("0.1"), Price: decimal.MustParse("65000")}
	entry := BalanceTransaction{TransactionID: "01JDQ8Z3V6W5N2T8K4M0R7P9XA", Username: "alice_smith", TransactionType: TxOrderPayment,
		Amount: decimal.MustParse("-6506.50"), Currency: USD, Status: TxCompleted, Description: "Buy 0.1 BTC at 65000.00",
		ReferenceID: "01JDQ8Z3V6W5N2T8K4M0R7P9XB", CreatedAt: At(testNow), Asset: leg}
	want := AssetTransaction{TransactionID: "01JDQ8Z3V6W5N2T8K4M0R7P9XA", Username: "alice_smith", AssetID: "BTC",
		TransactionType: AssetBuy, Quantity: decimal.MustParse("0.1"), Price: decimal.MustParse("65000"),
		TotalAmount: decimal.MustParse("6506.50"), OrderID: "01JDQ8Z3V6W5N2T8K4M0R7P9XB", Status: TxCompleted, Timestamp: At(testNow)}
	if m, ok := entry.Movement(); !ok || !reflect.DeepEqual(*m, want) {
		t.Fatalf("payment: %+v, %v\nwant %+v", m, ok, want)
	}
	entry.TransactionType, entry.Amount, entry.Status = TxOrderSale, decimal.MustParse("6493.50"), TxPending
	want.TransactionType, want.TotalAmount, want.Status = AssetSell, decimal.MustParse("6493.50"), TxPending
	if m, ok := entry.Movement(); !ok || !reflect.DeepEqual(*m, want) {
		t.Fatalf("sale: %+v, %v\nwant %+v", m, ok, want)
	}
	// A refund with a leg is a reversal: a credit reverses a buy.
	entry.TransactionType = TxOrderRefund
	want.TransactionType = AssetBuyReversal
	if m, ok := entry.Movement(); !ok || !reflect.DeepEqual(*m, want) {
		t.Fatalf("refund: %+v, %v\nwant %+v", m, ok, want)
	}
	// Entries of other types, or without a leg, are not movements.
	entry.TransactionType = TxDeposit
	if m, ok := entry.Movement(); ok || m != nil {
		t.Fatalf("deposit: %+v", m)
	}
	entry.TransactionType, entry.Asset = TxOrderSale, nil
	if m, ok := entry.Movement(); ok || m != nil {
		t.Fatalf("no leg: %+v", m)
	}
	// The leg is not in the JSON of entries without one.
	if got := mustJSON(t, entry); strings.Contains(got, "asset") {
		t.Fatalf("JSON of an entry without a leg: %s", got)
	}
}
