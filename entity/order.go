package entity

import (
	"slices"
	"time"

	"github.com/orderprocessor/orderprocessor/decimal"
)

// OrderType is the kind of an order.
type OrderType string

// Order types.
const (
	MarketBuy    OrderType = "market_buy"
	MarketSell   OrderType = "market_sell"
	LimitBuy     OrderType = "limit_buy"
	LimitSell    OrderType = "limit_sell"
	StopLoss     OrderType = "stop_loss"
	TakeProfit   OrderType = "take_profit"
	TrailingStop OrderType = "trailing_stop"
)

// OrderTypes returns every order type.
func OrderTypes() []OrderType {
	return []OrderType{MarketBuy, MarketSell, LimitBuy, LimitSell, StopLoss, TakeProfit, TrailingStop}
}

// Valid reports whether t is a known order type.
func (t OrderType) Valid() bool {
	for _, k := range OrderTypes() {
		if t == k {
			return true
		}
	}
	return false
}

// Side is the direction of an order.
type Side string

// Sides.
const (
	Buy  Side = "buy"
	Sell Side = "sell"
)

// Side returns buy for market_buy and limit_buy, sell for every other type
// (the protective orders sell a holding).
func (t OrderType) Side() Side {
	if t == MarketBuy || t == LimitBuy {
		return Buy
	}
	return Sell
}

// IsMarket reports whether t executes at once at the market price.
func (t OrderType) IsMarket() bool { return t == MarketBuy || t == MarketSell }

// UsesLimit reports whether t's trigger is a limit/target price (limit_buy,
// limit_sell, take_profit), given by limit_price or price.
func (t OrderType) UsesLimit() bool { return t == LimitBuy || t == LimitSell || t == TakeProfit }

// TimeInForce says how long an order stays open.
type TimeInForce string

// Times in force.
const (
	GTC TimeInForce = "gtc" // good till cancelled (default)
	Day TimeInForce = "day" // until the end of the UTC day of placement
	GTD TimeInForce = "gtd" // good till expires_at
	IOC TimeInForce = "ioc" // immediate or cancel: execute what is possible now, cancel the rest
	FOK TimeInForce = "fok" // fill or kill: execute all now or cancel
)

// Valid reports whether t is a known time in force.
func (t TimeInForce) Valid() bool {
	switch t {
	case GTC, Day, GTD, IOC, FOK:
		return true
	}
	return false
}

// Order limits.
const (
	// MaxGTDHorizon is how far in the future a gtd expires_at may be.
	MaxGTDHorizon = 90 * 24 * time.Hour
	// ClientOrderIDMaxLen is the longest client_order_id.
	ClientOrderIDMaxLen = 64
	// OrderIDMinLen and OrderIDMaxLen bound an order id of [A-Za-z0-9_-].
	OrderIDMinLen = 10
	OrderIDMaxLen = 50
)

// ValidOrderID reports whether s is a well-formed order id: 10-50 of [A-Za-z0-9_-].
func ValidOrderID(s string) bool { return validToken(s, OrderIDMinLen, OrderIDMaxLen) }

// ValidateOrderID returns nil or an Invalid error with one field error at loc
// (e.g. "path", "order_id") for a malformed order id.
func ValidateOrderID(s string, loc ...string) error {
	if ValidOrderID(s) {
		return nil
	}
	var v Violations
	v.Add(sprintf("must be %d-%d characters of letters, digits, _ and -", OrderIDMinLen, OrderIDMaxLen), TypeValue, loc...)
	return v.Err()
}

// ValidClientOrderID reports whether s is a well-formed client_order_id: 1-64 of [A-Za-z0-9_-].
func ValidClientOrderID(s string) bool { return validToken(s, 1, ClientOrderIDMaxLen) }

func validToken(s string, lo, hi int) bool {
	if len(s) < lo || len(s) > hi {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// Order is a stored order.
//
// Prices are USD per unit. Price is the price the client sent (informational
// for market orders); LimitPrice is the limit of limit_buy/limit_sell and the
// target of take_profit; StopPrice the trigger of stop_loss; TrailPercent or
// TrailAmount the trail of trailing_stop, whose HighWaterMark is the highest
// market price seen since placement. HeldAmount is the cash held (buy side,
// in Currency), HeldQuantity the asset quantity held (sell side); both are 0
// once the order is terminal. An order in another currency than USD
// triggers on the asset's USD price like any other and settles in its
// Currency: FXRate is the USD value of one unit of Currency it settled at
// (the stored rate moved by the conversion spread against the order; nil
// for USD orders and until execution), and ExecutedPrice, TotalAmount
// and Fee are in Currency (ExecutedPrice = the USD price / FXRate, to
// PriceScale places). Once executed, TotalAmount is the cash the fill
// moved, fee included: what a buy paid (quantity × executed price, rounded
// up to the cent, plus Fee) or what a sale received (quantity × executed
// price, rounded down to the cent, minus Fee); Fee is the fee charged; both
// in Currency. A buy's TotalAmount is the cost basis it adds to the holding
// (see Position).
type Order struct {
	OrderID          string           `json:"order_id"`
	Username         string           `json:"username"`
	OrderType        OrderType        `json:"order_type"`
	AssetID          string           `json:"asset_id"`
	Quantity         decimal.Decimal  `json:"quantity"`
	Price            *decimal.Decimal `json:"price"`
	LimitPrice       *decimal.Decimal `json:"limit_price"`
	StopPrice        *decimal.Decimal `json:"stop_price"`
	TrailPercent     *decimal.Decimal `json:"trail_percent"`
	TrailAmount      *decimal.Decimal `json:"trail_amount"`
	HighWaterMark    *decimal.Decimal `json:"high_water_mark"`
	Status           OrderStatus      `json:"status"`
	TimeInForce      TimeInForce      `json:"time_in_force"`
	ExpiresAt        *Time            `json:"expires_at"`
	ClientOrderID    string           `json:"client_order_id"`
	Currency         Currency         `json:"currency"`
	FXRate           *decimal.Decimal `json:"fx_rate,omitempty"`
	TotalAmount      decimal.Decimal  `json:"total_amount"`
	Fee              decimal.Decimal  `json:"fee"`
	HeldAmount       decimal.Decimal  `json:"held_amount"`
	HeldQuantity     decimal.Decimal  `json:"held_quantity"`
	ExecutedQuantity decimal.Decimal  `json:"executed_quantity"`
	ExecutedPrice    *decimal.Decimal `json:"executed_price"`
	OCOWith          string           `json:"oco_with"`
	StatusHistory    []StatusChange   `json:"status_history"`
	CreatedAt        Time             `json:"created_at"`
	UpdatedAt        Time             `json:"updated_at"`
	Version          int64            `json:"version"`
}

// Clone returns a copy of o that later changes of o cannot reach: its
// status history is copied too (decimals and times are immutable values).
func (o *Order) Clone() *Order {
	c := *o
	c.StatusHistory = slices.Clone(o.StatusHistory)
	return &c
}

// Side returns the order's side.
func (o *Order) Side() Side { return o.OrderType.Side() }

// TrailDistance returns the trailing stop's distance below the high-water
// mark: TrailAmount, or HighWaterMark × TrailPercent / 100 (rounded half-even
// to PriceScale places). ok is false for other types or without a mark.
func (o *Order) TrailDistance() (d decimal.Decimal, ok bool) {
	if o.OrderType != TrailingStop || o.HighWaterMark == nil {
		return decimal.Zero, false
	}
	if o.TrailAmount != nil {
		return *o.TrailAmount, true
	}
	if o.TrailPercent == nil {
		return decimal.Zero, false
	}
	d, err := o.HighWaterMark.Mul(*o.TrailPercent).Quo(decimal.FromInt(100), PriceScale, decimal.HalfEven)
	return d, err == nil
}

// RaiseHighWaterMark records market price p for a trailing stop and reports
// whether the mark rose (a trailing stop's mark never falls).
func (o *Order) RaiseHighWaterMark(p decimal.Decimal) bool {
	if o.OrderType != TrailingStop || (o.HighWaterMark != nil && !p.GreaterThan(*o.HighWaterMark)) {
		return false
	}
	o.HighWaterMark = &p
	return true
}

// PastExpiry reports whether o has an expiry and it is not after now: an
// open order past its expiry is expired, whether or not a sweep has ended it
// yet, and never fills.
func (o *Order) PastExpiry(now time.Time) bool {
	return o.ExpiresAt != nil && !o.ExpiresAt.After(now)
}

// ExpiresBefore reports whether o expires before other: the earlier
// expiry, then the earlier placement (the order in which a sweep ends them).
// An order without an expiry expires after any order with one.
func (o *Order) ExpiresBefore(other *Order) bool {
	switch {
	case o.ExpiresAt == nil:
		return false
	case other.ExpiresAt == nil:
		return true
	case !o.ExpiresAt.Equal(other.ExpiresAt.Time):
		return o.ExpiresAt.Before(other.ExpiresAt.Time)
	case !o.CreatedAt.Equal(other.CreatedAt.Time):
		return o.CreatedAt.Before(other.CreatedAt.Time)
	}
	return o.OrderID < other.OrderID
}

// ShouldTrigger reports whether a queued order fires at market price p:
//
//	limit_buy      p <= limit_price
//	limit_sell     p >= limit_price
//	take_profit    p >= limit_price (the target)
//	stop_loss      p <= stop_price
//	trailing_stop  p <= high_water_mark - trail
//
// Market orders and orders missing their price never trigger.
func (o *Order) ShouldTrigger(p decimal.Decimal) bool {
	switch o.OrderType {
	case LimitBuy:
		return o.LimitPrice != nil && p.Cmp(*o.LimitPrice) <= 0
	case LimitSell, TakeProfit:
		return o.LimitPrice != nil && p.Cmp(*o.LimitPrice) >= 0
	case StopLoss:
		return o.StopPrice != nil && p.Cmp(*o.StopPrice) <= 0
	case TrailingStop:
		d, ok := o.TrailDistance()
		return ok && p.Cmp(o.HighWaterMark.Sub(d)) <= 0
	}
	return false
}

// OrderCreate is the body of POST /orders.
type OrderCreate struct {
	OrderType     OrderType        `json:"order_type"`
	AssetID       string           `json:"asset_id"`
	Quantity      *decimal.Decimal `json:"quantity"`
	Price         *decimal.Decimal `json:"price,omitempty"`
	LimitPrice    *decimal.Decimal `json:"limit_price,omitempty"`
	StopPrice     *decimal.Decimal `json:"stop_price,omitempty"`
	TrailPercent  *decimal.Decimal `json:"trail_percent,omitempty"`
	TrailAmount   *decimal.Decimal `json:"trail_amount,omitempty"`
	TimeInForce   TimeInForce      `json:"time_in_force,omitempty"`
	ExpiresAt     *Time            `json:"expires_at,omitempty"`
	ClientOrderID string           `json:"client_order_id,omitempty"`
	Currency      Currency         `json:"currency,omitempty"`
	OCOWith       string           `json:"oco_with,omitempty"`
}

// Validate normalises r in place (asset id upper-cased, currency upper-cased
// with default USD, time_in_force default gtc) and checks every rule:
//
//   - order_type: one of OrderTypes; asset_id: 1-10 alphanumerics;
//   - quantity: present, >= 0.001, <= 1e9, at most 8 decimal places;
//   - price, limit_price, stop_price, trail_amount when present: > 0,
//     <= 1,000,000, at most 8 decimal places (price is accepted, and only
//     checked, on every type; on market orders it is ignored);
//   - limit_buy, limit_sell, take_profit: limit_price or price is required (the
//     limit, or the take-profit target); if both are given they must be equal;
//   - stop_loss: stop_price required; stop_price is rejected on other types;
//   - trailing_stop: exactly one of trail_percent (0 < p < 100, at most 4
//     decimal places) or trail_amount; both are rejected on other types;
//     limit_price is rejected on market, stop_loss and trailing_stop orders;
//   - time_in_force: one of gtc, day, gtd, ioc, fok; gtd requires expires_at
//     in (now, now+90 days]; expires_at is rejected with any other value;
//   - client_order_id: 1-64 of [A-Za-z0-9_-] when present;
//   - currency: a supported currency;
//   - oco_with: a well-formed order id, only on limit_sell, stop_loss,
//     take_profit and trailing_stop.
func (r *OrderCreate) Validate(now time.Time) error {
	var v Violations
	typeOK := r.OrderType.Valid()
	switch {
	case r.OrderType == "":
		v.Body("order_type", "field required", TypeMissing)
	case !typeOK:
		v.Body("order_type", "must be one of market_buy, market_sell, limit_buy, limit_sell, stop_loss, take_profit, trailing_stop", TypeEnum)
	}
	r.AssetID = checkAssetID(&v, r.AssetID, "body", "asset_id")
	switch q := r.Quantity; {
	case q == nil:
		v.Body("quantity", "field required", TypeMissing)
	case !q.IsPositive():
		v.Body("quantity", "must be greater than 0", TypeValue)
	case q.LessThan(MinOrderQuantity):
		v.Body("quantity", "must be at least 0.001", TypeValue)
	case q.GreaterThan(MaxOrderQuantity):
		v.Body("quantity", "must be at most 1000000000", TypeValue)
	case q.Scale() > QuantityScale:
		v.Body("quantity", sprintf("must have at most %d decimal places", QuantityScale), TypeValue)
	}
	checkOrderPrice(&v, "price", r.Price)
	checkOrderPrice(&v, "limit_price", r.LimitPrice)
	checkOrderPrice(&v, "stop_price", r.StopPrice)
	checkOrderPrice(&v, "trail_amount", r.TrailAmount)
	if p := r.TrailPercent; p != nil {
		switch {
		case !p.IsPositive() || p.Cmp(decimal.FromInt(100)) >= 0:
			v.Body("trail_percent", "must be greater than 0 and less than 100", TypeValue)
		case p.Scale() > 4:
			v.Body("trail_percent", "must have at most 4 decimal places", TypeValue)
		}
	}
	if typeOK {
		r.checkTypeFields(&v)
	}
	if r.TimeInForce == "" {
		r.TimeInForce = GTC
	}
	switch {
	case !r.TimeInForce.Valid():
		v.Body("time_in_force", "must be one of gtc, day, gtd, ioc, fok", TypeEnum)
	case r.TimeInForce == GTD && r.ExpiresAt == nil:
		v.Body("expires_at", "required when time_in_force is gtd", TypeMissing)
	case r.TimeInForce == GTD:
		if !r.ExpiresAt.After(now) || r.ExpiresAt.Sub(now) > MaxGTDHorizon {
			v.Body("expires_at", "must be in the future and within 90 days", TypeValue)
		}
	case r.ExpiresAt != nil:
		v.Body("expires_at", "only allowed when time_in_force is gtd", TypeValue)
	}
	if r.ClientOrderID != "" && !ValidClientOrderID(r.ClientOrderID) {
		v.Body("client_order_id", "must be 1-64 characters of letters, digits, _ and -", TypeValue)
	}
	r.Currency = checkCurrency(&v, "currency", r.Currency)
	if r.OCOWith != "" {
		switch {
		case !ValidOrderID(r.OCOWith):
			v.Body("oco_with", sprintf("must be %d-%d characters of letters, digits, _ and -", OrderIDMinLen, OrderIDMaxLen), TypeValue)
		case typeOK && (r.OrderType.Side() == Buy || r.OrderType.IsMarket()):
			v.Body("oco_with", "only allowed on limit_sell, stop_loss, take_profit and trailing_stop orders", TypeValue)
		}
	}
	return v.Err()
}

func (r *OrderCreate) checkTypeFields(v *Violations) {
	t := r.OrderType
	if t.UsesLimit() {
		switch {
		case r.LimitPrice == nil && r.Price == nil:
			v.Body("limit_price", sprintf("limit_price (or price) is required for %s orders", t), TypeMissing)
		case r.LimitPrice != nil && r.Price != nil && !r.LimitPrice.Equal(*r.Price):
			v.Body("limit_price", "must equal price when both are given", TypeValue)
		}
	} else if r.LimitPrice != nil {
		v.Body("limit_price", sprintf("not allowed for %s orders", t), TypeValue)
	}
	if t == StopLoss && r.StopPrice == nil {
		v.Body("stop_price", "required for stop_loss orders", TypeMissing)
	} else if t != StopLoss && r.StopPrice != nil {
		v.Body("stop_price", sprintf("not allowed for %s orders", t), TypeValue)
	}
	if t == TrailingStop {
		if (r.TrailPercent == nil) == (r.TrailAmount == nil) {
			v.Body("trail_percent", "exactly one of trail_percent or trail_amount is required for trailing_stop orders", TypeValue)
		}
	} else {
		if r.TrailPercent != nil {
			v.Body("trail_percent", sprintf("not allowed for %s orders", t), TypeValue)
		}
		if r.TrailAmount != nil {
			v.Body("trail_amount", sprintf("not allowed for %s orders", t), TypeValue)
		}
	}
}

func checkOrderPrice(v *Violations, field string, p *decimal.Decimal) {
	switch {
	case p == nil:
	case !p.IsPositive():
		v.Body(field, "must be greater than 0", TypeValue)
	case p.GreaterThan(MaxOrderPrice):
		v.Body(field, "must be at most 1000000", TypeValue)
	case p.Scale() > PriceScale:
		v.Body(field, sprintf("must have at most %d decimal places", PriceScale), TypeValue)
	}
}

// Order returns the new order r describes (call Validate first): status
// pending with one history entry, LimitPrice resolved from limit_price or price
// for limit and take-profit types, ExpiresAt set to the next UTC midnight for
// day orders, amounts zero, version 1. The trading layer fills holds, prices
// and the high-water mark.
func (r *OrderCreate) Order(orderID, username string, now Time) *Order {
	o := &Order{
		OrderID: orderID, Username: username, OrderType: r.OrderType, AssetID: r.AssetID,
		Price: r.Price, StopPrice: r.StopPrice, TrailPercent: r.TrailPercent, TrailAmount: r.TrailAmount,
		Status: StatusPending, TimeInForce: r.TimeInForce, ExpiresAt: r.ExpiresAt,
		ClientOrderID: r.ClientOrderID, Currency: r.Currency, OCOWith: r.OCOWith,
		StatusHistory: []StatusChange{{Status: StatusPending, At: now}},
		CreatedAt:     now, UpdatedAt: now, Version: 1,
	}
	if r.Quantity != nil {
		o.Quantity = *r.Quantity
	}
	if r.OrderType.UsesLimit() {
		o.LimitPrice = r.LimitPrice
		if o.LimitPrice == nil {
			o.LimitPrice = r.Price
		}
	}
	if o.TimeInForce == "" {
		o.TimeInForce = GTC
	}
	if o.Currency == "" {
		o.Currency = DefaultCurrency
	}
	if o.TimeInForce == Day {
		y, m, d := now.UTC().Date()
		o.ExpiresAt = TimePtr(time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC))
	}
	return o
}

// OrderUpdate is the body of PATCH /orders/{order_id}: it amends a resting
// order; present fields change. The trading layer adjusts the order's hold
// in the same transaction (trading.Service.AmendOrder).
//
// ExpectedVersion, when set, is the version the client read (the ETag of
// GET /orders/{order_id}): the amendment is refused unless the order is
// still at that version.
type OrderUpdate struct {
	Quantity        *decimal.Decimal `json:"quantity,omitempty"`
	LimitPrice      *decimal.Decimal `json:"limit_price,omitempty"`
	StopPrice       *decimal.Decimal `json:"stop_price,omitempty"`
	TrailPercent    *decimal.Decimal `json:"trail_percent,omitempty"`
	TrailAmount     *decimal.Decimal `json:"trail_amount,omitempty"`
	TimeInForce     TimeInForce      `json:"time_in_force,omitempty"`
	ExpiresAt       *Time            `json:"expires_at,omitempty"`
	ExpectedVersion *int64           `json:"expected_version,omitempty" minimum:"1"`
}

// Empty reports whether u changes nothing (ExpectedVersion aside).
func (u *OrderUpdate) Empty() bool {
	return u.Quantity == nil && u.LimitPrice == nil && u.StopPrice == nil && u.TrailPercent == nil &&
		u.TrailAmount == nil && u.TimeInForce == "" && u.ExpiresAt == nil
}

// Validate checks u against o with OrderCreate's rules: o must be queued (a
// resting order: an apperr.Conflict otherwise), at least one field must be
// present, and the order as amended must be a valid order of o's type:
// limit_price for limit types and take_profit, stop_price for stop_loss,
// one trail kind for trailing_stop (a given one replaces the stored one);
// time_in_force gtc, day or gtd (ioc and fok never rest); expires_at with
// gtd only, in (now, now+90 days] (a gtd order keeps its expiry when none
// is given).
func (u *OrderUpdate) Validate(o *Order, now time.Time) error {
	if o.Status != StatusQueued {
		return conflictf("order %s is %s and cannot be amended", o.OrderID, o.Status)
	}
	var v Violations
	if u.Empty() {
		v.Body("quantity", "no field to update", TypeMissing)
		return v.Err()
	}
	if u.ExpectedVersion != nil && *u.ExpectedVersion < 1 {
		v.Body("expected_version", "must be at least 1", TypeValue)
	}
	tif := o.TimeInForce
	if u.TimeInForce != "" {
		tif = u.TimeInForce
		if tif == IOC || tif == FOK || !tif.Valid() {
			v.Body("time_in_force", "must be one of gtc, day, gtd (a resting order)", TypeEnum)
			tif = o.TimeInForce
		}
	}
	c := OrderCreate{
		OrderType: o.OrderType, AssetID: o.AssetID, Quantity: pick(u.Quantity, &o.Quantity),
		LimitPrice: pick(u.LimitPrice, o.LimitPrice), StopPrice: pick(u.StopPrice, o.StopPrice),
		TimeInForce: tif, Currency: o.Currency,
	}
	// The trail kind may be switched: a given one replaces the stored one.
	switch {
	case u.TrailPercent != nil || u.TrailAmount != nil:
		c.TrailPercent, c.TrailAmount = u.TrailPercent, u.TrailAmount
	default:
		c.TrailPercent, c.TrailAmount = o.TrailPercent, o.TrailAmount
	}
	switch {
	case tif == GTD && o.TimeInForce == GTD:
		c.ExpiresAt = pickTime(u.ExpiresAt, o.ExpiresAt)
	default:
		c.ExpiresAt = u.ExpiresAt
	}
	v.Merge(c.Validate(now))
	return v.Err()
}

// Apply copies the present fields to o (call Validate first): a time in
// force of gtc clears the expiry, day sets it to the next UTC midnight after
// now. It does not touch status, holds, history, UpdatedAt or Version.
func (u *OrderUpdate) Apply(o *Order, now time.Time) {
	if u.Quantity != nil {
		o.Quantity = *u.Quantity
	}
	if u.LimitPrice != nil {
		o.LimitPrice = u.LimitPrice
	}
	if u.StopPrice != nil {
		o.StopPrice = u.StopPrice
	}
	if u.TrailPercent != nil || u.TrailAmount != nil {
		o.TrailPercent, o.TrailAmount = u.TrailPercent, u.TrailAmount
	}
	if u.TimeInForce != "" && u.TimeInForce != o.TimeInForce {
		o.TimeInForce = u.TimeInForce
		switch u.TimeInForce {
		case GTC:
			o.ExpiresAt = nil
		case Day:
			y, m, d := now.UTC().Date()
			o.ExpiresAt = TimePtr(time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC))
		}
	}
	if u.ExpiresAt != nil {
		o.ExpiresAt = u.ExpiresAt
	}
}

func pick(a, b *decimal.Decimal) *decimal.Decimal {
	if a != nil {
		return a
	}
	return b
}

func pickTime(a, b *Time) *Time {
	if a != nil {
		return a
	}
	return b
}

// OrderResponse is the API shape of an order (the "data" of the order
// routes): every field present; decimals as strings (money with the
// currency's places, prices with at least 2, quantities as stored); null for
// absent optional values.
type OrderResponse struct {
	OrderID          string         `json:"order_id"`
	OrderType        OrderType      `json:"order_type"`
	AssetID          string         `json:"asset_id"`
	Quantity         string         `json:"quantity"`
	Price            *string        `json:"price"`
	LimitPrice       *string        `json:"limit_price"`
	StopPrice        *string        `json:"stop_price"`
	TrailPercent     *string        `json:"trail_percent"`
	TrailAmount      *string        `json:"trail_amount"`
	HighWaterMark    *string        `json:"high_water_mark"`
	Status           OrderStatus    `json:"status"`
	TimeInForce      TimeInForce    `json:"time_in_force"`
	ExpiresAt        *Time          `json:"expires_at"`
	ClientOrderID    *string        `json:"client_order_id"`
	Currency         Currency       `json:"currency"`
	FXRate           *string        `json:"fx_rate,omitempty"`
	TotalAmount      string         `json:"total_amount"`
	Fee              string         `json:"fee"`
	HeldAmount       string         `json:"held_amount"`
	HeldQuantity     string         `json:"held_quantity"`
	ExecutedQuantity string         `json:"executed_quantity"`
	ExecutedPrice    *string        `json:"executed_price"`
	OCOWith          *string        `json:"oco_with"`
	StatusHistory    []StatusChange `json:"status_history"`
	CreatedAt        Time           `json:"created_at"`
	UpdatedAt        Time           `json:"updated_at"`
}

// Response returns o's API shape.
func (o *Order) Response() OrderResponse {
	price := func(p *decimal.Decimal) *string {
		if p == nil {
			return nil
		}
		s := FormatPrice(*p)
		return &s
	}
	var trailPct *string
	if o.TrailPercent != nil {
		s := o.TrailPercent.String()
		trailPct = &s
	}
	hist := o.StatusHistory
	if hist == nil {
		hist = []StatusChange{}
	}
	c := o.Currency
	var fx *string
	if o.FXRate != nil {
		s := o.FXRate.String()
		fx = &s
	}
	return OrderResponse{
		OrderID: o.OrderID, OrderType: o.OrderType, AssetID: o.AssetID, Quantity: o.Quantity.String(),
		Price: price(o.Price), LimitPrice: price(o.LimitPrice), StopPrice: price(o.StopPrice),
		TrailPercent: trailPct, TrailAmount: price(o.TrailAmount), HighWaterMark: price(o.HighWaterMark),
		Status: o.Status, TimeInForce: o.TimeInForce, ExpiresAt: o.ExpiresAt,
		ClientOrderID: nonEmpty(o.ClientOrderID), Currency: c, FXRate: fx,
		TotalAmount: c.Format(o.TotalAmount), Fee: c.Format(o.Fee), HeldAmount: c.Format(o.HeldAmount),
		HeldQuantity: o.HeldQuantity.String(), ExecutedQuantity: o.ExecutedQuantity.String(),
		ExecutedPrice: price(o.ExecutedPrice), OCOWith: nonEmpty(o.OCOWith), StatusHistory: hist,
		CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt,
	}
}

// NotionalUSD returns Notional in USD: at FXRate for an order in another
// currency.
func (o *Order) NotionalUSD() decimal.Decimal {
	if o.FXRate != nil {
		return o.Notional().Mul(*o.FXRate)
	}
	return o.Notional()
}

// Notional returns the value an executed order traded before fees: its
// TotalAmount without the Fee a buy paid on top or a sale had taken off
// (in the order's Currency).
func (o *Order) Notional() decimal.Decimal {
	if o.Side() == Buy {
		return o.TotalAmount.Sub(o.Fee)
	}
	return o.TotalAmount.Add(o.Fee)
}
