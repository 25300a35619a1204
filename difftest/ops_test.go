package difftest

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
)

// op is one operation of a sequence, engine-independent: orders are named
// by their index in the sequence, resolved to each engine's ids by apply.
type op struct {
	kind   string // deposit, withdraw, convert, place, cancel, amend, adjust, reverse, tick, expire
	user   string
	amount decimal.Decimal
	cur    entity.Currency    // deposit, withdraw, convert (from)
	to     entity.Currency    // convert
	req    entity.OrderCreate // place (OCOWith unset: see oco)
	oco    int                // place: index of the oco_with order; -1 none; -2 an id that does not exist
	target int                // cancel, amend, reverse: index of the order
	upd    entity.OrderUpdate // amend
	asset  string             // tick
	price  decimal.Decimal    // tick
	adv    time.Duration      // expire: how far the clock moves first
}

func (o op) String() string {
	switch o.kind {
	case "deposit", "withdraw":
		return fmt.Sprintf("%s %s %s %s", o.kind, o.user, o.amount, o.cur)
	case "convert":
		return fmt.Sprintf("convert %s %s %s->%s", o.user, o.amount, o.cur, o.to)
	case "cancel", "reverse":
		return fmt.Sprintf("%s %s #%d", o.kind, o.user, o.target)
	case "adjust":
		return fmt.Sprintf("adjust %s %s", o.user, o.amount)
	case "amend":
		u := o.upd
		var b strings.Builder
		fmt.Fprintf(&b, "amend %s #%d", o.user, o.target)
		for _, f := range []struct {
			n string
			v *decimal.Decimal
		}{{"q", u.Quantity}, {"limit", u.LimitPrice}, {"stop", u.StopPrice}, {"trail%", u.TrailPercent}, {"trail", u.TrailAmount}} {
			if f.v != nil {
				fmt.Fprintf(&b, " %s=%s", f.n, f.v)
			}
		}
		if u.TimeInForce != "" {
			fmt.Fprintf(&b, " %s", u.TimeInForce)
		}
		return b.String()
	case "tick":
		return fmt.Sprintf("tick %s %s", o.asset, o.price)
	case "expire":
		return fmt.Sprintf("expire +%s", o.adv)
	}
	r := o.req
	var b strings.Builder
	fmt.Fprintf(&b, "place %s %s %s q=%s", o.user, r.OrderType, r.AssetID, r.Quantity)
	for _, f := range []struct {
		n string
		v *decimal.Decimal
	}{{"limit", r.LimitPrice}, {"stop", r.StopPrice}, {"trail%", r.TrailPercent}, {"trail", r.TrailAmount}} {
		if f.v != nil {
			fmt.Fprintf(&b, " %s=%s", f.n, f.v)
		}
	}
	if r.TimeInForce != "" {
		fmt.Fprintf(&b, " %s", r.TimeInForce)
	}
	if r.ExpiresAt != nil {
		fmt.Fprintf(&b, " exp=%s", r.ExpiresAt.Format("01-02T15:04:05"))
	}
	switch {
	case o.oco >= 0:
		fmt.Fprintf(&b, " oco=#%d", o.oco)
	case o.oco == -2:
		fmt.Fprintf(&b, " oco=missing")
	}
	return b.String()
}

// missingOrderID is a well-formed order id that no engine made.
const missingOrderID = "01NOSUCHORDER0000000000000"

// apply runs o on w and returns its outcome: "ok", "ok <order status>",
// "ok <credit>" (convert), "executed <n>" (tick), "expired <n>" (expire) or
// "err <kind>: <message>", order ids written as their #index.
func (w *world) apply(t *testing.T, ctx context.Context, o op) string {
	t.Helper()
	amt := o.amount
	switch o.kind {
	case "deposit":
		_, _, err := w.s.Deposit(ctx, o.user, entity.DepositRequest{Amount: &amt, Currency: o.cur}, nil)
		return w.outcome("ok", err)
	case "withdraw":
		_, _, err := w.s.Withdraw(ctx, o.user, entity.WithdrawRequest{Amount: &amt, Currency: o.cur}, nil)
		return w.outcome("ok", err)
	case "convert":
		c, _, err := w.s.Convert(ctx, o.user, entity.ConvertRequest{FromCurrency: o.cur, ToCurrency: o.to, Amount: &amt}, nil)
		if err != nil {
			return w.outcome("", err)
		}
		return "ok " + c.To.Amount.String()
	case "place":
		req := o.req
		switch {
		case o.oco >= 0:
			req.OCOWith = w.ids[o.oco]
		case o.oco == -2:
			req.OCOWith = missingOrderID
		}
		p, _, err := w.s.PlaceOrder(ctx, o.user, req, "", nil)
		if err != nil {
			return w.outcome("", err)
		}
		if p.Existing {
			t.Fatalf("%s: %s answered with an existing order", w.name, o)
		}
		w.idx[p.Order.OrderID] = len(w.ids)
		w.ids = append(w.ids, p.Order.OrderID)
		return fmt.Sprintf("ok #%d %s", w.idx[p.Order.OrderID], p.Order.Status)
	case "cancel":
		cur, err := w.d.Orders.Get(ctx, o.user, w.ids[o.target])
		if err != nil {
			t.Fatalf("%s: read order #%d: %v", w.name, o.target, err)
		}
		c, err := w.s.CancelOrder(ctx, cur)
		if err != nil {
			return w.outcome("", err)
		}
		return "ok " + string(c.Status)
	case "amend":
		a, _, err := w.s.AmendOrder(ctx, o.user, w.ids[o.target], o.upd, nil)
		if err != nil {
			return w.outcome("", err)
		}
		return "ok amended q=" + a.Quantity.String()
	case "adjust":
		_, _, err := w.s.Adjust(ctx, "admin", o.user, entity.AdjustmentRequest{Amount: &amt, Reason: "difftest"}, nil)
		return w.outcome("ok", err)
	case "reverse":
		_, _, err := w.s.ReverseOrder(ctx, "admin", w.ids[o.target], entity.ReversalRequest{Username: o.user, Reason: "difftest"}, nil)
		return w.outcome("ok reversed", err)
	case "tick":
		if _, err := w.d.Assets.SetPrice(ctx, o.asset, o.price, w.clock.Now()); err != nil {
			t.Fatalf("%s: set price: %v", w.name, err)
		}
		n, err := w.s.OnPrice(ctx, o.asset, o.price)
		return w.outcome(fmt.Sprintf("executed %d", n), err)
	case "expire":
		w.clock.Advance(o.adv)
		n, err := w.s.ExpireDue(ctx, w.clock.Now(), 2)
		return w.outcome(fmt.Sprintf("expired %d", n), err)
	}
	t.Fatalf("unknown op %q", o.kind)
	return ""
}

func (w *world) outcome(ok string, err error) string {
	if err == nil {
		return ok
	}
	return fmt.Sprintf("err %s: %s", apperr.KindOf(err), w.mapIDs(err.Error()))
}

var ulidRE = regexp.MustCompile(`[0-9A-HJKMNP-TV-Z]{26}`)

// mapIDs replaces the order ids in s by their #index (other ids by "?").
func (w *world) mapIDs(s string) string {
	return ulidRE.ReplaceAllStringFunc(s, func(id string) string {
		if i, ok := w.idx[id]; ok {
			return fmt.Sprintf("#%d", i)
		}
		return "?"
	})
}

// class is an outcome's kind for the summary: "ok <status>", "err <kind>",
// or its first word.
func class(out string) string {
	f := strings.Fields(out)
	switch {
	case len(f) >= 2 && f[0] == "err":
		return "err " + strings.TrimSuffix(f[1], ":")
	case len(f) >= 2 && f[0] == "ok" && (f[1] == "amended" || f[1] == "reversed"):
		return "ok " + f[1]
	case len(f) == 3 && f[0] == "ok":
		return "ok " + f[2]
	case len(f) == 2 && f[0] == "executed", len(f) == 2 && f[0] == "expired":
		if f[1] == "0" {
			return f[0] + " 0"
		}
		return f[0] + " >0"
	}
	return f[0]
}

// gen makes a random operation sequence. Choices that depend on the state
// (a user's holding, the open orders an OCO links to, which orders a tick
// executes) read the reference engine, which the other engine must equal.
type gen struct {
	r    *rand.Rand
	ref  *world
	racy bool
}

func (g *gen) pick(n int) int { return g.r.IntN(n) }

func (g *gen) chance(p float64) bool { return g.r.Float64() < p }

func (g *gen) user() string { return users[g.pick(len(users))] }

func (g *gen) asset() string { return assets[g.pick(len(assets))].id }

// dec returns a random decimal in [lo, hi) with places decimal places.
func (g *gen) dec(lo, hi float64, places int32) decimal.Decimal {
	scale := math.Pow10(int(places))
	n := int64(math.Ceil(lo*scale)) + g.r.Int64N(max(int64((hi-lo)*scale), 1))
	return decimal.New(n, -places)
}

// frac returns p x (1 + u) for u uniform in [lo, hi), rounded to a random
// number of places (at most 8), and at least 10^-places.
func (g *gen) frac(p decimal.Decimal, lo, hi float64) decimal.Decimal {
	u := g.dec(lo, hi, 6)
	places := []int32{0, 1, 2, 2, 2, 3, 4, 6, 8}[g.pick(9)]
	if p.LessThan(decimal.FromInt(5)) {
		places = max(places, 3)
	}
	v := p.Add(p.Mul(u)).Round(places, decimal.HalfEven)
	if !v.IsPositive() {
		v = decimal.New(1, -places)
	}
	return v
}

func (g *gen) price(t *testing.T, ctx context.Context, asset string) decimal.Decimal {
	t.Helper()
	a, err := g.ref.d.Assets.Get(ctx, asset)
	if err != nil {
		t.Fatal(err)
	}
	return a.PriceUSD
}

// qty returns a random order quantity of asset: mostly 0.001-5 (x100 for the
// cheap asset) with 0-8 places; rarely one below the minimum, sometimes one
// worth less than a cent.
func (g *gen) qty(asset string) decimal.Decimal {
	switch x := g.r.Float64(); {
	case x < 0.02:
		return decimal.MustParse("0.0001") // below the minimum
	case x < 0.06:
		// Worth less than a cent: refused at placement when it executes or
		// holds cash, failed when a resting sale triggers.
		return g.dec(0.001, 0.02, 3)
	}
	places := int32(g.pick(9))
	q := g.dec(0.001, 5, places)
	if q.LessThan(decimal.MustParse("0.001")) {
		q = decimal.MustParse("0.001")
	}
	if asset == "BBB" {
		q = q.Mul(decimal.FromInt(100)).Round(8, decimal.Down)
	}
	return q
}

// available returns the user's available quantity of asset in the reference engine.
func (g *gen) available(t *testing.T, ctx context.Context, user, asset string) decimal.Decimal {
	t.Helper()
	h, err := g.ref.d.Holdings.Get(ctx, user, asset)
	if apperr.Is(err, apperr.NotFound) {
		return decimal.Zero
	}
	if err != nil {
		t.Fatal(err)
	}
	return h.Available()
}

// sellQty returns a quantity for a sale: often a share of what the user
// holds, else a random one.
func (g *gen) sellQty(t *testing.T, ctx context.Context, user, asset string) decimal.Decimal {
	t.Helper()
	avail := g.available(t, ctx, user, asset)
	if asset == "BBB" && avail.GreaterThan(decimal.MustParse("0.02")) && g.chance(0.25) {
		return g.dec(0.001, 0.02, 3) // worth less than a cent: fails when it triggers
	}
	if avail.IsPositive() && g.chance(0.7) {
		share := []string{"1", "0.5", "0.25", "0.333"}[g.pick(4)]
		if q := avail.Mul(decimal.MustParse(share)).Round(8, decimal.Down); !q.LessThan(decimal.MustParse("0.001")) {
			return q
		}
	}
	return g.qty(asset)
}

// seller returns a user who holds some of asset, or a random user.
func (g *gen) seller(t *testing.T, ctx context.Context, asset string) string {
	t.Helper()
	var with []string
	for _, u := range users {
		if g.available(t, ctx, u, asset).IsPositive() {
			with = append(with, u)
		}
	}
	if len(with) > 0 && g.chance(0.8) {
		return with[g.pick(len(with))]
	}
	return g.user()
}

// tif sets a random time in force on a resting order type.
func (g *gen) tif(req *entity.OrderCreate) {
	switch x := g.pick(20); {
	case x < 9:
		if g.chance(0.5) {
			req.TimeInForce = entity.GTC
		}
	case x < 12:
		req.TimeInForce = entity.Day
	case x < 16:
		req.TimeInForce = entity.GTD
		exp := entity.At(g.ref.clock.Now().Add(time.Duration(30+g.pick(48*60)) * time.Minute))
		req.ExpiresAt = &exp
	case x < 18:
		req.TimeInForce = entity.IOC
	default:
		req.TimeInForce = entity.FOK
	}
}

func ptr(d decimal.Decimal) *decimal.Decimal { return &d }

// next returns the next operation.
func (g *gen) next(t *testing.T, ctx context.Context) op {
	t.Helper()
	for {
		if o, ok := g.try(t, ctx); ok {
			return o
		}
	}
}

func (g *gen) try(t *testing.T, ctx context.Context) (op, bool) {
	t.Helper()
	o := op{oco: -1}
	w := g.pick(100)
	switch {
	case w < 7:
		o.kind, o.user = "deposit", g.user()
		o.cur = []entity.Currency{entity.USD, entity.USD, entity.USD, entity.EUR, entity.JPY}[g.pick(5)]
		o.amount = g.dec(0.01, 4000, []int32{0, 1, 2}[g.pick(3)])
		if o.cur == entity.JPY {
			o.amount = o.amount.Round(0, decimal.Down).Add(decimal.FromInt(1))
		}
	case w < 12:
		o.kind, o.user = "withdraw", g.user()
		o.cur = []entity.Currency{entity.USD, entity.USD, entity.EUR}[g.pick(3)]
		o.amount = g.dec(0.01, 3000, []int32{0, 1, 2}[g.pick(3)])
	case w < 15:
		o.kind, o.user = "convert", g.user()
		pairs := [][2]entity.Currency{{entity.USD, entity.EUR}, {entity.EUR, entity.USD}, {entity.USD, entity.JPY}, {entity.JPY, entity.USD}, {entity.EUR, entity.GBP}}
		p := pairs[g.pick(len(pairs))]
		o.cur, o.to = p[0], p[1]
		o.amount = g.dec(0.01, 800, p[0].Scale())
		if p[0] == entity.JPY {
			o.amount = o.amount.Mul(decimal.FromInt(100)).Round(0, decimal.Down).Add(decimal.FromInt(1))
		}
	case w < 22:
		o.kind, o.user = "place", g.user()
		a := g.asset()
		o.req = entity.OrderCreate{OrderType: entity.MarketBuy, AssetID: a, Quantity: ptr(g.qty(a))}
	case w < 27:
		a := g.asset()
		o.kind, o.user = "place", g.seller(t, ctx, a)
		o.req = entity.OrderCreate{OrderType: entity.MarketSell, AssetID: a, Quantity: ptr(g.sellQty(t, ctx, o.user, a))}
	case w < 35:
		o.kind, o.user = "place", g.user()
		a := g.asset()
		o.req = entity.OrderCreate{OrderType: entity.LimitBuy, AssetID: a, Quantity: ptr(g.qty(a)),
			LimitPrice: ptr(g.frac(g.price(t, ctx, a), -0.10, 0.03))}
		g.tif(&o.req)
	case w < 53:
		a := g.asset()
		o.kind, o.user = "place", g.seller(t, ctx, a)
		q := g.sellQty(t, ctx, o.user, a)
		o.req = g.sellSide(t, ctx, a, q)
		g.tif(&o.req)
		if a == "BBB" && q.LessThan(decimal.MustParse("0.02")) && g.chance(0.7) {
			// A stop just below the price, worth less than a cent: it
			// rests, and fails when a fall triggers it.
			o.req = entity.OrderCreate{OrderType: entity.StopLoss, AssetID: a, Quantity: ptr(q),
				StopPrice: ptr(g.frac(g.price(t, ctx, a), -0.03, -0.005))}
		}
	case w < 60:
		return g.ocoPartner(t, ctx)
	case w < 67:
		if len(g.ref.ids) == 0 {
			return o, false
		}
		o.kind, o.target = "cancel", g.pick(len(g.ref.ids))
		if g.chance(0.6) {
			o.target = len(g.ref.ids) - 1 - g.pick(min(len(g.ref.ids), 8)) // mostly recent orders, which are often open
		}
		ord, err := g.ref.d.Orders.Get(ctx, g.owner(t, ctx, o.target), g.ref.ids[o.target])
		if err != nil {
			t.Fatal(err)
		}
		o.user = ord.Username
	case w < 73:
		return g.amend(t, ctx)
	case w < 75:
		o.kind, o.user = "adjust", g.user()
		o.amount = g.dec(0.01, 500, 2)
		if g.chance(0.5) {
			o.amount = o.amount.Neg()
		}
	case w < 77:
		if len(g.ref.ids) == 0 {
			return o, false
		}
		// Mostly an executed order (a few tries), else whatever was picked.
		o.kind, o.target = "reverse", g.pick(len(g.ref.ids))
		o.user = g.owner(t, ctx, o.target)
		for range 4 {
			if ord, err := g.ref.d.Orders.Get(ctx, o.user, g.ref.ids[o.target]); err == nil && ord.Status == entity.StatusCompleted {
				break
			}
			o.target = g.pick(len(g.ref.ids))
			o.user = g.owner(t, ctx, o.target)
		}
	case w < 93:
		return g.tick(t, ctx)
	default:
		o.kind = "expire"
		o.adv = []time.Duration{time.Minute, 10 * time.Minute, time.Hour, 3 * time.Hour, 8 * time.Hour, 20 * time.Hour}[g.pick(6)] +
			time.Duration(g.pick(3600))*time.Second
	}
	return o, true
}

// amend amends a random order, mostly a recent one (often open): its
// quantity, its trigger, or its time in force.
func (g *gen) amend(t *testing.T, ctx context.Context) (op, bool) {
	t.Helper()
	if len(g.ref.ids) == 0 {
		return op{}, false
	}
	o := op{kind: "amend", oco: -1, target: len(g.ref.ids) - 1 - g.pick(min(len(g.ref.ids), 8))}
	o.user = g.owner(t, ctx, o.target)
	ord, err := g.ref.d.Orders.Get(ctx, o.user, g.ref.ids[o.target])
	if err != nil {
		t.Fatal(err)
	}
	p := g.price(t, ctx, ord.AssetID)
	switch g.pick(4) {
	case 0:
		share := []string{"0.5", "1.5", "2", "0.9"}[g.pick(4)]
		o.upd.Quantity = ptr(ord.Quantity.Mul(decimal.MustParse(share)).Round(8, decimal.Down))
	case 1:
		switch ord.OrderType {
		case entity.LimitBuy:
			o.upd.LimitPrice = ptr(g.frac(p, -0.10, 0.03))
		case entity.StopLoss:
			o.upd.StopPrice = ptr(g.frac(p, -0.10, 0.03))
		case entity.TrailingStop:
			o.upd.TrailPercent = ptr(g.dec(0.5, 15, 2))
		default:
			o.upd.LimitPrice = ptr(g.frac(p, -0.03, 0.10))
		}
	case 2:
		o.upd.TimeInForce = []entity.TimeInForce{entity.GTC, entity.Day, entity.IOC}[g.pick(3)]
	default:
		o.upd.Quantity = ptr(g.qty(ord.AssetID))
		o.upd.ExpectedVersion = ptr64(ord.Version - int64(g.pick(2)))
	}
	return o, true
}

func ptr64(v int64) *int64 { return &v }

// owner returns the user who placed order index i in the reference engine.
func (g *gen) owner(t *testing.T, ctx context.Context, i int) string {
	t.Helper()
	for _, u := range users {
		if _, err := g.ref.d.Orders.Get(ctx, u, g.ref.ids[i]); err == nil {
			return u
		}
	}
	t.Fatalf("order #%d has no owner", i)
	return ""
}

// sellSide returns a random resting sell-side order of asset: limit_sell,
// stop_loss, take_profit or trailing_stop (by percent or amount), some
// marketable at once.
func (g *gen) sellSide(t *testing.T, ctx context.Context, asset string, qty decimal.Decimal) entity.OrderCreate {
	t.Helper()
	p := g.price(t, ctx, asset)
	req := entity.OrderCreate{AssetID: asset, Quantity: ptr(qty)}
	switch g.pick(5) {
	case 0:
		req.OrderType, req.LimitPrice = entity.LimitSell, ptr(g.frac(p, -0.03, 0.10))
	case 1:
		req.OrderType, req.Price = entity.TakeProfit, ptr(g.frac(p, -0.03, 0.10)) // the target given as price
	case 2:
		req.OrderType, req.StopPrice = entity.StopLoss, ptr(g.frac(p, -0.10, 0.03))
	case 3:
		req.OrderType, req.TrailPercent = entity.TrailingStop, ptr(g.dec(0.5, 15, int32(g.pick(5))))
		if req.TrailPercent.IsZero() {
			req.TrailPercent = ptr(decimal.FromInt(5))
		}
	default:
		req.OrderType, req.TrailAmount = entity.TrailingStop, ptr(g.frac(p, -0.97, -0.90))
	}
	return req
}

// ocoPartner places a sell-side order linked to an open, unlinked sell-side
// order of the same user, asset and quantity; sometimes to an order that
// does not qualify, or does not exist.
func (g *gen) ocoPartner(t *testing.T, ctx context.Context) (op, bool) {
	t.Helper()
	type cand struct {
		i int
		o *entity.Order
	}
	var open, all []cand
	for _, u := range users {
		orders, err := g.ref.d.Orders.AllByUser(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		for _, ord := range orders {
			c := cand{g.ref.idx[ord.OrderID], ord}
			all = append(all, c)
			if ord.Status == entity.StatusQueued && ord.Side() == entity.Sell && ord.OCOWith == "" {
				open = append(open, c)
			}
		}
	}
	if len(all) == 0 {
		return op{}, false
	}
	c := all[g.pick(len(all))]
	if len(open) > 0 && g.chance(0.85) {
		c = open[g.pick(len(open))]
	}
	o := op{kind: "place", user: c.o.Username, oco: c.i, req: g.sellSide(t, ctx, c.o.AssetID, c.o.Quantity)}
	if g.chance(0.05) {
		o.oco = -2
	}
	g.tif(&o.req)
	return o, true
}

// tick moves an asset's price by up to 10% either way. Unless racy, it avoids
// prices whose executions race: a tick executes the orders it triggers
// concurrently, and for one user's orders of one asset the result depends on
// their order (a sale removes cost basis at the average cost of the holding
// it read: a buy or another sale before it changes that; of an OCO pair that
// both trigger, the first to commit wins). Such ticks are retried with other
// prices, or the operation is replaced.
func (g *gen) tick(t *testing.T, ctx context.Context) (op, bool) {
	t.Helper()
	a := g.asset()
	p := g.price(t, ctx, a)
	for try := 0; try < 8; try++ {
		np := g.frac(p, -0.10, 0.10)
		if np.Equal(p) || np.GreaterThan(decimal.FromInt(1_000_000)) {
			continue
		}
		if g.racy || !g.racing(t, ctx, a, np) {
			return op{kind: "tick", asset: a, price: np, oco: -1}, true
		}
	}
	return op{}, false
}

// racing reports whether a tick of asset to price would execute, for one
// user, a sell-side order together with any other order of theirs.
func (g *gen) racing(t *testing.T, ctx context.Context, asset string, price decimal.Decimal) bool {
	t.Helper()
	for _, u := range users {
		orders, err := g.ref.d.Orders.AllByUser(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		n, sells := 0, 0
		for _, o := range orders {
			if o.Status != entity.StatusQueued || o.AssetID != asset {
				continue
			}
			c := *o
			c.RaiseHighWaterMark(price)
			if c.ShouldTrigger(price) {
				n++
				if o.Side() == entity.Sell {
					sells++
				}
			}
		}
		if sells > 0 && n > 1 {
			return true
		}
	}
	return false
}
