package modeltest

import (
	"slices"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
)

// The reference model: plain state and the trading rules of docs/guarantees.md and
// the trading package's documented contract, written from the rules (it calls
// nothing of the trading layer, the DAOs or the store):
//
//   - cash: a buy pays quantity × price rounded UP to the cent plus a fee of
//     that × rate rounded up; a sale receives quantity × price rounded DOWN
//     minus the fee; an order's value must be at least 0.01;
//   - a limit buy at rest holds quantity × limit (up) plus its fee; a resting
//     sell-side order holds its quantity, an OCO pair one quantity for both;
//   - market orders and marketable limit/protective orders execute at once at
//     the market price; ioc/fok orders that are not marketable are cancelled;
//   - triggers: limit_buy p <= limit, limit_sell and take_profit p >= limit,
//     stop_loss p <= stop, trailing_stop p <= hwm - trail (hwm starts at the
//     placement price and rises with ticks; a percent trail is
//     hwm × pct / 100 rounded half-even to 8 places); executions happen at the
//     tick price; a sale too small at the tick price fails and releases its
//     hold; when one order of an OCO pair ends, the other is cancelled;
//   - deposits and withdrawals are limited per user and UTC day.

const (
	nUsers  = 3
	nAssets = 2
)

var (
	assetIDs    = [nAssets]string{"XYZ", "ABC"}
	assetPrices = [nAssets]string{"100", "0.5"}
	usernames   = [nUsers]string{"alice", "bob", "carol"}
	startTime   = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

	depositLimit  = decimal.FromInt(10_000)
	withdrawLimit = decimal.FromInt(5_000)

	cent          = decimal.MustParse("0.01")
	minQuantity   = decimal.MustParse("0.001")
	maxQuantity   = decimal.FromInt(1_000_000_000)
	maxPrice      = decimal.FromInt(1_000_000)
	maxCashAmount = decimal.FromInt(1_000_000)
	hundred       = decimal.FromInt(100)
)

// mHolding is one user's position in one asset.
type mHolding struct {
	exists    bool // created by the first buy
	qty, held decimal.Decimal
}

func (h mHolding) available() decimal.Decimal { return h.qty.Sub(h.held) }

// mUser is one user's cash (USD) and positions.
type mUser struct {
	cash, held decimal.Decimal
	holdings   [nAssets]mHolding
	deposited  map[string]decimal.Decimal // by UTC day
	withdrawn  map[string]decimal.Decimal
	orders     []int // indexes into model.orders, in placement order
}

func (u *mUser) availableCash() decimal.Decimal { return u.cash.Sub(u.held) }

// mOrder is one stored order as the model sees it.
type mOrder struct {
	id    string // the engine's order id (set by the harness)
	seq   int    // index in model.orders
	user  int
	asset int
	typ   entity.OrderType
	qty   decimal.Decimal

	limit, stop, trailPct, trailAmt *decimal.Decimal
	hwm                             *decimal.Decimal
	tif                             entity.TimeInForce
	expiresAt                       *time.Time

	status     entity.OrderStatus
	heldAmount decimal.Decimal
	heldQty    decimal.Decimal
	execPrice  *decimal.Decimal
	execQty    decimal.Decimal
	total, fee decimal.Decimal
	// oco is the model index of the order named by oco_with (-1 none); a
	// resting pair names each other.
	oco int
}

func (o *mOrder) sell() bool { return o.typ != entity.MarketBuy && o.typ != entity.LimitBuy }

func (o *mOrder) open() bool { return o.status == entity.StatusQueued }

// pastExpiry reports whether o has an expiry not after now.
func (o *mOrder) pastExpiry(now time.Time) bool { return o.expiresAt != nil && !o.expiresAt.After(now) }

// expiresBefore reports whether o expires before other: the earlier
// expiry, then the earlier placement.
func (o *mOrder) expiresBefore(other *mOrder) bool {
	switch {
	case o.expiresAt == nil:
		return false
	case other.expiresAt == nil:
		return true
	case !o.expiresAt.Equal(*other.expiresAt):
		return o.expiresAt.Before(*other.expiresAt)
	}
	return o.seq < other.seq
}

// trail returns a trailing stop's distance below its mark.
func (o *mOrder) trail() decimal.Decimal {
	if o.trailAmt != nil {
		return *o.trailAmt
	}
	d, err := o.hwm.Mul(*o.trailPct).Quo(hundred, 8, decimal.HalfEven)
	if err != nil {
		panic(err)
	}
	return d
}

// fires reports whether o executes at market price p.
func (o *mOrder) fires(p decimal.Decimal) bool {
	switch o.typ {
	case entity.LimitBuy:
		return p.Cmp(*o.limit) <= 0
	case entity.LimitSell, entity.TakeProfit:
		return p.Cmp(*o.limit) >= 0
	case entity.StopLoss:
		return p.Cmp(*o.stop) <= 0
	case entity.TrailingStop:
		return p.Cmp(o.hwm.Sub(o.trail())) <= 0
	}
	return false
}

// model is the whole reference state.
type model struct {
	// bug names a known engine bug the last step ran into ("" none).
	bug     string
	feeRate decimal.Decimal
	now     time.Time
	prices  [nAssets]decimal.Decimal
	users   [nUsers]mUser
	orders  []*mOrder
}

func newModel(feeRate decimal.Decimal) *model {
	m := &model{feeRate: feeRate, now: startTime}
	for a := range m.prices {
		m.prices[a] = decimal.MustParse(assetPrices[a])
	}
	for u := range m.users {
		m.users[u].deposited = map[string]decimal.Decimal{}
		m.users[u].withdrawn = map[string]decimal.Decimal{}
	}
	return m
}

// outcome is what the model expects of one step.
type outcome struct {
	kind  apperr.Kind // "" for success
	order int         // the order a placement stored, -1 none
	fired int         // orders a tick executed or failed; expiries of an expire step
	// pairs are OCO pairs that both fired at one tick: the engine executes
	// either one (the model chose the first) and cancels the other.
	pairs [][2]int
}

func fail(k apperr.Kind) outcome { return outcome{kind: k, order: -1} }

var ok = outcome{order: -1}

func (m *model) day() string { return m.now.UTC().Format("2006-01-02") }

// cashAmountValid: > 0, <= 1,000,000, at most 2 places (USD).
func cashAmountValid(a decimal.Decimal) bool {
	return a.IsPositive() && !a.GreaterThan(maxCashAmount) && a.Scale() <= 2
}

func (m *model) deposit(u int, amount decimal.Decimal) outcome {
	if !cashAmountValid(amount) || amount.GreaterThan(depositLimit) {
		return fail(apperr.Invalid)
	}
	usr := &m.users[u]
	today := usr.deposited[m.day()].Add(amount)
	if today.GreaterThan(depositLimit) {
		return fail(apperr.Invalid)
	}
	usr.deposited[m.day()] = today
	usr.cash = usr.cash.Add(amount)
	return ok
}

func (m *model) withdraw(u int, amount decimal.Decimal) outcome {
	if !cashAmountValid(amount) || amount.GreaterThan(withdrawLimit) {
		return fail(apperr.Invalid)
	}
	usr := &m.users[u]
	if usr.availableCash().LessThan(amount) {
		return fail(apperr.InsufficientFunds)
	}
	today := usr.withdrawn[m.day()].Add(amount)
	if today.GreaterThan(withdrawLimit) {
		return fail(apperr.Invalid)
	}
	usr.withdrawn[m.day()] = today
	usr.cash = usr.cash.Sub(amount)
	return ok
}

// orderReq is a placement as the model receives it.
type orderReq struct {
	typ                             entity.OrderType
	asset                           int
	qty                             decimal.Decimal
	limit, stop, trailPct, trailAmt *decimal.Decimal
	tif                             entity.TimeInForce
	expiresAt                       *time.Time
	oco                             int  // model index of the named order, -1 none or unknown
	hasOCO                          bool // oco_with is sent
}

func priceValid(p *decimal.Decimal) bool {
	return p == nil || (p.IsPositive() && !p.GreaterThan(maxPrice) && p.Scale() <= 8)
}

func (m *model) validOrder(r orderReq) bool {
	if r.qty.LessThan(minQuantity) || r.qty.GreaterThan(maxQuantity) || r.qty.Scale() > 8 {
		return false
	}
	for _, p := range []*decimal.Decimal{r.limit, r.stop, r.trailAmt} {
		if !priceValid(p) {
			return false
		}
	}
	if p := r.trailPct; p != nil && (!p.IsPositive() || p.Cmp(hundred) >= 0 || p.Scale() > 4) {
		return false
	}
	if r.tif == entity.GTD {
		if r.expiresAt == nil || !r.expiresAt.After(m.now) || r.expiresAt.Sub(m.now) > 90*24*time.Hour {
			return false
		}
	} else if r.expiresAt != nil {
		return false
	}
	if r.hasOCO {
		switch r.typ {
		case entity.LimitSell, entity.StopLoss, entity.TakeProfit, entity.TrailingStop:
		default:
			return false
		}
	}
	return true
}

// buyCost returns the gross and fee of buying qty at p.
func (m *model) buyCost(qty, p decimal.Decimal) (gross, fee decimal.Decimal) {
	gross = qty.Mul(p).Round(2, decimal.Up)
	return gross, gross.Mul(m.feeRate).Round(2, decimal.Up)
}

// saleProceeds returns the gross and fee of selling qty at p.
func (m *model) saleProceeds(qty, p decimal.Decimal) (gross, fee decimal.Decimal) {
	gross = qty.Mul(p).Round(2, decimal.Down)
	return gross, gross.Mul(m.feeRate).Round(2, decimal.Up)
}

func (m *model) place(u int, r orderReq) outcome {
	if !m.validOrder(r) {
		return fail(apperr.Invalid)
	}
	usr := &m.users[u]
	partner := -1
	if r.hasOCO {
		if r.oco < 0 || m.orders[r.oco].user != u {
			return fail(apperr.Invalid) // no such order (of this user)
		}
		p := m.orders[r.oco]
		if !p.open() || p.pastExpiry(m.now) || p.oco >= 0 || p.asset != r.asset || !p.sell() || !p.qty.Equal(r.qty) {
			return fail(apperr.Invalid)
		}
		partner = r.oco
	}
	price := m.prices[r.asset]
	o := &mOrder{seq: len(m.orders), user: u, asset: r.asset, typ: r.typ, qty: r.qty,
		limit: r.limit, stop: r.stop, trailPct: r.trailPct, trailAmt: r.trailAmt,
		tif: r.tif, expiresAt: r.expiresAt, oco: partner}
	if r.tif == entity.Day {
		y, mo, d := m.now.UTC().Date()
		t := time.Date(y, mo, d+1, 0, 0, 0, 0, time.UTC)
		o.expiresAt = &t
	}
	if o.typ == entity.TrailingStop {
		o.hwm = &price
	}
	h := &usr.holdings[r.asset]
	switch {
	case o.typ == entity.MarketBuy || o.typ == entity.MarketSell || o.fires(price):
		if o.sell() && (!h.exists || partner < 0 && h.available().LessThan(o.qty)) {
			return fail(apperr.InsufficientFunds)
		}
		if o.sell() {
			gross, fee := m.saleProceeds(o.qty, price)
			if gross.Sub(fee).LessThan(cent) {
				return fail(apperr.Invalid) // nothing would be left after the fee
			}
			usr.cash = usr.cash.Add(gross.Sub(fee))
			h.qty = h.qty.Sub(o.qty)
			if partner >= 0 {
				h.held = h.held.Sub(o.qty) // the pair's one hold is consumed
				m.orders[partner].endWith(entity.StatusCancelled)
			}
			o.total, o.fee = gross.Sub(fee), fee
		} else {
			gross, fee := m.buyCost(o.qty, price)
			if usr.availableCash().LessThan(gross.Add(fee)) {
				return fail(apperr.InsufficientFunds)
			}
			usr.cash = usr.cash.Sub(gross.Add(fee))
			h.exists = true
			h.qty = h.qty.Add(o.qty)
			o.total, o.fee = gross.Add(fee), fee
		}
		o.status, o.execPrice, o.execQty = entity.StatusCompleted, &price, o.qty
	case r.tif == entity.IOC || r.tif == entity.FOK:
		o.status = entity.StatusCancelled
	case !o.sell():
		gross, fee := m.buyCost(o.qty, *o.limit)
		hold := gross.Add(fee)
		if usr.availableCash().LessThan(hold) {
			return fail(apperr.InsufficientFunds)
		}
		usr.held = usr.held.Add(hold)
		o.heldAmount, o.status = hold, entity.StatusQueued
	case partner >= 0:
		o.oco, m.orders[partner].oco = partner, o.seq
		o.status = entity.StatusQueued
	default:
		if !h.exists || h.available().LessThan(o.qty) {
			return fail(apperr.InsufficientFunds)
		}
		h.held = h.held.Add(o.qty)
		o.heldQty, o.status = o.qty, entity.StatusQueued
	}
	m.orders = append(m.orders, o)
	usr.orders = append(usr.orders, o.seq)
	return outcome{order: o.seq}
}

// endWith moves an order to a terminal status without executing it; its hold
// is the caller's business.
func (o *mOrder) endWith(st entity.OrderStatus) {
	o.status = st
	o.heldAmount, o.heldQty = decimal.Zero, decimal.Zero
}

// end ends open order i with st, releasing its hold and its OCO partner's
// (cancelled with it).
func (m *model) end(i int, st entity.OrderStatus) {
	o := m.orders[i]
	usr := &m.users[o.user]
	usr.held = usr.held.Sub(o.heldAmount)
	qty := o.heldQty
	if o.oco >= 0 && m.orders[o.oco].open() {
		p := m.orders[o.oco]
		qty = qty.Add(p.heldQty)
		p.endWith(entity.StatusCancelled)
	}
	h := &usr.holdings[o.asset]
	h.held = h.held.Sub(qty)
	o.endWith(st)
}

// cancel cancels order target (-1: an id that names no order of u).
func (m *model) cancel(u, target int) outcome {
	if target < 0 || m.orders[target].user != u {
		return fail(apperr.NotFound)
	}
	if !m.orders[target].open() {
		return fail(apperr.Conflict)
	}
	m.end(target, entity.StatusCancelled)
	return ok
}

// execute fills resting order i at the tick price p (or fails it).
func (m *model) execute(i int, p decimal.Decimal) {
	o := m.orders[i]
	usr := &m.users[o.user]
	h := &usr.holdings[o.asset]
	if !o.sell() {
		gross, fee := m.buyCost(o.qty, p)
		usr.cash = usr.cash.Sub(gross.Add(fee))
		usr.held = usr.held.Sub(o.heldAmount)
		h.exists = true
		h.qty = h.qty.Add(o.qty)
		o.total, o.fee = gross.Add(fee), fee
	} else {
		gross, fee := m.saleProceeds(o.qty, p)
		if gross.Sub(fee).LessThan(cent) {
			m.end(i, entity.StatusFailed)
			return
		}
		usr.cash = usr.cash.Add(gross.Sub(fee))
		h.qty = h.qty.Sub(o.qty)
		h.held = h.held.Sub(o.qty) // its own hold or its partner's
		if o.oco >= 0 && m.orders[o.oco].open() {
			m.orders[o.oco].endWith(entity.StatusCancelled)
		}
		o.total, o.fee = gross.Sub(fee), fee
	}
	o.endWith(entity.StatusCompleted)
	o.execPrice, o.execQty = &p, o.qty
}

// tick sets the price of asset a and runs the triggers.
func (m *model) tick(a int, p decimal.Decimal) outcome {
	m.prices[a] = p
	var due []int
	for _, o := range m.orders {
		if o.asset != a || !o.open() {
			continue
		}
		if o.typ == entity.TrailingStop && p.GreaterThan(*o.hwm) {
			o.hwm = &p
		}
		if o.fires(p) {
			due = append(due, o.seq)
		}
	}
	out := ok
	for _, i := range due {
		o := m.orders[i]
		if !o.open() {
			continue // its OCO partner fired first
		}
		// Past its expiry it expires, never fills late; an OCO pair ends
		// when its first leg expires, the other leg cancelled with it.
		if o.oco >= 0 {
			if p := m.orders[o.oco]; p.open() && p.pastExpiry(m.now) && (!o.pastExpiry(m.now) || p.expiresBefore(o)) {
				m.end(p.seq, entity.StatusExpired)
				continue
			}
		}
		if o.pastExpiry(m.now) {
			m.end(i, entity.StatusExpired)
			continue
		}
		if o.oco >= 0 && slices.Contains(due, o.oco) {
			out.pairs = append(out.pairs, [2]int{i, o.oco})
		}
		m.execute(i, p)
		out.fired++
	}
	return out
}

// expiryLookbackDays is how many past expiry days a sweep reads: an order
// whose expiry day is older is left to a sweep with a longer lookback (the
// ExpireDue contract).
const expiryLookbackDays = 2

// expire advances the clock by d and expires every open order due by then
// (within the lookback), in order of expiry time, then placement.
func (m *model) expire(d time.Duration) outcome {
	m.now = m.now.Add(d)
	y, mo, dd := m.now.UTC().Date()
	oldest := time.Date(y, mo, dd-expiryLookbackDays, 0, 0, 0, 0, time.UTC)
	var due []*mOrder
	for _, o := range m.orders {
		if o.open() && o.expiresAt != nil && !o.expiresAt.After(m.now) && !o.expiresAt.Before(oldest) {
			due = append(due, o)
		}
	}
	slices.SortStableFunc(due, func(a, b *mOrder) int { return a.expiresAt.Compare(*b.expiresAt) })
	out := ok
	for _, o := range due {
		if o.open() {
			m.end(o.seq, entity.StatusExpired)
			out.fired++
		}
	}
	return out
}

// swapWinner records that the engine executed pair[1] of an OCO pair the
// model executed as pair[0]: the two orders exchange outcomes (cash and
// holdings are the same either way: same quantity, same price).
func (m *model) swapWinner(pair [2]int) {
	a, b := m.orders[pair[0]], m.orders[pair[1]]
	a.status, b.status = b.status, a.status
	a.execPrice, b.execPrice = b.execPrice, a.execPrice
	a.execQty, b.execQty = b.execQty, a.execQty
	a.total, b.total = b.total, a.total
	a.fee, b.fee = b.fee, a.fee
}
