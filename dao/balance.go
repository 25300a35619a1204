package dao

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/ids"
	"github.com/orderprocessor/orderprocessor/store"
)

// BalanceDAO stores cash balances and their ledger.
//
// A balance item keeps current, held and available (= current - held) as
// numbers changed only by ADD actions, so concurrent changes commute and a
// debit is guarded by the condition available >= amount in the store itself.
type BalanceDAO struct{ base }

// Balance attributes.
const (
	attrCurrent     = "current"
	attrHeld        = "held"
	attrAvailable   = "available"
	attrDeposits    = "total_deposits"
	attrWithdrawals = "total_withdrawals"
)

// ErrInsufficientFunds is returned when a debit exceeds the available balance.
var ErrInsufficientFunds = apperr.New(apperr.InsufficientFunds, "insufficient funds")

func (d *BalanceDAO) decode(it store.Item) (*entity.Balance, error) {
	r := reader{it: it}
	b := &entity.Balance{
		Username: r.str("username"), Currency: entity.Currency(r.str("currency")),
		CurrentBalance: r.dec(attrCurrent), HeldBalance: r.dec(attrHeld),
		TotalDeposits: r.dec(attrDeposits), TotalWithdrawals: r.dec(attrWithdrawals),
		CreatedAt: entity.At(r.time("created_at")), UpdatedAt: entity.At(r.time("updated_at")),
		Version: r.int("version"),
	}
	return b, r.err
}

// CreateWrite returns the write that creates an empty balance (fails if it exists).
func (d *BalanceDAO) CreateWrite(username string, c entity.Currency, now time.Time) store.Write {
	z := num(decimal.Zero)
	return putNew(d.t.balanceKey(username, string(c)), store.Item{
		"username": store.S(username), "currency": store.S(string(c)),
		attrCurrent: z, attrHeld: z, attrAvailable: z, attrDeposits: z, attrWithdrawals: z,
		"created_at": tsv(now), "updated_at": tsv(now), "version": store.Int(1),
	})
}

// Create stores an empty balance; a conflict error if it exists.
func (d *BalanceDAO) Create(ctx context.Context, username string, c entity.Currency, now time.Time) error {
	if err := d.s.Transact(ctx, []store.Write{d.CreateWrite(username, c, now)}); err != nil {
		if errors.Is(err, store.ErrConditionFailed) {
			return apperr.New(apperr.Conflict, "balance %s already exists", c)
		}
		return fmt.Errorf("create balance: %w", err)
	}
	return nil
}

// Get returns the balance or a not_found error.
func (d *BalanceDAO) Get(ctx context.Context, username string, c entity.Currency) (*entity.Balance, error) {
	it, err := d.s.Get(ctx, d.t.balanceKey(username, string(c)))
	if err != nil {
		return nil, notFound(err, "no %s balance", c)
	}
	return d.decode(it)
}

// List returns every balance of the user, by currency.
func (d *BalanceDAO) List(ctx context.Context, username string) ([]*entity.Balance, error) {
	items, err := d.userItems(ctx, d.t.Users, username, skBalance, 1000)
	if err != nil {
		return nil, fmt.Errorf("list balances: %w", err)
	}
	return decodeAll(items, d.decode)
}

// StoredBalance is a balance with its stored available attribute, which every
// balance write keeps equal to current - held (the verify command checks it).
type StoredBalance struct {
	*entity.Balance
	StoredAvailable decimal.Decimal
}

// ListStored is List with each balance's stored available attribute (verify).
func (d *BalanceDAO) ListStored(ctx context.Context, username string) ([]StoredBalance, error) {
	items, err := d.userItems(ctx, d.t.Users, username, skBalance, 1000)
	if err != nil {
		return nil, fmt.Errorf("list balances: %w", err)
	}
	out := make([]StoredBalance, 0, len(items))
	for _, it := range items {
		b, err := d.decode(it)
		if err != nil {
			return nil, err
		}
		r := reader{it: it}
		avail := r.dec(attrAvailable)
		if r.err != nil {
			return nil, r.err
		}
		out = append(out, StoredBalance{Balance: b, StoredAvailable: avail})
	}
	return out, nil
}

// Change is a signed change to one balance. Current and Held are deltas;
// available changes by Current - Held. Deposits and Withdrawals add to the
// lifetime totals.
type Change struct {
	Username    string
	Currency    entity.Currency
	Current     decimal.Decimal
	Held        decimal.Decimal
	Deposits    decimal.Decimal
	Withdrawals decimal.Decimal
}

// ChangeWrite returns the write that applies c at now. Whatever decreases is
// guarded: available >= the decrease of available, held >= the release of a
// hold. A credit creates the balance when it does not exist yet; a debit of a
// missing balance fails its condition. ChangeError interprets a failure.
func (d *BalanceDAO) ChangeWrite(c Change, now time.Time) store.Write {
	avail := c.Current.Sub(c.Held)
	ts := tsv(now)
	acts := make([]store.Action, 0, 10)
	acts = append(acts,
		store.Add(attrCurrent, num(c.Current)), store.Add(attrHeld, num(c.Held)),
		store.Add(attrAvailable, num(avail)), store.Add("version", store.Int(1)),
		store.Set("updated_at", ts), store.SetIfAbsent("created_at", ts),
		store.SetIfAbsent("username", store.S(c.Username)), store.SetIfAbsent("currency", store.S(string(c.Currency))))
	if !c.Deposits.IsZero() {
		acts = append(acts, store.Add(attrDeposits, num(c.Deposits)))
	} else {
		acts = append(acts, store.SetIfAbsent(attrDeposits, num(decimal.Zero)))
	}
	if !c.Withdrawals.IsZero() {
		acts = append(acts, store.Add(attrWithdrawals, num(c.Withdrawals)))
	} else {
		acts = append(acts, store.SetIfAbsent(attrWithdrawals, num(decimal.Zero)))
	}
	var conds []*store.Cond
	if avail.IsNegative() {
		conds = append(conds, store.Ge(attrAvailable, num(avail.Neg())))
	}
	if c.Held.IsNegative() {
		conds = append(conds, store.Ge(attrHeld, num(c.Held.Neg())))
	}
	var cond *store.Cond
	switch len(conds) {
	case 1:
		cond = conds[0]
	case 2:
		cond = store.And(conds...)
	}
	return store.Write{Update: &store.Update{Key: d.t.balanceKey(c.Username, string(c.Currency)), Actions: acts, Cond: cond}}
}

// TxItem returns the item of a ledger entry.
func (d *BalanceDAO) txItem(t *entity.BalanceTransaction) store.Item {
	// Sized for the thirteen attributes of a USD entry: a literal of seven
	// makes a map that the optional ones would outgrow (a rehash per ledger
	// entry). A fill in another currency adds fx_rate (a fourteenth: one
	// rehash for those only; a hint of fourteen costs every entry an
	// allocation).
	it := make(store.Item, 13)
	it["transaction_id"] = store.S(t.TransactionID)
	it["username"] = store.S(t.Username)
	it["transaction_type"] = store.S(string(t.TransactionType))
	it["amount"] = num(t.Amount)
	it["currency"] = store.S(string(t.Currency))
	it["status"] = store.S(string(t.Status))
	it["created_at"] = tsv(t.CreatedAt.Time)
	if t.Description != "" {
		it["description"] = store.S(t.Description)
	}
	if t.ReferenceID != "" {
		it["reference_id"] = store.S(t.ReferenceID)
	}
	if t.CreatedBy != "" {
		it["created_by"] = store.S(t.CreatedBy)
	}
	if a := t.Asset; a != nil {
		it["asset_id"], it["quantity"], it["price"] = store.S(a.AssetID), num(a.Quantity), num(a.Price)
		if a.SaleCost != nil {
			it[attrSaleCost] = num(*a.SaleCost)
		}
		if a.FXRate != nil {
			it[attrFXRate] = num(*a.FXRate)
		}
	}
	return it
}

// attrSaleCost is the cost basis a sale's entry records (entity.AssetLeg).
const attrSaleCost = "sale_cost"

// attrFXRate is the exchange rate a fill in another currency than USD
// settled at (entity.AssetLeg.FXRate).
const attrFXRate = "fx_rate"

func decodeTx(it store.Item) (*entity.BalanceTransaction, error) {
	r := reader{it: it}
	t := &entity.BalanceTransaction{
		TransactionID: r.str("transaction_id"), Username: r.str("username"),
		TransactionType: entity.TransactionType(r.str("transaction_type")), Amount: r.dec("amount"),
		Currency: entity.Currency(r.str("currency")), Status: entity.TransactionStatus(r.str("status")),
		Description: r.str("description"), ReferenceID: r.str("reference_id"),
		CreatedBy: r.str("created_by"), CreatedAt: entity.At(r.time("created_at")),
	}
	if _, ok := it["asset_id"]; ok {
		t.Asset = &entity.AssetLeg{AssetID: r.str("asset_id"), Quantity: r.dec("quantity"), Price: r.dec("price")}
		if _, ok := it[attrSaleCost]; ok {
			c := r.dec(attrSaleCost)
			t.Asset.SaleCost = &c
		}
		if _, ok := it[attrFXRate]; ok {
			fx := r.dec(attrFXRate)
			t.Asset.FXRate = &fx
		}
	}
	return t, r.err
}

// TransactionWrite returns the write that records a new ledger entry.
func (d *BalanceDAO) TransactionWrite(t *entity.BalanceTransaction) store.Write {
	return putFresh(d.t.txKey(t.Username, t.TransactionID), d.txItem(t))
}

// CreateTransaction records a ledger entry on its own (entries that move
// money are written with their balance change: see ChangeWrite).
func (d *BalanceDAO) CreateTransaction(ctx context.Context, t *entity.BalanceTransaction) error {
	if err := d.s.Transact(ctx, []store.Write{d.TransactionWrite(t)}); err != nil {
		return fmt.Errorf("create transaction: %w", err)
	}
	return nil
}

// GetTransaction returns one ledger entry or a not_found error.
func (d *BalanceDAO) GetTransaction(ctx context.Context, username, id string) (*entity.BalanceTransaction, error) {
	it, err := d.s.Get(ctx, d.t.txKey(username, id))
	if err != nil {
		return nil, notFound(err, "transaction not found")
	}
	return decodeTx(it)
}

// Settlement returns the fill entry (order_payment or order_sale with its
// asset leg) of the order orderID that executed at executedAt: it reads the
// ledger's entries of the two seconds around that time (a fill's entry id
// is made at its execution), not the whole ledger. A not_found error when
// there is none.
func (d *BalanceDAO) Settlement(ctx context.Context, username, orderID string, executedAt time.Time) (*entity.BalanceTransaction, error) {
	q := store.Query{Table: d.t.Users, PK: userPK(username), Limit: store.MaxQueryLimit,
		SK: store.SortCond{Op: store.SortBetween, Value: skTx + ids.MinAt(executedAt.Add(-time.Second)),
			Value2: skTx + ids.MaxAt(executedAt.Add(time.Second))}}
	for {
		p, err := d.s.Query(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("read settlement of %s: %w", orderID, err)
		}
		for _, it := range p.Items {
			if isFill(it) && it.Str("reference_id") == orderID {
				return decodeTx(it)
			}
		}
		if p.Cursor == "" {
			return nil, apperr.New(apperr.NotFound, "no settlement entry of order %s", orderID)
		}
		q.Cursor = p.Cursor
	}
}

// HoldAmountWrite returns the write that changes the amount of a pending
// order_hold entry from old to amount (an amended order's hold), with its
// new description; it fails unless the entry is pending at old.
func (d *BalanceDAO) HoldAmountWrite(username, id string, old, amount decimal.Decimal, description string) store.Write {
	return store.Write{Update: &store.Update{Key: d.t.txKey(username, id),
		Actions: []store.Action{store.Set("amount", num(amount)), store.Set("description", store.S(description))},
		Cond:    store.And(store.Eq("status", store.S(string(entity.TxPending))), store.Eq("amount", num(old)))}}
}

// TransactionStatusWrite returns the write that moves a ledger entry from
// status from to status to (fails if it is not in from).
func (d *BalanceDAO) TransactionStatusWrite(username, id string, from, to entity.TransactionStatus) store.Write {
	return store.Write{Update: &store.Update{Key: d.t.txKey(username, id),
		Actions: []store.Action{store.Set("status", store.S(string(to)))},
		Cond:    store.Eq("status", store.S(string(from)))}}
}

// UpdateTransactionStatus moves a ledger entry from one status to another;
// a conflict error when it is not in from.
func (d *BalanceDAO) UpdateTransactionStatus(ctx context.Context, username, id string, from, to entity.TransactionStatus) error {
	if err := d.s.Transact(ctx, []store.Write{d.TransactionStatusWrite(username, id, from, to)}); err != nil {
		if errors.Is(err, store.ErrConditionFailed) {
			return apperr.New(apperr.Conflict, "transaction %s is not %s", id, from)
		}
		return fmt.Errorf("update transaction status: %w", err)
	}
	return nil
}

// TxFilter selects ledger entries.
type TxFilter struct {
	Type     entity.TransactionType // "" for all
	Currency entity.Currency        // "" for all
	Limit    int
	Cursor   string
}

func (f TxFilter) match(it store.Item) bool {
	return (f.Type == "" || it.Str("transaction_type") == string(f.Type)) &&
		(f.Currency == "" || it.Str("currency") == string(f.Currency))
}

// ListTransactions returns the user's ledger entries newest first, filtered,
// and the cursor of the next page ("" at the end).
func (d *BalanceDAO) ListTransactions(ctx context.Context, username string, f TxFilter) ([]*entity.BalanceTransaction, string, error) {
	q := store.Query{Table: d.t.Users, PK: userPK(username), Desc: true, Cursor: f.Cursor,
		SK: store.SortCond{Op: store.SortBeginsWith, Value: skTx}}
	items, next, err := d.filterPage(ctx, q, max(f.Limit, 1), 5000, f.match)
	if err != nil {
		return nil, "", fmt.Errorf("list transactions: %w", err)
	}
	out, err := decodeAll(items, decodeTx)
	if err != nil {
		return nil, "", err
	}
	return out, next, nil
}

// CountTransactions counts the user's ledger entries that match f (Limit and
// Cursor ignored) among the newest maxScan entries. It reads a page at a time
// and keeps none: its memory does not grow with maxScan.
func (d *BalanceDAO) CountTransactions(ctx context.Context, username string, f TxFilter, maxScan int) (int, error) {
	q := store.Query{Table: d.t.Users, PK: userPK(username), Desc: true,
		SK: store.SortCond{Op: store.SortBeginsWith, Value: skTx}}
	n, scanned := 0, 0
	for scanned < maxScan {
		q.Limit = min(maxScan-scanned, store.MaxQueryLimit)
		p, err := d.s.Query(ctx, q)
		if err != nil {
			return 0, fmt.Errorf("count transactions: %w", err)
		}
		scanned += len(p.Items)
		for _, it := range p.Items {
			if f.match(it) {
				n++
			}
		}
		if p.Cursor == "" {
			break
		}
		q.Cursor = p.Cursor
	}
	return n, nil
}

// AllTransactions returns every ledger entry of the user, oldest first (verify).
func (d *BalanceDAO) AllTransactions(ctx context.Context, username string) ([]*entity.BalanceTransaction, error) {
	items, err := d.userItems(ctx, d.t.Users, username, skTx, 1<<30)
	if err != nil {
		return nil, err
	}
	return decodeAll(items, decodeTx)
}

// DailyLimitKeep is how long a daily cash total is kept after its day ends
// (time to live, both engines).
const DailyLimitKeep = 48 * time.Hour

// DailyLimitWrite returns the write that adds usd (the exact USD value of
// a deposit or withdrawal in any currency) to the user's daily total of kind
// ("deposit" or "withdraw") on the UTC day of day, failing its condition
// when the total would exceed limit (in USD). One item holds the total of
// all currencies: DAILY#<kind>#USD#<YYYY-MM-DD>, expiring DailyLimitKeep
// after the day.
func (d *BalanceDAO) DailyLimitWrite(username, kind string, day time.Time, usd, limit decimal.Decimal) store.Write {
	start := Day.Truncate(day)
	k := store.Key{Table: d.t.Users, PK: userPK(username), SK: "DAILY#" + kind + "#USD#" + start.Format(time.DateOnly)}
	room := limit.Sub(usd)
	cond := store.Or(store.AttrNotExists("total"), store.Le("total", num(room)))
	if room.IsNegative() {
		// usd alone exceeds the limit: fail even on the day's first write
		// (a comparison with an absent total is false).
		cond = store.Le("total", num(room))
	}
	expires := start.AddDate(0, 0, 1).Add(DailyLimitKeep).Unix()
	return store.Write{Update: &store.Update{Key: k, Cond: cond, Actions: []store.Action{store.Add("total", num(usd)),
		store.SetIfAbsent(store.DefaultTTLAttribute, store.Int(expires))}}}
}
