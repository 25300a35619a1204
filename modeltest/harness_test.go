package modeltest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/store/embedded"
	"github.com/orderprocessor/orderprocessor/testenv/fakeclock"
	"github.com/orderprocessor/orderprocessor/trading"
	"github.com/orderprocessor/orderprocessor/verify"
)

// noSuchOrder is a well-formed order id that names no order.
const noSuchOrder = "01NOSUCHORDER0000000000000"

// engine is the real trading layer on an embedded store of its own.
type engine struct {
	ctx   context.Context
	d     *dao.DAOs
	s     *trading.Service
	clock *fakeclock.Clock
}

// newEngine opens a store in a temporary directory with the model's assets
// and users (no cash yet) and a service with the model's rules.
func newEngine(t testing.TB, feeRate decimal.Decimal) *engine {
	t.Helper()
	db, err := embedded.Open(storeDir(t), dao.DefaultTables.Schemas(),
		embedded.Options{Logger: slog.New(slog.DiscardHandler), CacheSize: 1 << 20, MemTableSize: 4 << 20, LockStripes: 64})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	c := fakeclock.New(startTime)
	d := trading.NewDAOs(db, dao.DefaultTables)
	cfg := trading.Config{DepositDailyLimit: depositLimit, WithdrawDailyLimit: withdrawLimit, FeeRate: feeRate}
	e := &engine{ctx: context.Background(), d: d, clock: c,
		s: trading.New(d, cfg, trading.Options{Now: c.Now, Logger: slog.New(slog.DiscardHandler)})}
	now := entity.At(startTime)
	for a, id := range assetIDs {
		if err := d.Assets.Create(e.ctx, &entity.Asset{AssetID: id, Name: id, PriceUSD: decimal.MustParse(assetPrices[a]),
			IsActive: true, LastUpdated: now, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range usernames {
		u := &entity.User{Username: name, Email: name + "@example.com", FirstName: "A", LastName: "B",
			Role: entity.RoleCustomer, IsActive: true, CreatedAt: now, UpdatedAt: now, Version: 1}
		if err := d.Users.Create(e.ctx, u, d.Balances.CreateWrite(name, entity.USD, startTime)); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// storeDir returns a fresh directory for one input's store, removed at the
// end of the test: on /dev/shm when the machine has it (the engine syncs
// every commit, and durability is not what these tests check: a tmpfs makes
// them about three times faster), else in t.TempDir().
func storeDir(t testing.TB) string {
	dir, err := os.MkdirTemp("/dev/shm", "modeltest-")
	if err != nil {
		return t.TempDir()
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// result is what the engine did for one step.
type result struct {
	err     error
	orderID string // the order a placement stored
	n       int    // OnPrice's or ExpireDue's count
}

func idOf(m *model, i int) string {
	if i < 0 {
		return noSuchOrder
	}
	return m.orders[i].id
}

// apply runs step s on the engine (m supplies the ids of the orders s names).
func (e *engine) apply(m *model, s step) result {
	user := usernames[s.user]
	switch s.kind {
	case opDeposit:
		amt := s.amount
		_, _, err := e.s.Deposit(e.ctx, user, entity.DepositRequest{Amount: &amt}, nil)
		return result{err: err}
	case opWithdraw:
		amt := s.amount
		_, _, err := e.s.Withdraw(e.ctx, user, entity.WithdrawRequest{Amount: &amt}, nil)
		return result{err: err}
	case opCancel:
		o, err := e.d.Orders.Get(e.ctx, user, idOf(m, s.target))
		if err != nil {
			return result{err: err}
		}
		_, err = e.s.CancelOrder(e.ctx, o)
		return result{err: err}
	case opTick:
		id := assetIDs[s.asset]
		if _, err := e.d.Assets.SetPrice(e.ctx, id, s.price, e.clock.Now()); err != nil {
			return result{err: fmt.Errorf("set price: %w", err)}
		}
		n, err := e.s.OnPrice(e.ctx, id, s.price)
		return result{err: err, n: n}
	case opExpire:
		e.clock.Advance(s.advance)
		n, err := e.s.ExpireDue(e.ctx, e.clock.Now(), expiryLookbackDays)
		return result{err: err, n: n}
	case opWait:
		e.clock.Advance(s.advance)
		return result{}
	}
	r := s.order
	qty := r.qty
	req := entity.OrderCreate{OrderType: r.typ, AssetID: assetIDs[r.asset], Quantity: &qty,
		LimitPrice: r.limit, StopPrice: r.stop, TrailPercent: r.trailPct, TrailAmount: r.trailAmt, TimeInForce: r.tif}
	if r.expiresAt != nil {
		req.ExpiresAt = entity.TimePtr(*r.expiresAt)
	}
	if r.hasOCO {
		req.OCOWith = idOf(m, r.oco)
	}
	p, _, err := e.s.PlaceOrder(e.ctx, user, req, "", nil)
	if err != nil {
		return result{err: err}
	}
	return result{orderID: p.Order.OrderID}
}

// setup funds alice and bob and gives them positions to sell, through the
// same steps as the sequences (so both sides see them).
var setup = []step{
	{kind: opDeposit, user: 0, amount: decimal.FromInt(5000), target: -1},
	{kind: opDeposit, user: 1, amount: decimal.FromInt(5000), target: -1},
	{kind: opMarketBuy, user: 0, target: -1, order: orderReq{typ: entity.MarketBuy, asset: 0, qty: decimal.FromInt(10), tif: entity.GTC, oco: -1}},
	{kind: opMarketBuy, user: 0, target: -1, order: orderReq{typ: entity.MarketBuy, asset: 1, qty: decimal.FromInt(1000), tif: entity.GTC, oco: -1}},
	{kind: opMarketBuy, user: 1, target: -1, order: orderReq{typ: entity.MarketBuy, asset: 0, qty: decimal.FromInt(5), tif: entity.GTC, oco: -1}},
}

// runner drives one input through the model and the engine.
type runner struct {
	t   testing.TB
	m   *model
	e   *engine
	log []string
}

func (r *runner) fatalf(format string, args ...any) {
	r.t.Helper()
	r.t.Fatalf("after step %d: %s\nsequence%s", len(r.log)-1, fmt.Sprintf(format, args...), r.sequence())
}

// sequence lists the steps run so far.
func (r *runner) sequence() string {
	var b strings.Builder
	fmt.Fprintf(&b, " (fee rate %s):", r.m.feeRate)
	for i, l := range r.log {
		fmt.Fprintf(&b, "\n  %2d %s", i, l)
	}
	return b.String()
}

// run decodes data and checks the engine against the model after each step,
// and the ledger invariants at the end.
func run(t testing.TB, data []byte) {
	t.Helper()
	fee := feeRates[0]
	if len(data) > 0 {
		fee = pick(feeRates, data[0])
		data = data[1:]
	}
	r := &runner{t: t, m: newModel(fee), e: newEngine(t, fee)}
	for _, s := range setup {
		r.do(s)
	}
	for i := 0; i+opBytes <= len(data) && i/opBytes < maxOps; i += opBytes {
		r.do(r.m.decode(data[i : i+opBytes]))
	}
	rep, err := verify.Run(r.e.ctx, r.e.d)
	if err != nil {
		r.fatalf("verify: %v", err)
	}
	if !rep.OK() {
		r.fatalf("ledger invariants violated: %v%s", rep.Violations, r.ledgers(rep.Violations))
	}
}

// ledgers lists the ledger entries of the users with violations.
func (r *runner) ledgers(vs []verify.Violation) string {
	var b strings.Builder
	seen := map[string]bool{}
	for _, v := range vs {
		if seen[v.Username] {
			continue
		}
		seen[v.Username] = true
		txs, err := r.e.d.Balances.AllTransactions(r.e.ctx, v.Username)
		if err != nil {
			fmt.Fprintf(&b, "\nledger of %s: %v", v.Username, err)
			continue
		}
		fmt.Fprintf(&b, "\nledger of %s:", v.Username)
		for _, t := range txs {
			fmt.Fprintf(&b, "\n  %s %s %s %s %q", t.TransactionID, t.TransactionType, t.Amount, t.Status, t.Description)
		}
	}
	return b.String()
}

func kindOf(err error) apperr.Kind {
	if err == nil {
		return ""
	}
	return apperr.KindOf(err)
}

// do applies s to both sides and compares them.
func (r *runner) do(s step) {
	r.t.Helper()
	r.log = append(r.log, s.String())
	var want outcome
	switch s.kind {
	case opDeposit:
		want = r.m.deposit(s.user, s.amount)
	case opWithdraw:
		want = r.m.withdraw(s.user, s.amount)
	case opCancel:
		want = r.m.cancel(s.user, s.target)
	case opTick:
		want = r.m.tick(s.asset, s.price)
	case opExpire:
		want = r.m.expire(s.advance)
	case opWait:
		r.m.now = r.m.now.Add(s.advance)
		want = ok
	default:
		want = r.m.place(s.user, s.order)
	}
	got := r.e.apply(r.m, s)
	r.countOutcome(s, want)
	if os.Getenv("MODELTEST_TRACE") != "" {
		r.t.Logf("%s => %q %v", s, want.kind, got.err)
	}
	if k := kindOf(got.err); k != want.kind || k == apperr.Internal {
		r.fatalf("error kind %q (%v), model says %q", k, got.err, want.kind)
	}
	if want.order >= 0 {
		r.m.orders[want.order].id = got.orderID
		r.log[len(r.log)-1] += fmt.Sprintf(" -> #%d", want.order)
	}
	for _, pair := range want.pairs {
		// Either order of a pair that fired together may win.
		o, err := r.e.d.Orders.Get(r.e.ctx, usernames[r.m.orders[pair[0]].user], r.m.orders[pair[0]].id)
		if err != nil {
			r.fatalf("read order #%d: %v", pair[0], err)
		}
		if o.Status == entity.StatusCancelled {
			r.m.swapWinner(pair)
		}
	}
	if (s.kind == opTick || s.kind == opExpire) && len(want.pairs) == 0 && got.n != want.fired {
		r.fatalf("engine ended %d orders, model %d", got.n, want.fired)
	}
	r.compare()
	if r.m.bug != "" {
		r.t.Skipf("BUG: %s; after step %d of:%s", r.m.bug, len(r.log)-1, r.sequence())
	}
}

func eqPtr(a, b *decimal.Decimal) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

func fmtPtr(d *decimal.Decimal) string {
	if d == nil {
		return "nil"
	}
	return d.String()
}

// compare checks every balance, holding and order of the engine against the model.
func (r *runner) compare() {
	r.t.Helper()
	ctx, d, m := r.e.ctx, r.e.d, r.m
	for u, name := range usernames {
		mu := &m.users[u]
		b, err := d.Balances.Get(ctx, name, entity.USD)
		if err != nil {
			r.fatalf("balance of %s: %v", name, err)
		}
		if !b.CurrentBalance.Equal(mu.cash) || !b.HeldBalance.Equal(mu.held) {
			r.fatalf("%s cash current %s held %s, model %s / %s", name, b.CurrentBalance, b.HeldBalance, mu.cash, mu.held)
		}
		for a, id := range assetIDs {
			mh := mu.holdings[a]
			h, err := d.Holdings.Get(ctx, name, id)
			switch {
			case apperr.Is(err, apperr.NotFound):
				if mh.exists {
					r.fatalf("%s has no %s holding, model %s / %s", name, id, mh.qty, mh.held)
				}
			case err != nil:
				r.fatalf("holding %s/%s: %v", name, id, err)
			case !mh.exists:
				r.fatalf("%s has a %s holding (%s / %s), model none", name, id, h.Quantity, h.HeldQuantity)
			case !h.Quantity.Equal(mh.qty) || !h.HeldQuantity.Equal(mh.held):
				r.fatalf("%s %s quantity %s held %s, model %s / %s", name, id, h.Quantity, h.HeldQuantity, mh.qty, mh.held)
			}
		}
		all, err := d.Orders.AllByUser(ctx, name)
		if err != nil {
			r.fatalf("orders of %s: %v", name, err)
		}
		if len(all) != len(mu.orders) {
			r.fatalf("%s has %d orders, model %d", name, len(all), len(mu.orders))
		}
		byID := make(map[string]*entity.Order, len(all))
		for _, o := range all {
			byID[o.OrderID] = o
		}
		for _, i := range mu.orders {
			mo := m.orders[i]
			o := byID[mo.id]
			if o == nil {
				r.fatalf("order #%d (%s) of %s missing", i, mo.id, name)
			}
			if p := r.orderDiff(mo, o); p != "" {
				r.fatalf("order #%d %s: %s", i, mo.typ, p)
			}
		}
	}
}

// orderDiff describes how stored order o differs from model order mo ("" if not).
func (r *runner) orderDiff(mo *mOrder, o *entity.Order) string {
	var diffs []string
	add := func(field string, got, want any) {
		diffs = append(diffs, fmt.Sprintf("%s %v, model %v", field, got, want))
	}
	if o.Status != mo.status {
		add("status", o.Status, mo.status)
	}
	if !eqPtr(o.ExecutedPrice, mo.execPrice) {
		add("executed_price", fmtPtr(o.ExecutedPrice), fmtPtr(mo.execPrice))
	}
	for _, f := range []struct {
		name      string
		got, want decimal.Decimal
	}{
		{"executed_quantity", o.ExecutedQuantity, mo.execQty}, {"total_amount", o.TotalAmount, mo.total},
		{"fee", o.Fee, mo.fee}, {"held_amount", o.HeldAmount, mo.heldAmount}, {"held_quantity", o.HeldQuantity, mo.heldQty},
	} {
		if !f.got.Equal(f.want) {
			add(f.name, f.got, f.want)
		}
	}
	if mo.typ == entity.TrailingStop && !eqPtr(o.HighWaterMark, mo.hwm) {
		add("high_water_mark", fmtPtr(o.HighWaterMark), fmtPtr(mo.hwm))
	}
	wantOCO := ""
	if mo.oco >= 0 {
		wantOCO = r.m.orders[mo.oco].id
	}
	if o.OCOWith != wantOCO {
		add("oco_with", o.OCOWith, wantOCO)
	}
	switch {
	case (o.ExpiresAt == nil) != (mo.expiresAt == nil):
		add("expires_at", o.ExpiresAt, mo.expiresAt)
	case o.ExpiresAt != nil && !o.ExpiresAt.Equal(*mo.expiresAt):
		add("expires_at", o.ExpiresAt, mo.expiresAt)
	}
	return strings.Join(diffs, "; ")
}

// outcomes counts the steps run by kind and expected outcome (logged by
// TestModelSequences with -v, to show what the sequences reach).
var outcomes = struct {
	sync.Mutex
	n map[string]int
}{n: map[string]int{}}

func (r *runner) countOutcome(s step, want outcome) {
	k := s.kind.String() + ": "
	switch {
	case want.kind != "":
		k += string(want.kind)
	case want.order >= 0:
		k += string(r.m.orders[want.order].status)
	case s.kind == opTick || s.kind == opExpire:
		k += fmt.Sprintf("%d ended", min(want.fired, 2))
		if len(want.pairs) > 0 {
			k += ", oco pair fired together"
		}
	default:
		k += "ok"
	}
	outcomes.Lock()
	outcomes.n[k]++
	outcomes.Unlock()
}
