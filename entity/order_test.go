package entity

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/decimal"
)

func TestOrderTypes(t *testing.T) {
	tests := []struct {
		t         OrderType
		side      Side
		market    bool
		usesLimit bool
	}{
		{MarketBuy, Buy, true, false}, {MarketSell, Sell, true, false}, {LimitBuy, Buy, false, true},
		{LimitSell, Sell, false, true}, {StopLoss, Sell, false, false}, {TakeProfit, Sell, false, true},
		{TrailingStop, Sell, false, false},
	}
	if len(OrderTypes()) != len(tests) {
		t.Fatal("OrderTypes length")
	}
	for _, tt := range tests {
		if !tt.t.Valid() || tt.t.Side() != tt.side || tt.t.IsMarket() != tt.market || tt.t.UsesLimit() != tt.usesLimit {
			t.Errorf("%s: side %s market %v limit %v", tt.t, tt.t.Side(), tt.t.IsMarket(), tt.t.UsesLimit())
		}
	}
	if OrderType("stop_limit").Valid() {
		t.Error("unknown type valid")
	}
	for _, tif := range []TimeInForce{GTC, Day, GTD, IOC, FOK} {
		if !tif.Valid() {
			t.Errorf("%s invalid", tif)
		}
	}
	if TimeInForce("GTC").Valid() {
		t.Error("upper-case tif valid")
	}
}

// The full transition table: from -> to -> actors allowed (absent: forbidden).
var wantMachine = map[OrderStatus]map[OrderStatus][]Actor{
	StatusPending:    {StatusConfirmed: {ActorSystem}, StatusCancelled: {ActorUser, ActorSystem}, StatusFailed: {ActorSystem}},
	StatusConfirmed:  {StatusQueued: {ActorSystem}, StatusProcessing: {ActorSystem}, StatusCancelled: {ActorUser, ActorSystem}},
	StatusQueued:     {StatusTriggered: {ActorSystem, ActorEngine}, StatusCancelled: {ActorUser, ActorSystem, ActorEngine}, StatusExpired: {ActorSystem, ActorEngine}},
	StatusTriggered:  {StatusProcessing: {ActorSystem, ActorEngine}, StatusFailed: {ActorSystem, ActorEngine}},
	StatusProcessing: {StatusCompleted: {ActorSystem, ActorEngine}, StatusFailed: {ActorSystem, ActorEngine}},
}

func TestStatusMachine(t *testing.T) {
	all := append(OrderStatuses(), OrderStatus("bogus"))
	actors := []Actor{ActorUser, ActorSystem, ActorEngine, Actor("admin")}
	for _, from := range all {
		for _, to := range all {
			allowed := wantMachine[from][to]
			if got := CanTransition(from, to); got != (len(allowed) > 0) {
				t.Errorf("CanTransition(%s, %s) = %v", from, to, got)
			}
			for _, a := range actors {
				if got := CanTransitionBy(a, from, to); got != slices.Contains(allowed, a) {
					t.Errorf("CanTransitionBy(%s, %s, %s) = %v", a, from, to, got)
				}
			}
		}
	}
	terminal := map[OrderStatus]bool{StatusCompleted: true, StatusCancelled: true, StatusFailed: true, StatusExpired: true}
	cancellable := map[OrderStatus]bool{StatusPending: true, StatusConfirmed: true, StatusQueued: true}
	for _, s := range all {
		if s.IsTerminal() != terminal[s] || s.IsCancellable() != cancellable[s] || s.Valid() != (s != "bogus") ||
			s.IsOpen() != (s != "bogus" && !terminal[s]) {
			t.Errorf("%s: terminal %v cancellable %v valid %v open %v", s, s.IsTerminal(), s.IsCancellable(), s.Valid(), s.IsOpen())
		}
		if terminal[s] && len(NextStatuses(s)) != 0 {
			t.Errorf("terminal %s has next statuses", s)
		}
	}
	if got := NextStatuses(StatusQueued); !slices.Equal(got, []OrderStatus{StatusTriggered, StatusCancelled, StatusExpired}) {
		t.Errorf("NextStatuses(queued) = %v", got)
	}
}

func TestTransition(t *testing.T) {
	o := &Order{OrderID: "01JDQ8Z3V6W5N2T8K4M0R7P9XA", Status: StatusPending,
		StatusHistory: []StatusChange{{Status: StatusPending, At: At(testNow)}}}
	steps := []struct {
		to    OrderStatus
		actor Actor
		ok    bool
	}{
		{StatusQueued, ActorSystem, false},
		{StatusConfirmed, ActorUser, false},
		{StatusConfirmed, ActorSystem, true},
		{StatusQueued, ActorSystem, true},
		{StatusTriggered, ActorUser, false},
		{StatusTriggered, ActorEngine, true},
		{StatusCancelled, ActorUser, false},
		{StatusProcessing, ActorEngine, true},
		{StatusCompleted, ActorEngine, true},
		{StatusCancelled, ActorSystem, false},
	}
	for i, s := range steps {
		at := At(testNow.Add(time.Duration(i+1) * time.Second))
		before := o.Status
		err := o.Transition(s.to, s.actor, at, "step")
		if s.ok != (err == nil) {
			t.Fatalf("step %d %s->%s by %s: %v", i, before, s.to, s.actor, err)
		}
		if err != nil {
			if !apperr.Is(err, apperr.Conflict) || o.Status != before {
				t.Fatalf("step %d: err %v status %s", i, err, o.Status)
			}
			continue
		}
		if o.Status != s.to || !o.UpdatedAt.Equal(at.Time) || o.StatusHistory[len(o.StatusHistory)-1] != (StatusChange{s.to, at, "step"}) {
			t.Fatalf("step %d: %+v", i, o)
		}
	}
	if len(o.StatusHistory) != 6 {
		t.Errorf("history %v", o.StatusHistory)
	}
	if err := o.Transition(StatusCancelled, ActorUser, At(testNow), ""); apperr.MessageOf(err) != "order 01JDQ8Z3V6W5N2T8K4M0R7P9XA is already completed" {
		t.Errorf("terminal message %q", apperr.MessageOf(err))
	}
}

func TestOrderIDs(t *testing.T) {
	for in, want := range map[string]bool{"0123456789": true, strings.Repeat("a", 50): true, "01JDQ8Z3V6W5N2T8K4M0R7P9XA": true,
		"ord_123-ABC": true, "012345678": false, strings.Repeat("a", 51): false, "0123456789!": false, "0123 456789": false, "": false} {
		if ValidOrderID(in) != want {
			t.Errorf("ValidOrderID(%q) != %v", in, want)
		}
		err := ValidateOrderID(in, "path", "order_id")
		if want {
			wantFields(t, err, nil)
		} else {
			wantFields(t, err, map[string]string{"path.order_id": TypeValue})
		}
	}
	if !ValidClientOrderID("a") || !ValidClientOrderID(strings.Repeat("x", 64)) || ValidClientOrderID(strings.Repeat("x", 65)) || ValidClientOrderID("") {
		t.Error("ValidClientOrderID")
	}
}

func TestOrderCreateRules(t *testing.T) {
	in := func(d time.Duration) *Time { return TimePtr(testNow.Add(d)) }
	tests := []struct {
		name string
		r    OrderCreate
		want map[string]string
	}{
		{"market buy", OrderCreate{OrderType: MarketBuy, AssetID: "btc", Quantity: dec("0.1")}, nil},
		{"market with price", OrderCreate{OrderType: MarketBuy, AssetID: "BTC", Quantity: dec("0.1"), Price: dec("1000000")}, nil},
		{"market price over", OrderCreate{OrderType: MarketBuy, AssetID: "BTC", Quantity: dec("0.1"), Price: dec("1000000.01")}, map[string]string{"body.price": TypeValue}},
		{"market price zero", OrderCreate{OrderType: MarketSell, AssetID: "BTC", Quantity: dec("0.1"), Price: dec("0")}, map[string]string{"body.price": TypeValue}},
		{"price 9 places", OrderCreate{OrderType: MarketSell, AssetID: "BTC", Quantity: dec("0.1"), Price: dec("0.000000001")}, map[string]string{"body.price": TypeValue}},
		{"qty min", OrderCreate{OrderType: MarketBuy, AssetID: "BTC", Quantity: dec("0.001")}, nil},
		{"qty below min", OrderCreate{OrderType: MarketBuy, AssetID: "BTC", Quantity: dec("0.00099999")}, map[string]string{"body.quantity": TypeValue}},
		{"qty zero", OrderCreate{OrderType: MarketBuy, AssetID: "BTC", Quantity: dec("0")}, map[string]string{"body.quantity": TypeValue}},
		{"qty negative", OrderCreate{OrderType: MarketBuy, AssetID: "BTC", Quantity: dec("-1")}, map[string]string{"body.quantity": TypeValue}},
		{"qty 8 places", OrderCreate{OrderType: MarketBuy, AssetID: "BTC", Quantity: dec("1.12345678")}, nil},
		{"qty 9 places", OrderCreate{OrderType: MarketBuy, AssetID: "BTC", Quantity: dec("1.123456789")}, map[string]string{"body.quantity": TypeValue}},
		{"qty max", OrderCreate{OrderType: MarketBuy, AssetID: "BTC", Quantity: dec("1000000000")}, nil},
		{"qty over max", OrderCreate{OrderType: MarketBuy, AssetID: "BTC", Quantity: dec("1000000000.00000001")}, map[string]string{"body.quantity": TypeValue}},
		{"missing everything", OrderCreate{}, map[string]string{"body.order_type": TypeMissing, "body.asset_id": TypeMissing, "body.quantity": TypeMissing}},
		{"unknown type", OrderCreate{OrderType: "stop_limit", AssetID: "BTC", Quantity: dec("1")}, map[string]string{"body.order_type": TypeEnum}},
		{"bad asset", OrderCreate{OrderType: MarketBuy, AssetID: "BTC-USD", Quantity: dec("1")}, map[string]string{"body.asset_id": TypeValue}},
		{"limit via limit_price", OrderCreate{OrderType: LimitBuy, AssetID: "BTC", Quantity: dec("1"), LimitPrice: dec("50000")}, nil},
		{"limit via price", OrderCreate{OrderType: LimitSell, AssetID: "BTC", Quantity: dec("1"), Price: dec("70000")}, nil},
		{"limit both equal", OrderCreate{OrderType: LimitSell, AssetID: "BTC", Quantity: dec("1"), Price: dec("70000"), LimitPrice: dec("70000.00")}, nil},
		{"limit both differ", OrderCreate{OrderType: LimitSell, AssetID: "BTC", Quantity: dec("1"), Price: dec("70000"), LimitPrice: dec("70001")}, map[string]string{"body.limit_price": TypeValue}},
		{"limit missing", OrderCreate{OrderType: LimitBuy, AssetID: "BTC", Quantity: dec("1")}, map[string]string{"body.limit_price": TypeMissing}},
		{"limit price over", OrderCreate{OrderType: LimitBuy, AssetID: "BTC", Quantity: dec("1"), LimitPrice: dec("1000001")}, map[string]string{"body.limit_price": TypeValue}},
		{"limit_price on market", OrderCreate{OrderType: MarketBuy, AssetID: "BTC", Quantity: dec("1"), LimitPrice: dec("5")}, map[string]string{"body.limit_price": TypeValue}},
		{"stop loss", OrderCreate{OrderType: StopLoss, AssetID: "BTC", Quantity: dec("1"), StopPrice: dec("55000")}, nil},
		{"stop loss missing stop", OrderCreate{OrderType: StopLoss, AssetID: "BTC", Quantity: dec("1")}, map[string]string{"body.stop_price": TypeMissing}},
		{"stop price negative", OrderCreate{OrderType: StopLoss, AssetID: "BTC", Quantity: dec("1"), StopPrice: dec("-1")}, map[string]string{"body.stop_price": TypeValue}},
		{"stop on limit", OrderCreate{OrderType: LimitBuy, AssetID: "BTC", Quantity: dec("1"), LimitPrice: dec("1"), StopPrice: dec("1")}, map[string]string{"body.stop_price": TypeValue}},
		{"take profit", OrderCreate{OrderType: TakeProfit, AssetID: "BTC", Quantity: dec("1"), LimitPrice: dec("80000")}, nil},
		{"take profit via price", OrderCreate{OrderType: TakeProfit, AssetID: "BTC", Quantity: dec("1"), Price: dec("80000")}, nil},
		{"take profit no target", OrderCreate{OrderType: TakeProfit, AssetID: "BTC", Quantity: dec("1")}, map[string]string{"body.limit_price": TypeMissing}},
		{"take profit stop", OrderCreate{OrderType: TakeProfit, AssetID: "BTC", Quantity: dec("1"), StopPrice: dec("80000")}, map[string]string{"body.limit_price": TypeMissing, "body.stop_price": TypeValue}},
		{"trailing pct", OrderCreate{OrderType: TrailingStop, AssetID: "BTC", Quantity: dec("1"), TrailPercent: dec("5.5")}, nil},
		{"trailing pct edge low", OrderCreate{OrderType: TrailingStop, AssetID: "BTC", Quantity: dec("1"), TrailPercent: dec("0.0001")}, nil},
		{"trailing pct 5 places", OrderCreate{OrderType: TrailingStop, AssetID: "BTC", Quantity: dec("1"), TrailPercent: dec("0.00001")}, map[string]string{"body.trail_percent": TypeValue}},
		{"trailing pct edge high", OrderCreate{OrderType: TrailingStop, AssetID: "BTC", Quantity: dec("1"), TrailPercent: dec("99.9999")}, nil},
		{"trailing pct 100", OrderCreate{OrderType: TrailingStop, AssetID: "BTC", Quantity: dec("1"), TrailPercent: dec("100")}, map[string]string{"body.trail_percent": TypeValue}},
		{"trailing pct 0", OrderCreate{OrderType: TrailingStop, AssetID: "BTC", Quantity: dec("1"), TrailPercent: dec("0")}, map[string]string{"body.trail_percent": TypeValue}},
		{"trailing amount", OrderCreate{OrderType: TrailingStop, AssetID: "BTC", Quantity: dec("1"), TrailAmount: dec("500")}, nil},
		{"trailing both", OrderCreate{OrderType: TrailingStop, AssetID: "BTC", Quantity: dec("1"), TrailAmount: dec("500"), TrailPercent: dec("5")}, map[string]string{"body.trail_percent": TypeValue}},
		{"trailing none", OrderCreate{OrderType: TrailingStop, AssetID: "BTC", Quantity: dec("1")}, map[string]string{"body.trail_percent": TypeValue}},
		{"trail on market", OrderCreate{OrderType: MarketSell, AssetID: "BTC", Quantity: dec("1"), TrailAmount: dec("5"), TrailPercent: dec("5")}, map[string]string{"body.trail_amount": TypeValue, "body.trail_percent": TypeValue}},
		{"gtd", OrderCreate{OrderType: LimitBuy, AssetID: "BTC", Quantity: dec("1"), Price: dec("1"), TimeInForce: GTD, ExpiresAt: in(time.Hour)}, nil},
		{"gtd 90 days", OrderCreate{OrderType: LimitBuy, AssetID: "BTC", Quantity: dec("1"), Price: dec("1"), TimeInForce: GTD, ExpiresAt: in(MaxGTDHorizon)}, nil},
		{"gtd 90 days + 1s", OrderCreate{OrderType: LimitBuy, AssetID: "BTC", Quantity: dec("1"), Price: dec("1"), TimeInForce: GTD, ExpiresAt: in(MaxGTDHorizon + time.Second)}, map[string]string{"body.expires_at": TypeValue}},
		{"gtd past", OrderCreate{OrderType: LimitBuy, AssetID: "BTC", Quantity: dec("1"), Price: dec("1"), TimeInForce: GTD, ExpiresAt: in(-time.Second)}, map[string]string{"body.expires_at": TypeValue}},
		{"gtd missing", OrderCreate{OrderType: LimitBuy, AssetID: "BTC", Quantity: dec("1"), Price: dec("1"), TimeInForce: GTD}, map[string]string{"body.expires_at": TypeMissing}},
		{"expires without gtd", OrderCreate{OrderType: LimitBuy, AssetID: "BTC", Quantity: dec("1"), Price: dec("1"), ExpiresAt: in(time.Hour)}, map[string]string{"body.expires_at": TypeValue}},
		{"bad tif", OrderCreate{OrderType: MarketBuy, AssetID: "BTC", Quantity: dec("1"), TimeInForce: "forever"}, map[string]string{"body.time_in_force": TypeEnum}},
		{"client order id", OrderCreate{OrderType: MarketBuy, AssetID: "BTC", Quantity: dec("1"), ClientOrderID: strings.Repeat("c", 64)}, nil},
		{"client order id long", OrderCreate{OrderType: MarketBuy, AssetID: "BTC", Quantity: dec("1"), ClientOrderID: strings.Repeat("c", 65)}, map[string]string{"body.client_order_id": TypeValue}},
		{"client order id chars", OrderCreate{OrderType: MarketBuy, AssetID: "BTC", Quantity: dec("1"), ClientOrderID: "a b"}, map[string]string{"body.client_order_id": TypeValue}},
		{"currency", OrderCreate{OrderType: MarketBuy, AssetID: "BTC", Quantity: dec("1"), Currency: "XXX"}, map[string]string{"body.currency": TypeEnum}},
		{"oco", OrderCreate{OrderType: StopLoss, AssetID: "BTC", Quantity: dec("1"), StopPrice: dec("1"), OCOWith: "01JDQ8Z3V6W5N2T8K4M0R7P9XA"}, nil},
		{"oco bad id", OrderCreate{OrderType: StopLoss, AssetID: "BTC", Quantity: dec("1"), StopPrice: dec("1"), OCOWith: "short"}, map[string]string{"body.oco_with": TypeValue}},
		{"oco on buy", OrderCreate{OrderType: LimitBuy, AssetID: "BTC", Quantity: dec("1"), Price: dec("1"), OCOWith: "01JDQ8Z3V6W5N2T8K4M0R7P9XA"}, map[string]string{"body.oco_with": TypeValue}},
		{"oco on market sell", OrderCreate{OrderType: MarketSell, AssetID: "BTC", Quantity: dec("1"), OCOWith: "01JDQ8Z3V6W5N2T8K4M0R7P9XA"}, map[string]string{"body.oco_with": TypeValue}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.r
			wantFields(t, r.Validate(testNow), tt.want)
		})
	}
}

func TestOrderCreateJSONAndOrder(t *testing.T) {
	var r OrderCreate
	body := `{"order_type":"limit_buy","asset_id":"eth","quantity":0.5,"price":"3000.10","time_in_force":"day","client_order_id":"c-1"}`
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	if err := r.Validate(testNow); err != nil {
		t.Fatal(err)
	}
	if r.AssetID != "ETH" || r.Currency != USD || r.TimeInForce != Day {
		t.Fatalf("normalised %+v", r)
	}
	o := r.Order("01JDQ8Z3V6W5N2T8K4M0R7P9XA", "alice_smith", At(testNow))
	if o.Status != StatusPending || o.LimitPrice.String() != "3000.1" || o.Price.String() != "3000.1" ||
		o.ExpiresAt.String() != "2026-11-26T00:00:00.000000Z" || o.Version != 1 || len(o.StatusHistory) != 1 {
		t.Fatalf("Order = %+v", o)
	}
	o.HeldAmount = decimal.MustParse("1500.05")
	want := `{"order_id":"01JDQ8Z3V6W5N2T8K4M0R7P9XA","order_type":"limit_buy","asset_id":"ETH","quantity":"0.5",` +
		`"price":"3000.10","limit_price":"3000.10","stop_price":null,"trail_percent":null,"trail_amount":null,` +
		`"high_water_mark":null,"status":"pending","time_in_force":"day","expires_at":"2026-11-26T00:00:00.000000Z",` +
		`"client_order_id":"c-1","currency":"USD","total_amount":"0.00","fee":"0.00","held_amount":"1500.05",` +
		`"held_quantity":"0","executed_quantity":"0","executed_price":null,"oco_with":null,` +
		`"status_history":[{"status":"pending","at":"2026-11-25T21:57:29.123456Z"}],` +
		`"created_at":"2026-11-25T21:57:29.123456Z","updated_at":"2026-11-25T21:57:29.123456Z"}`
	if got := mustJSON(t, o.Response()); got != want {
		t.Errorf("Response\n got %s\nwant %s", got, want)
	}
	// Stored form round-trips exactly.
	var back Order
	if err := json.Unmarshal([]byte(mustJSON(t, o)), &back); err != nil {
		t.Fatal(err)
	}
	if mustJSON(t, back) != mustJSON(t, o) {
		t.Errorf("round trip differs:\n%s\n%s", mustJSON(t, back), mustJSON(t, o))
	}
	// Market order: no limit, defaults, empty history renders as [].
	m := OrderCreate{OrderType: MarketBuy, AssetID: "BTC", Quantity: dec("0.1"), Price: dec("5")}
	mo := m.Order("01JDQ8Z3V6W5N2T8K4M0R7P9XB", "alice_smith", At(testNow))
	if mo.LimitPrice != nil || mo.TimeInForce != GTC || mo.Currency != USD || mo.ExpiresAt != nil {
		t.Errorf("market order %+v", mo)
	}
	mo.StatusHistory = nil
	tp := decimal.MustParse("5.25")
	mo.TrailPercent, mo.OCOWith = &tp, "01JDQ8Z3V6W5N2T8K4M0R7P9XC"
	got := mustJSON(t, mo.Response())
	if !strings.Contains(got, `"status_history":[]`) || !strings.Contains(got, `"trail_percent":"5.25"`) ||
		!strings.Contains(got, `"oco_with":"01JDQ8Z3V6W5N2T8K4M0R7P9XC"`) || !strings.Contains(got, `"client_order_id":null`) {
		t.Errorf("market response %s", got)
	}
	// Unknown enum and wrong JSON types.
	var bad OrderCreate
	if err := json.Unmarshal([]byte(`{"order_type":"market_buy","asset_id":"BTC","quantity":"abc"}`), &bad); err == nil {
		t.Error("quantity abc decoded")
	}
}

func TestTriggers(t *testing.T) {
	p := func(s string) decimal.Decimal { return decimal.MustParse(s) }
	hwm := dec("100")
	tests := []struct {
		o     Order
		price string
		want  bool
	}{
		{Order{OrderType: LimitBuy, LimitPrice: dec("50")}, "50", true},
		{Order{OrderType: LimitBuy, LimitPrice: dec("50")}, "50.01", false},
		{Order{OrderType: LimitSell, LimitPrice: dec("50")}, "50", true},
		{Order{OrderType: LimitSell, LimitPrice: dec("50")}, "49.99", false},
		{Order{OrderType: TakeProfit, LimitPrice: dec("80")}, "80.5", true},
		{Order{OrderType: TakeProfit, LimitPrice: dec("80")}, "79", false},
		{Order{OrderType: StopLoss, StopPrice: dec("40")}, "40", true},
		{Order{OrderType: StopLoss, StopPrice: dec("40")}, "40.01", false},
		{Order{OrderType: TrailingStop, HighWaterMark: hwm, TrailPercent: dec("5")}, "95", true},
		{Order{OrderType: TrailingStop, HighWaterMark: hwm, TrailPercent: dec("5")}, "95.01", false},
		{Order{OrderType: TrailingStop, HighWaterMark: hwm, TrailAmount: dec("2.5")}, "97.5", true},
		{Order{OrderType: TrailingStop, HighWaterMark: hwm, TrailAmount: dec("2.5")}, "97.51", false},
		{Order{OrderType: TrailingStop, TrailAmount: dec("2.5")}, "1", false},
		{Order{OrderType: TrailingStop, HighWaterMark: hwm}, "1", false},
		{Order{OrderType: LimitBuy}, "1", false},
		{Order{OrderType: MarketBuy}, "1", false},
	}
	for i, tt := range tests {
		if got := tt.o.ShouldTrigger(p(tt.price)); got != tt.want {
			t.Errorf("%d %s at %s = %v", i, tt.o.OrderType, tt.price, got)
		}
	}
	o := Order{OrderType: TrailingStop, TrailPercent: dec("2.5")}
	if _, ok := o.TrailDistance(); ok {
		t.Error("distance without mark")
	}
	for _, step := range []struct {
		price string
		rose  bool
		mark  string
	}{{"100", true, "100"}, {"99", false, "100"}, {"100", false, "100"}, {"120.5", true, "120.5"}} {
		if o.RaiseHighWaterMark(p(step.price)) != step.rose || o.HighWaterMark.String() != step.mark {
			t.Errorf("raise %s: mark %s", step.price, o.HighWaterMark)
		}
	}
	if d, ok := o.TrailDistance(); !ok || d.String() != "3.0125" {
		t.Errorf("distance %s %v", d, ok)
	}
	l := Order{OrderType: LimitSell}
	if l.RaiseHighWaterMark(p("5")) || l.Side() != Sell {
		t.Error("mark on a limit order")
	}
}

func TestOrderUpdate(t *testing.T) {
	base := func() *Order {
		return &Order{OrderID: "01JDQ8Z3V6W5N2T8K4M0R7P9XA", OrderType: LimitBuy, AssetID: "BTC", Quantity: decimal.MustParse("1"),
			LimitPrice: dec("50000"), Status: StatusQueued, TimeInForce: GTC, Currency: USD}
	}
	u := OrderUpdate{Quantity: dec("2"), LimitPrice: dec("49000")}
	o := base()
	if err := u.Validate(o, testNow); err != nil {
		t.Fatal(err)
	}
	u.Apply(o, testNow)
	if o.Quantity.String() != "2" || o.LimitPrice.String() != "49000" {
		t.Errorf("applied %+v", o)
	}
	tests := []struct {
		name string
		o    *Order
		u    OrderUpdate
		want map[string]string
	}{
		{"empty", base(), OrderUpdate{}, map[string]string{"body.quantity": TypeMissing}},
		{"stop on limit", base(), OrderUpdate{StopPrice: dec("1")}, map[string]string{"body.stop_price": TypeValue}},
		{"qty bad", base(), OrderUpdate{Quantity: dec("0.0001")}, map[string]string{"body.quantity": TypeValue}},
		{"expires on gtc", base(), OrderUpdate{ExpiresAt: TimePtr(testNow.Add(time.Hour))}, map[string]string{"body.expires_at": TypeValue}},
	}
	for _, tt := range tests {
		wantFields(t, tt.u.Validate(tt.o, testNow), tt.want)
	}
	gtd := base()
	gtd.TimeInForce, gtd.ExpiresAt = GTD, TimePtr(testNow.Add(time.Hour))
	if err := (&OrderUpdate{LimitPrice: dec("1")}).Validate(gtd, testNow); err != nil {
		t.Errorf("gtd keeps its expiry: %v", err)
	}
	nu := OrderUpdate{ExpiresAt: TimePtr(testNow.Add(48 * time.Hour))}
	if err := nu.Validate(gtd, testNow); err != nil {
		t.Fatal(err)
	}
	nu.Apply(gtd, testNow)
	if !gtd.ExpiresAt.Equal(testNow.Add(48 * time.Hour).Truncate(time.Microsecond)) {
		t.Errorf("expiry %v", gtd.ExpiresAt)
	}
	trail := &Order{OrderID: "01JDQ8Z3V6W5N2T8K4M0R7P9XA", OrderType: TrailingStop, AssetID: "BTC", Quantity: decimal.MustParse("1"),
		TrailPercent: dec("5"), Status: StatusQueued, TimeInForce: GTC, Currency: USD}
	sw := OrderUpdate{TrailAmount: dec("100")}
	if err := sw.Validate(trail, testNow); err != nil {
		t.Fatal(err)
	}
	sw.Apply(trail, testNow)
	if trail.TrailPercent != nil || trail.TrailAmount.String() != "100" {
		t.Errorf("trail switch %+v", trail)
	}
	if err := (&OrderUpdate{StopPrice: dec("1")}).Validate(trail, testNow); err == nil {
		t.Error("stop price on trailing accepted")
	}
	if err := (&OrderUpdate{LimitPrice: dec("1")}).Validate(trail, testNow); err == nil {
		t.Error("limit on trailing accepted")
	}
	done := base()
	done.Status = StatusCompleted
	if err := u.Validate(done, testNow); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("amend completed: %v", err)
	}
}

// TestOrderClone: a clone keeps its values when the original's fields and
// status history change.
func TestOrderClone(t *testing.T) {
	o := &Order{OrderID: "01A", Status: StatusQueued, StatusHistory: []StatusChange{{Status: StatusPending}, {Status: StatusQueued}}}
	c := o.Clone()
	o.Status = StatusCompleted
	o.StatusHistory[1].Status = StatusCancelled
	o.StatusHistory = append(o.StatusHistory, StatusChange{Status: StatusCompleted})
	if c.Status != StatusQueued || len(c.StatusHistory) != 2 || c.StatusHistory[1].Status != StatusQueued || c.OrderID != "01A" {
		t.Fatalf("clone %+v changed with its original", c)
	}
}

// TestExpiryOrder: an order past its expiry, and which of two expires
// first (the earlier expiry, then the earlier placement, then the id; no
// expiry last).
func TestExpiryOrder(t *testing.T) {
	at := func(d time.Duration) *Time { return TimePtr(testNow.Add(d)) }
	mk := func(id string, expires *Time, placed time.Duration) *Order {
		return &Order{OrderID: id, ExpiresAt: expires, CreatedAt: At(testNow.Add(placed))}
	}
	if o := mk("a", at(0), 0); !o.PastExpiry(testNow) || o.PastExpiry(testNow.Add(-time.Microsecond)) {
		t.Error("PastExpiry: due at its expiry, not before")
	}
	if mk("a", nil, 0).PastExpiry(testNow.Add(1000 * time.Hour)) {
		t.Error("PastExpiry without an expiry")
	}
	for _, c := range []struct {
		name  string
		a, b  *Order
		first bool
	}{
		{"earlier expiry", mk("b", at(time.Hour), time.Hour), mk("a", at(2*time.Hour), 0), true},
		{"later expiry", mk("a", at(2*time.Hour), 0), mk("b", at(time.Hour), time.Hour), false},
		{"same expiry, placed first", mk("b", at(time.Hour), 0), mk("a", at(time.Hour), time.Minute), true},
		{"same expiry, placed later", mk("a", at(time.Hour), time.Minute), mk("b", at(time.Hour), 0), false},
		{"same expiry and placement, lower id", mk("a", at(time.Hour), 0), mk("b", at(time.Hour), 0), true},
		{"same expiry and placement, higher id", mk("b", at(time.Hour), 0), mk("a", at(time.Hour), 0), false},
		{"an expiry before none", mk("b", at(time.Hour), 0), mk("a", nil, 0), true},
		{"none after an expiry", mk("a", nil, 0), mk("b", at(time.Hour), 0), false},
		{"neither expires", mk("a", nil, 0), mk("b", nil, 0), false},
	} {
		if got := c.a.ExpiresBefore(c.b); got != c.first {
			t.Errorf("%s: ExpiresBefore = %v", c.name, got)
		}
	}
}
