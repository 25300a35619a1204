// Package verify checks the ledger invariants of docs/guarantees.md on a store,
// for every user, and reports every violation it finds (not only the first).
//
// It reads only through the DAOs (package dao), never engine internals, so it
// works on every engine. It reads each user's records one after another
// without a snapshot: run it on a store that is not being written (the verify
// command opens the embedded store exclusively), or expect false reports for
// the users written during the run.
//
// The invariants, per user:
//
//   - ledger entries: each amount has its type's sign, is non-zero and has at
//     most its currency's decimal places (entity.BalanceTransaction.CheckAmount);
//     its status and currency are known;
//   - cash, per currency: current_balance == Σ Effect() of the entries;
//     held_balance == Σ HoldEffect() (the pending order_hold entries);
//     held_balance >= 0; current_balance - held_balance >= 0; the stored
//     available attribute == current_balance - held_balance; held_balance ==
//     Σ held_amount of the open buy-side orders in that currency. A currency
//     with entries or open holds but no balance item is reported too;
//   - assets, per asset: quantity == Σ BUY - Σ SELL of the completed
//     movements; quantity >= 0; 0 <= held_quantity <= quantity; the stored
//     available_quantity == quantity - held_quantity; held_quantity == Σ
//     held_quantity of the open sell-side orders of that asset; a holding
//     that keeps its totals (dao.Holding.Current) has cost_basis, realized,
//     fees and sold equal to entity.Position over its completed
//     movements, oldest first (each sale at the cost its entry records,
//     which makes them independent of the order of the fills); a sale's
//     recorded cost is not negative;
//   - orders: the status is known; the status history starts with pending,
//     follows entity.CanTransition and ends in the order's status; a terminal
//     order holds nothing; a buy order holds no quantity and a sell order no
//     cash; an open buy order's held_amount equals its pending order_hold
//     entries; a completed order has exactly one order_payment (buy) or
//     order_sale (sell) entry whose amount is -total_amount (buy) or
//     +total_amount (sell) in the order's currency, and exactly one asset
//     movement of its side and asset whose quantity is executed_quantity
//     and whose fee (entity.MovementFee) is the order's fee;
//   - references: an order_payment, order_sale or asset movement references a
//     completed order of its side; an order_refund references an existing
//     order; an order_hold references an existing buy order in its currency
//     and is pending exactly while that order is open;
//   - adjustments: a system_adjustment entry records the admin who made it
//     (created_by) and the reason (its description);
//   - reversals: an order_refund with an asset leg (the reversal of a
//     fill, a BUY_REVERSAL or SELL_REVERSAL movement, counted in the
//     holding's quantity and totals above) references a completed order
//     of its side and asset whose status history records its reversal; it
//     gives back exactly the order's total_amount (a credit for a buy, a
//     debit for a sale) in its currency and executed_quantity at its
//     executed_price; an order is reversed at most once, and an order whose
//     history records a reversal has its refund entry;
//   - volume (volume.go): the volume buckets of every asset and of the
//     platform reconcile with the completed fills of every user's ledger
//     and with the orders placed, minute by minute, the active users with
//     the users who placed orders, day by day, and the hour and day
//     buckets with the minutes;
//   - daily buckets (perf.go): each user's daily buckets reconcile with the
//     user's completed ledger entries and orders, day by day;
//   - status history notes: an entry that repeats the status before it is
//     an amendment of a queued order or the reversal of a completed one
//     (entity.StatusChange.IsNote).
package verify

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
)

// Violation is one broken invariant.
type Violation struct {
	// Username is the user whose records break it.
	Username string `json:"username"`
	// Subject names the record: "balance USD", "holding BTC",
	// "transaction <id>", "movement <id>" or "order <id>".
	Subject string `json:"subject"`
	// Problem says what is wrong, with the values found.
	Problem string `json:"problem"`
}

// String returns "username: subject: problem".
func (v Violation) String() string { return v.Username + ": " + v.Subject + ": " + v.Problem }

// Report is the result of Run: what was checked and every violation found,
// grouped by user (usernames ascending) in a deterministic order.
type Report struct {
	Users        int `json:"users"`
	Balances     int `json:"balances"`
	Transactions int `json:"transactions"`
	Holdings     int `json:"holdings"`
	Movements    int `json:"movements"`
	Orders       int `json:"orders"`
	// VolumeBuckets and DailyBuckets are the numbers of stored volume
	// buckets and users' daily buckets checked.
	VolumeBuckets int         `json:"volume_buckets"`
	DailyBuckets  int         `json:"daily_buckets"`
	Violations    []Violation `json:"violations"`
}

// OK reports whether every invariant holds.
func (r Report) OK() bool { return len(r.Violations) == 0 }

// Run checks every invariant for every registered user (a user is a profile
// item; see dao.ScanDAO.Usernames). It returns an error only when the store
// cannot be read or a record cannot be decoded; broken invariants are in the
// report. It honours ctx between users.
func Run(ctx context.Context, d *dao.DAOs) (Report, error) {
	var names []string
	if err := d.Analytics.Usernames(ctx, func(u string) error {
		names = append(names, u)
		return nil
	}); err != nil {
		return Report{}, fmt.Errorf("verify: %w", err)
	}
	slices.Sort(names)
	rep := Report{Violations: []Violation{}}
	var vol volumeChecker
	if err := vol.start(ctx, d); err != nil {
		return rep, fmt.Errorf("verify volume: %w", err)
	}
	for _, u := range names {
		if err := ctx.Err(); err != nil {
			return rep, fmt.Errorf("verify: %w", err)
		}
		recs, err := load(ctx, d, u)
		if err != nil {
			return rep, fmt.Errorf("verify user %s: %w", u, err)
		}
		rep.Users++
		rep.Balances += len(recs.balances)
		rep.Transactions += len(recs.txs)
		rep.Holdings += len(recs.holdings)
		rep.Movements += len(recs.moves)
		rep.Orders += len(recs.orders)
		c := checker{user: u, recs: recs}
		c.check()
		rep.Violations = append(rep.Violations, c.out...)
		vol.addMoves(recs.moves)
		vol.addOrders(u, recs.orders)
		if vol.found {
			vs, n, err := checkDays(ctx, d, u, vol.since, recs)
			if err != nil {
				return rep, fmt.Errorf("verify user %s: %w", u, err)
			}
			rep.DailyBuckets += n
			rep.Violations = append(rep.Violations, vs...)
		}
	}
	n, err := vol.check(ctx, d)
	if err != nil {
		return rep, fmt.Errorf("verify volume: %w", err)
	}
	rep.VolumeBuckets = n
	rep.Violations = append(rep.Violations, vol.out...)
	return rep, nil
}

// records are everything of one user that the invariants relate.
type records struct {
	balances []dao.StoredBalance
	txs      []*entity.BalanceTransaction
	holdings []*dao.HoldingRecord
	moves    []*entity.AssetTransaction
	orders   []*entity.Order
}

func load(ctx context.Context, d *dao.DAOs, u string) (*records, error) {
	var r records
	var err error
	if r.balances, err = d.Balances.ListStored(ctx, u); err != nil {
		return nil, err
	}
	if r.txs, err = d.Balances.AllTransactions(ctx, u); err != nil {
		return nil, fmt.Errorf("read ledger: %w", err)
	}
	if r.holdings, err = d.Holdings.List(ctx, u); err != nil {
		return nil, err
	}
	if r.moves, err = d.AssetTxs.All(ctx, u); err != nil {
		return nil, fmt.Errorf("read asset movements: %w", err)
	}
	if r.orders, err = d.Orders.AllByUser(ctx, u); err != nil {
		return nil, fmt.Errorf("read orders: %w", err)
	}
	return &r, nil
}

// sums accumulates decimals by key and remembers the keys in first-seen order.
type sums struct {
	m    map[string]decimal.Decimal
	keys []string
}

func (s *sums) add(k string, v decimal.Decimal) {
	if s.m == nil {
		s.m = map[string]decimal.Decimal{}
	}
	old, ok := s.m[k]
	if !ok {
		s.keys = append(s.keys, k)
		old = decimal.Zero
	}
	s.m[k] = old.Add(v)
}

func (s *sums) get(k string) decimal.Decimal {
	if v, ok := s.m[k]; ok {
		return v
	}
	return decimal.Zero
}

// orderRefs counts what references one order.
type orderRefs struct {
	settlements []*entity.BalanceTransaction // order_payment / order_sale
	moves       []*entity.AssetTransaction
	refunds     []*entity.BalanceTransaction // order_refund entries with an asset leg (reversals)
	pendingHold decimal.Decimal
}

type checker struct {
	user string
	recs *records
	out  []Violation

	orders map[string]*entity.Order
	refs   map[string]*orderRefs
}

func (c *checker) report(subject, format string, args ...any) {
	c.out = append(c.out, Violation{Username: c.user, Subject: subject, Problem: fmt.Sprintf(format, args...)})
}

func (c *checker) ref(orderID string) *orderRefs {
	r := c.refs[orderID]
	if r == nil {
		r = &orderRefs{pendingHold: decimal.Zero}
		c.refs[orderID] = r
	}
	return r
}

func (c *checker) check() {
	c.orders = make(map[string]*entity.Order, len(c.recs.orders))
	c.refs = make(map[string]*orderRefs)
	for _, o := range c.recs.orders {
		c.orders[o.OrderID] = o
	}
	// Open orders' holds, per currency (buy side) and asset (sell side).
	var heldCash, heldQty sums
	for _, o := range c.recs.orders {
		if !o.Status.IsOpen() {
			continue
		}
		if o.Side() == entity.Buy {
			heldCash.add(string(o.Currency), o.HeldAmount)
		} else {
			heldQty.add(o.AssetID, o.HeldQuantity)
		}
	}
	c.checkLedger(&heldCash)
	c.checkHoldings(&heldQty)
	c.checkOrders()
}

func txSubject(t *entity.BalanceTransaction) string { return "transaction " + t.TransactionID }

// checkLedger checks each entry and its references, then each balance
// against its entries and the open orders' holds.
func (c *checker) checkLedger(heldCash *sums) {
	var effect, holds sums
	for _, t := range c.recs.txs {
		subj := txSubject(t)
		if p := t.CheckAmount(); p != "" {
			c.report(subj, "%s", p)
		}
		if !t.Status.Valid() {
			c.report(subj, "unknown status %q", t.Status)
		}
		if !t.Currency.Valid() {
			c.report(subj, "unknown currency %q", t.Currency)
		}
		effect.add(string(t.Currency), t.Effect())
		holds.add(string(t.Currency), t.HoldEffect())
		c.checkTxReference(t)
	}

	seen := map[string]bool{}
	for _, b := range c.recs.balances {
		cur := string(b.Currency)
		seen[cur] = true
		subj := "balance " + cur
		if !b.Currency.Valid() {
			c.report(subj, "unknown currency")
		}
		m := func(d decimal.Decimal) string { return money(d, b.Currency) }
		if want := effect.get(cur); !b.CurrentBalance.Equal(want) {
			c.report(subj, "current_balance %s != %s, the sum of its completed ledger entries", m(b.CurrentBalance), m(want))
		}
		if want := holds.get(cur); !b.HeldBalance.Equal(want) {
			c.report(subj, "held_balance %s != %s, the sum of its pending order_hold entries", m(b.HeldBalance), m(want))
		}
		if want := heldCash.get(cur); !b.HeldBalance.Equal(want) {
			c.report(subj, "held_balance %s != %s, the held_amount of its open buy orders", m(b.HeldBalance), m(want))
		}
		if b.HeldBalance.IsNegative() {
			c.report(subj, "held_balance %s is negative", m(b.HeldBalance))
		}
		avail := b.Available()
		if avail.IsNegative() {
			c.report(subj, "available balance %s (current %s - held %s) is negative", m(avail), m(b.CurrentBalance), m(b.HeldBalance))
		}
		if !b.StoredAvailable.Equal(avail) {
			c.report(subj, "stored available %s != current_balance - held_balance = %s", m(b.StoredAvailable), m(avail))
		}
	}
	// Money recorded in a currency that has no balance item.
	for _, cur := range unionKeys(&effect, &holds, heldCash) {
		if seen[cur] {
			continue
		}
		e, h, o := effect.get(cur), holds.get(cur), heldCash.get(cur)
		if e.IsZero() && h.IsZero() && o.IsZero() {
			continue
		}
		m := func(d decimal.Decimal) string { return money(d, entity.Currency(cur)) }
		c.report("balance "+cur, "missing, but its completed ledger entries sum to %s, its pending holds to %s and its open buy orders hold %s", m(e), m(h), m(o))
	}
}

// checkTxReference checks the order an order-related entry references, and
// records settlements and holds for checkOrders.
func (c *checker) checkTxReference(t *entity.BalanceTransaction) {
	subj := txSubject(t)
	switch t.TransactionType {
	case entity.TxOrderPayment, entity.TxOrderSale:
		side := entity.Buy
		if t.TransactionType == entity.TxOrderSale {
			side = entity.Sell
		}
		o := c.orders[t.ReferenceID]
		switch {
		case t.ReferenceID == "":
			c.report(subj, "%s references no order", t.TransactionType)
		case o == nil:
			c.report(subj, "%s references order %s, which does not exist", t.TransactionType, t.ReferenceID)
		case o.Side() != side:
			c.report(subj, "%s references %s order %s", t.TransactionType, o.Side(), o.OrderID)
		case o.Status != entity.StatusCompleted:
			c.report(subj, "%s references order %s, which is %s, not completed", t.TransactionType, o.OrderID, o.Status)
		}
		if o != nil && o.Side() == side {
			r := c.ref(o.OrderID)
			r.settlements = append(r.settlements, t)
		}
	case entity.TxSystemAdjustment:
		if t.CreatedBy == "" || t.Description == "" {
			c.report(subj, "system_adjustment records no admin (%q) or no reason (%q)", t.CreatedBy, t.Description)
		}
	case entity.TxOrderRefund:
		if t.Asset != nil && t.CreatedBy == "" {
			c.report(subj, "reversal records no admin")
		}
		o, ok := c.orders[t.ReferenceID]
		if !ok {
			c.report(subj, "order_refund references order %q, which does not exist", t.ReferenceID)
			return
		}
		if t.Asset != nil {
			c.checkReversal(t, o)
			r := c.ref(o.OrderID)
			r.refunds = append(r.refunds, t)
		}
	case entity.TxOrderHold:
		o := c.orders[t.ReferenceID]
		switch {
		case o == nil:
			c.report(subj, "order_hold references order %q, which does not exist", t.ReferenceID)
			return
		case o.Side() != entity.Buy:
			c.report(subj, "order_hold references %s order %s (sell orders hold assets, not cash)", o.Side(), o.OrderID)
		case o.Currency != t.Currency:
			c.report(subj, "order_hold in %s references order %s in %s", t.Currency, o.OrderID, o.Currency)
		}
		pending := t.Status == entity.TxPending
		if open := o.Status.IsOpen(); pending != open {
			c.report(subj, "order_hold is %s but order %s is %s", t.Status, o.OrderID, o.Status)
		}
		if pending {
			r := c.ref(o.OrderID)
			r.pendingHold = r.pendingHold.Add(t.Amount)
		}
	}
}

// checkReversal checks the reversal entry t of order o.
func (c *checker) checkReversal(t *entity.BalanceTransaction, o *entity.Order) {
	subj := txSubject(t)
	want, side := o.TotalAmount, entity.Buy // a buy's payment comes back
	if t.Amount.IsNegative() {
		want, side = o.TotalAmount.Neg(), entity.Sell // a sale's proceeds go back
	}
	a := t.Asset
	switch {
	case o.Status != entity.StatusCompleted:
		c.report(subj, "reversal of order %s, which is %s, not completed", o.OrderID, o.Status)
	case o.Side() != side:
		c.report(subj, "reversal %s %s of %s order %s", money(t.Amount, t.Currency), t.Currency, o.Side(), o.OrderID)
	case !o.Reversed():
		c.report(subj, "reversal of order %s, whose status history records no reversal", o.OrderID)
	case t.Status != entity.TxCompleted:
		c.report(subj, "reversal is %s, not completed", t.Status)
	}
	if o.Status != entity.StatusCompleted {
		return
	}
	if !t.Amount.Equal(want) || t.Currency != o.Currency {
		c.report(subj, "reversal of order %s is %s %s, want %s %s", o.OrderID, money(t.Amount, t.Currency), t.Currency, money(want, o.Currency), o.Currency)
	}
	if a.AssetID != o.AssetID || !a.Quantity.Equal(o.ExecutedQuantity) || o.ExecutedPrice == nil || !a.Price.Equal(*o.ExecutedPrice) {
		c.report(subj, "reversal moves %s %s at %s, want the order's %s %s at its executed price", a.Quantity, a.AssetID, a.Price, o.ExecutedQuantity, o.AssetID)
	}
}

// checkHoldings checks each movement and each holding against its movements
// and the open orders' holds.
func (c *checker) checkHoldings(heldQty *sums) {
	var qty sums
	pos := map[string]*entity.Position{}
	for _, m := range c.recs.moves { // by asset, oldest first
		subj := "movement " + m.TransactionID
		p := pos[m.AssetID]
		if p == nil {
			p = &entity.Position{}
			pos[m.AssetID] = p
		}
		if m.SaleCost != nil && m.SaleCost.IsNegative() {
			c.report(subj, "sale cost %s is negative", m.SaleCost)
		}
		p.Apply(m)
		var side entity.Side // "" for an unknown type: no side to compare
		switch m.TransactionType {
		case entity.AssetBuy:
			side = entity.Buy
		case entity.AssetSell:
			side = entity.Sell
		case entity.AssetBuyReversal, entity.AssetSellReversal:
			// Checked with its ledger entry (checkReversal); it counts in
			// the holding's quantity and totals.
			qty.add(m.AssetID, m.Effect())
			if !m.Quantity.IsPositive() {
				c.report(subj, "quantity %s is not positive", m.Quantity)
			}
			continue
		default:
			c.report(subj, "unknown transaction type %q", m.TransactionType)
		}
		if !m.Quantity.IsPositive() {
			c.report(subj, "quantity %s is not positive", m.Quantity)
		}
		if !m.Status.Valid() {
			c.report(subj, "unknown status %q", m.Status)
		}
		qty.add(m.AssetID, m.Effect())
		if m.OrderID == "" {
			continue
		}
		o := c.orders[m.OrderID]
		switch {
		case o == nil:
			c.report(subj, "references order %s, which does not exist", m.OrderID)
			continue
		case o.Status != entity.StatusCompleted:
			c.report(subj, "references order %s, which is %s, not completed", o.OrderID, o.Status)
		case side != "" && o.Side() != side:
			c.report(subj, "%s movement references %s order %s", m.TransactionType, o.Side(), o.OrderID)
		case o.AssetID != m.AssetID:
			c.report(subj, "movement of %s references order %s of %s", m.AssetID, o.OrderID, o.AssetID)
		}
		if o.Side() == side {
			r := c.ref(o.OrderID)
			r.moves = append(r.moves, m)
		}
	}

	seen := map[string]bool{}
	for _, h := range c.recs.holdings {
		seen[h.AssetID] = true
		subj := "holding " + h.AssetID
		if want := qty.get(h.AssetID); !h.Quantity.Equal(want) {
			c.report(subj, "quantity %s != %s, bought minus sold in its completed movements", h.Quantity, want)
		}
		if h.Quantity.IsNegative() {
			c.report(subj, "quantity %s is negative", h.Quantity)
		}
		if h.HeldQuantity.IsNegative() {
			c.report(subj, "held_quantity %s is negative", h.HeldQuantity)
		}
		if h.HeldQuantity.GreaterThan(h.Quantity) {
			c.report(subj, "held_quantity %s exceeds quantity %s", h.HeldQuantity, h.Quantity)
		}
		if avail := h.Available(); !h.StoredAvailable.Equal(avail) {
			c.report(subj, "stored available_quantity %s != quantity - held_quantity = %s", h.StoredAvailable, avail)
		}
		if want := heldQty.get(h.AssetID); !h.HeldQuantity.Equal(want) {
			c.report(subj, "held_quantity %s != %s, the held_quantity of its open sell orders", h.HeldQuantity, want)
		}
		if h.Current {
			c.checkTotals(subj, h, pos[h.AssetID])
		}
	}
	for _, a := range unionKeys(&qty, heldQty) {
		if seen[a] {
			continue
		}
		q, o := qty.get(a), heldQty.get(a)
		if q.IsZero() && o.IsZero() {
			continue
		}
		c.report("holding "+a, "missing, but its completed movements sum to %s and its open sell orders hold %s", q, o)
	}
}

// checkTotals checks a holding's running totals against want, the position
// its movements imply (nil: no movements).
func (c *checker) checkTotals(subj string, h *dao.HoldingRecord, want *entity.Position) {
	if want == nil {
		want = &entity.Position{}
	}
	for _, f := range []struct {
		name      string
		got, want decimal.Decimal
	}{
		{"cost_basis", h.CostBasis, want.CostBasis},
		{"realized", h.Realized, want.Realized},
		{"fees", h.Fees, want.Fees},
		{"sold", h.Sold, want.Sold},
	} {
		if !f.got.Equal(f.want) {
			c.report(subj, "%s %s != %s, what its completed movements imply", f.name, f.got, f.want)
		}
	}
}

// checkOrders checks each order's status, history, holds and settlement.
func (c *checker) checkOrders() {
	for _, o := range c.recs.orders {
		subj := "order " + o.OrderID
		if !o.Status.Valid() {
			c.report(subj, "unknown status %q", o.Status)
		}
		if p := historyProblem(o); p != "" {
			c.report(subj, "%s", p)
		}
		r := c.refs[o.OrderID]
		if r == nil {
			r = &orderRefs{pendingHold: decimal.Zero}
		}
		switch {
		case o.Status.IsTerminal():
			if !o.HeldAmount.IsZero() || !o.HeldQuantity.IsZero() {
				c.report(subj, "%s order still holds held_amount %s and held_quantity %s", o.Status, money(o.HeldAmount, o.Currency), o.HeldQuantity)
			}
		case o.Side() == entity.Buy:
			if !o.HeldQuantity.IsZero() {
				c.report(subj, "buy order holds held_quantity %s", o.HeldQuantity)
			}
			if o.HeldAmount.IsNegative() {
				c.report(subj, "held_amount %s is negative", money(o.HeldAmount, o.Currency))
			}
			if !o.HeldAmount.Equal(r.pendingHold) {
				c.report(subj, "held_amount %s != %s, its pending order_hold entries", money(o.HeldAmount, o.Currency), money(r.pendingHold, o.Currency))
			}
		default:
			if !o.HeldAmount.IsZero() {
				c.report(subj, "sell order holds held_amount %s", money(o.HeldAmount, o.Currency))
			}
			if o.HeldQuantity.IsNegative() {
				c.report(subj, "held_quantity %s is negative", o.HeldQuantity)
			}
		}
		if o.Status == entity.StatusCompleted {
			c.checkSettlement(o, r)
		}
		switch n := len(r.refunds); {
		case n > 1:
			c.report(subj, "order is reversed %d times (%s), at most once", n, txIDs(r.refunds))
		case n == 0 && o.Reversed():
			c.report(subj, "status history records a reversal, but no order_refund entry reverses it")
		}
	}
}

// checkSettlement checks a completed order's payment or proceeds entry and
// its asset movement.
func (c *checker) checkSettlement(o *entity.Order, r *orderRefs) {
	subj := "order " + o.OrderID
	typ, want := entity.TxOrderPayment, o.TotalAmount.Neg()
	if o.Side() == entity.Sell {
		typ, want = entity.TxOrderSale, o.TotalAmount
	}
	switch n := len(r.settlements); n {
	case 0:
		c.report(subj, "completed order has no %s entry", typ)
	case 1:
		t := r.settlements[0]
		if t.TransactionType != typ || !t.Amount.Equal(want) || t.Currency != o.Currency {
			c.report(subj, "%s entry %s is %s %s %s, want %s %s %s", typ, t.TransactionID,
				t.TransactionType, money(t.Amount, t.Currency), t.Currency, typ, money(want, o.Currency), o.Currency)
		}
	default:
		c.report(subj, "completed order has %d settlement entries (%s), want one %s", n, txIDs(r.settlements), typ)
	}
	switch n := len(r.moves); n {
	case 0:
		c.report(subj, "completed order has no asset movement")
	case 1:
		m := r.moves[0]
		if !m.Quantity.Equal(o.ExecutedQuantity) {
			c.report(subj, "movement %s quantity %s != executed_quantity %s", m.TransactionID, m.Quantity, o.ExecutedQuantity)
		}
		if fee := entity.MovementFee(m); !fee.Equal(o.Fee) {
			c.report(subj, "movement %s fee %s != fee %s", m.TransactionID, money(fee, o.Currency), money(o.Fee, o.Currency))
		}
		c.checkFX(subj, o, m)
	default:
		ids := make([]string, len(r.moves))
		for i, m := range r.moves {
			ids[i] = m.TransactionID
		}
		c.report(subj, "completed order has %d asset movements (%s), want one", n, strings.Join(ids, ", "))
	}
}

// money formats a cash amount with at least c's decimal places and all of its
// own ("599.50", "0.00", "10.001").
func money(d decimal.Decimal, c entity.Currency) string {
	if d.Scale() < c.Scale() {
		return d.StringFixed(c.Scale())
	}
	return d.String()
}

// historyProblem describes what is wrong with o's status history, or "".
func historyProblem(o *entity.Order) string {
	h := o.StatusHistory
	if len(h) == 0 {
		return "status history is empty"
	}
	if h[0].Status != entity.StatusPending {
		return fmt.Sprintf("status history starts with %s, not pending", h[0].Status)
	}
	for i := 1; i < len(h); i++ {
		if h[i].IsNote(h[i-1].Status) {
			continue // an amendment or a reversal, not a transition
		}
		if !entity.CanTransition(h[i-1].Status, h[i].Status) {
			return fmt.Sprintf("status history moves from %s to %s, which the status machine forbids", h[i-1].Status, h[i].Status)
		}
	}
	if last := h[len(h)-1].Status; last != o.Status {
		return fmt.Sprintf("status history ends in %s but the order is %s", last, o.Status)
	}
	return ""
}

func txIDs(ts []*entity.BalanceTransaction) string {
	ids := make([]string, len(ts))
	for i, t := range ts {
		ids[i] = t.TransactionID
	}
	return strings.Join(ids, ", ")
}

// unionKeys returns the keys of every s, sorted, without duplicates.
func unionKeys(ss ...*sums) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.keys...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// checkFX checks the exchange rate of a completed order's fill: an order in
// another currency than USD records the positive rate it settled at, and
// its movement the same rate (the holding's totals count the fill at it); a
// USD order and its movement record none.
func (c *checker) checkFX(subj string, o *entity.Order, m *entity.AssetTransaction) {
	foreign := o.Currency != entity.USD
	switch {
	case foreign && (o.FXRate == nil || !o.FXRate.IsPositive()):
		c.report(subj, "completed %s order records no exchange rate", o.Currency)
	case !foreign && o.FXRate != nil:
		c.report(subj, "USD order records exchange rate %s", o.FXRate)
	case (m.FXRate == nil) != (o.FXRate == nil) || m.FXRate != nil && !m.FXRate.Equal(*o.FXRate):
		c.report(subj, "movement %s exchange rate %v != the order's %v", m.TransactionID, m.FXRate, o.FXRate)
	}
}
