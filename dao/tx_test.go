package dao_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/store"
	"github.com/orderprocessor/orderprocessor/testenv"
)

// txWrite is a distinct write of test key k.
func txWrite(k string) store.Write {
	return store.Write{Check: &store.Check{Key: store.Key{Table: "t", PK: k, SK: k}, Cond: store.ItemExists()}}
}

// canceledAt is the cancellation of tx where the writes of keys failed
// their condition (and the others' held).
func canceledAt(tx *dao.Tx, keys ...string) error {
	ws := tx.Writes()
	reasons := make([]error, len(ws))
	for i, w := range ws {
		if slices.Contains(keys, w.Key().PK) {
			reasons[i] = fmt.Errorf("%s: %w", w.Key(), store.ErrConditionFailed)
		}
	}
	return &store.TxCanceledError{Reasons: reasons}
}

func TestTx(t *testing.T) {
	var tx dao.Tx
	if tx.Len() != 0 || tx.Writes() != nil {
		t.Fatalf("zero Tx: %d writes %v", tx.Len(), tx.Writes())
	}
	tx.Add(dao.RoleBalance, txWrite("balance"))
	tx.Add(dao.RoleLedger, txWrite("ledger"))
	tx.Add(dao.RoleHolding, txWrite("holding"))
	tx.Add(dao.RoleDailyLimit, txWrite("limit"))
	var keys []string
	for _, w := range tx.Writes() {
		keys = append(keys, w.Key().PK)
	}
	if tx.Len() != 4 || !slices.Equal(keys, []string{"balance", "ledger", "holding", "limit"}) {
		t.Fatalf("writes %v, want them in the order added", keys)
	}

	for _, tc := range []struct {
		name       string
		err        error
		precedence []dao.Role
		want       dao.Role
		ok         bool
	}{
		{"one", canceledAt(&tx, "holding"), nil, dao.RoleHolding, true},
		{"first added without precedence", canceledAt(&tx, "limit", "balance"), nil, dao.RoleBalance, true},
		{"precedence wins", canceledAt(&tx, "limit", "balance"), []dao.Role{dao.RoleDailyLimit, dao.RoleBalance}, dao.RoleDailyLimit, true},
		{"outside the precedence", canceledAt(&tx, "ledger"), []dao.Role{dao.RoleBalance}, dao.RoleLedger, true},
		{"wrapped", fmt.Errorf("transact: %w", canceledAt(&tx, "ledger")), nil, dao.RoleLedger, true},
		{"conflict only", &store.TxCanceledError{Reasons: []error{nil, store.ErrTxConflict, nil, nil}}, nil, dao.RoleNone, false},
		{"not a cancellation", store.ErrConditionFailed, nil, dao.RoleNone, false},
		{"nil", nil, nil, dao.RoleNone, false},
	} {
		if r, ok := tx.Failed(tc.err, tc.precedence...); r != tc.want || ok != tc.ok {
			t.Errorf("%s: Failed = %v, %v; want %v, %v", tc.name, r, ok, tc.want, tc.ok)
		}
	}

	errFunds, errLimit := errors.New("funds"), errors.New("limit")
	refusals := []dao.Refusal{{Role: dao.RoleBalance, Err: errFunds}, {Role: dao.RoleDailyLimit, Err: errLimit}}
	for _, tc := range []struct {
		err  error
		want error
	}{
		{canceledAt(&tx, "limit"), errLimit},
		{canceledAt(&tx, "limit", "balance"), errFunds},
		{canceledAt(&tx, "ledger"), nil},
		{errors.New("other"), nil},
	} {
		if got := tx.Refused(tc.err, refusals...); got != tc.want {
			t.Errorf("Refused(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	if dao.RoleClientOrderID.String() != "client_order_id" || dao.Role(200).String() != "role(200)" {
		t.Errorf("role names %q %q", dao.RoleClientOrderID, dao.Role(200))
	}
}

// TestTxOrder: under SetTxOrder, Writes returns the writes permuted and
// every failure still maps to the role of its write.
func TestTxOrder(t *testing.T) {
	restore := dao.SetTxOrder(func(n int) []int {
		p := make([]int, n)
		for i := range p {
			p[i] = n - 1 - i
		}
		return p
	})
	defer restore()
	var tx dao.Tx
	for _, k := range []string{"a", "b", "c"} {
		tx.Add(map[string]dao.Role{"a": dao.RoleOrder, "b": dao.RoleClientOrderID, "c": dao.RoleIdem}[k], txWrite(k))
	}
	var keys []string
	for _, w := range tx.Writes() {
		keys = append(keys, w.Key().PK)
	}
	if !slices.Equal(keys, []string{"c", "b", "a"}) {
		t.Fatalf("writes %v, want them reversed", keys)
	}
	for k, want := range map[string]dao.Role{"a": dao.RoleOrder, "b": dao.RoleClientOrderID, "c": dao.RoleIdem} {
		if r, ok := tx.Failed(canceledAt(&tx, k)); !ok || r != want {
			t.Errorf("write %s failed: Failed = %v, %v; want %v", k, r, ok, want)
		}
	}
}

// TestDAORefusalsInAnyOrder: the DAOs' transactions map each failed
// condition to the same error whatever the order of their writes.
func TestDAORefusalsInAnyOrder(t *testing.T) {
	testenv.InEveryTxOrder(t, 1, func(t *testing.T) {
		d := newDAOs(t)
		ctx := context.Background()
		now := t0
		create := func(name, email string) error {
			return d.Users.Create(ctx, newUser(name, email), d.Balances.CreateWrite(name, entity.USD, now))
		}
		if err := create("alice", "alice@example.com"); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name, email string
			want        error
		}{
			{"alice", "other@example.com", dao.ErrUsernameTaken},
			{"bobby1", "alice@example.com", dao.ErrEmailTaken},
			{"alice", "alice@example.com", dao.ErrUsernameTaken}, // the username first
		} {
			if err := create(tc.name, tc.email); !errors.Is(err, tc.want) {
				t.Errorf("create %s %s: %v, want %v", tc.name, tc.email, err, tc.want)
			}
		}
		if err := create("carol1", "carol@example.com"); err != nil {
			t.Fatal(err)
		}
		carol, err := d.Users.GetByUsername(ctx, "carol1")
		if err != nil {
			t.Fatal(err)
		}
		carol.Email = "bobby1@example.com"
		if err := create("bobby1", "bobby1@example.com"); err != nil {
			t.Fatal(err)
		}
		if err := d.Users.Update(ctx, carol, "carol@example.com", now); !errors.Is(err, dao.ErrEmailTaken) {
			t.Errorf("update carol to bobby1's email: %v, want %v", err, dao.ErrEmailTaken)
		}

		o := &entity.Order{OrderID: "o1", Username: "alice", ClientOrderID: "c1", OrderType: entity.MarketBuy,
			AssetID: "XYZ", Quantity: dec("1"), Status: entity.StatusPending, Version: 1}
		if err := d.Orders.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
		o2 := *o
		o2.OrderID = "o2"
		if err := d.Orders.Create(ctx, &o2); !errors.Is(err, dao.ErrClientOrderIDTaken) {
			t.Errorf("order with a used client order id: %v, want %v", err, dao.ErrClientOrderIDTaken)
		}

		a := &entity.Asset{AssetID: "XYZ", Name: "Xyz", PriceUSD: dec("10"), IsActive: true,
			CreatedAt: entity.At(now), UpdatedAt: entity.At(now)}
		if err := d.Assets.Create(ctx, a); err != nil {
			t.Fatal(err)
		}
		if err := d.Assets.Create(ctx, a); !errors.Is(err, dao.ErrAssetExists) {
			t.Errorf("asset created twice: %v, want %v", err, dao.ErrAssetExists)
		}
	})
}

func TestBatch(t *testing.T) {
	d := newDAOs(t)
	ctx := context.Background()
	now := t0
	a := &entity.Asset{AssetID: "XYZ", Name: "Xyz", PriceUSD: dec("12.5"), IsActive: true,
		CreatedAt: entity.At(now), UpdatedAt: entity.At(now)}
	if err := d.Assets.Create(ctx, a); err != nil {
		t.Fatal(err)
	}
	o := &entity.Order{OrderID: "o1", Username: "alice", OrderType: entity.LimitSell, AssetID: "XYZ",
		Quantity: dec("1"), LimitPrice: decp("20"), Status: entity.StatusQueued, Version: 3}
	if err := d.Orders.Create(ctx, o); err != nil {
		t.Fatal(err)
	}
	idemKey := d.Tables.IdemKey("alice", "order", "k1")
	if err := dao.StoreOf(d).Transact(ctx, []store.Write{d.Idem.Write(idemKey, dao.IdemRecord{ReqHash: "h", Status: 201, Body: []byte("{}")}, now)}); err != nil {
		t.Fatal(err)
	}

	// Registered in an order unlike the reads' below: each slot is its own.
	b := d.Batch()
	idem := b.Idem(idemKey)
	missing := b.Order("alice", "nope")
	order := b.Order("alice", "o1")
	holding := b.Holding("alice", "XYZ")
	quote := b.Quote("XYZ")
	var never dao.Slot[*dao.HoldingRecord]
	if b.Len() != 5 {
		t.Fatalf("Len = %d, want 5", b.Len())
	}
	if err := b.Read(ctx); err != nil {
		t.Fatal(err)
	}
	q, found, err := quote.Get()
	if err != nil || !found || q.AssetID != "XYZ" || !q.PriceUSD.Equal(dec("12.5")) || !q.IsActive {
		t.Errorf("quote = %+v, %v, %v", q, found, err)
	}
	got, found, err := order.Get()
	if err != nil || !found || got.OrderID != "o1" || got.Version != 3 || got.Status != entity.StatusQueued {
		t.Errorf("order = %+v, %v, %v", got, found, err)
	}
	if got, found, err := missing.Get(); got != nil || found || err != nil {
		t.Errorf("missing order = %+v, %v, %v", got, found, err)
	}
	if h, found, err := holding.Get(); h != nil || found || err != nil {
		t.Errorf("missing holding = %+v, %v, %v", h, found, err)
	}
	if h, found, err := never.Get(); h != nil || found || err != nil {
		t.Errorf("unregistered slot = %+v, %v, %v", h, found, err)
	}
	rec, found, err := idem.Get()
	if err != nil || !found || rec.ReqHash != "h" || rec.Status != 201 || string(rec.Body) != "{}" {
		t.Errorf("idempotency record = %+v, %v, %v", rec, found, err)
	}

	// A batch of no key reads nothing.
	empty := d.Batch()
	if err := empty.Read(canceled()); err != nil {
		t.Errorf("empty batch: %v", err)
	}
	// A store failure is the Read's; a corrupt item is its slot's.
	failing := d.Batch()
	failing.Quote("XYZ")
	if err := failing.Read(canceled()); !errors.Is(err, context.Canceled) {
		t.Errorf("read with a canceled context: %v", err)
	}
	put(t, d, d.Orders.Key("alice", "bad"), store.Item{"doc": store.S("{not json")})
	corrupt := d.Batch()
	bad := corrupt.Order("alice", "bad")
	if err := corrupt.Read(ctx); err != nil {
		t.Fatal(err)
	}
	if _, found, err := bad.Get(); !found || err == nil {
		t.Errorf("corrupt order: found %v, err %v", found, err)
	}
}
