package trading

import (
	"context"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/testenv"
	"github.com/orderprocessor/orderprocessor/testenv/fakeclock"
)

// internalEnv is a service with asset XYZ at 100 and alice with 1,000 USD
// and 5 XYZ.
func internalEnv(t *testing.T) (context.Context, *Service, *fakeclock.Clock) {
	t.Helper()
	ctx := context.Background()
	db, tables := testenv.Store(t)
	c := fakeclock.New(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	d := NewDAOs(db, tables)
	s := New(d, Config{}, Options{Now: c.Now})
	now := entity.At(c.Now())
	if err := d.Assets.Create(ctx, &entity.Asset{AssetID: "XYZ", Name: "Xyz", PriceUSD: decimal.FromInt(100), IsActive: true,
		LastUpdated: now, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := d.Users.Create(ctx, &entity.User{Username: "alice", Email: "alice@example.com", FirstName: "A", LastName: "B",
		Role: entity.RoleCustomer, IsActive: true, CreatedAt: now, UpdatedAt: now, Version: 1}, d.Balances.CreateWrite("alice", entity.USD, c.Now())); err != nil {
		t.Fatal(err)
	}
	amt, five := decimal.FromInt(1000), decimal.FromInt(5)
	if _, _, err := s.Deposit(ctx, "alice", entity.DepositRequest{Amount: &amt}, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.PlaceOrder(ctx, "alice", entity.OrderCreate{OrderType: entity.MarketBuy, AssetID: "XYZ", Quantity: &five}, "", nil); err != nil {
		t.Fatal(err)
	}
	return ctx, s, c
}

// A trigger that found an order unable to fill, and loses the race to an
// amendment of it, does not fail it: the next price decides again.
func TestFailureLosesToAnAmendment(t *testing.T) {
	ctx, s, _ := internalEnv(t)
	q, stop := decimal.MustParse("0.001"), decimal.FromInt(5)
	p, _, err := s.PlaceOrder(ctx, "alice", entity.OrderCreate{OrderType: entity.StopLoss, AssetID: "XYZ", Quantity: &q, StopPrice: &stop}, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	found := p.Order // 0.001 at 5 is worth less than a cent: it cannot fill
	if _, _, err := s.AmendOrder(ctx, "alice", found.OrderID, entity.OrderUpdate{Quantity: ptrDec(decimal.FromInt(1))}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.end(ctx, nil, found, entity.ActorEngine, "too small", entity.StatusTriggered, entity.StatusFailed); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("failure of the amended order: %v", err)
	}
	if n, err := s.OnPrice(ctx, "XYZ", decimal.FromInt(5)); err != nil || n != 1 {
		t.Fatalf("the amended order at 5: %d %v", n, err)
	}
	if o, err := s.d.Orders.Get(ctx, "alice", found.OrderID); err != nil || o.Status != entity.StatusCompleted || !o.TotalAmount.Equal(decimal.FromInt(5)) {
		t.Fatalf("order %v %v %v", o.Status, o.TotalAmount, err)
	}
}

func ptrDec(d decimal.Decimal) *decimal.Decimal { return &d }

// An expiry sweep that found an order due, and loses the race to an
// amendment that extends its expiry, does not expire it: it re-reads the
// order and finds it not due.
func TestExpiryLosesToAnExtendingAmendment(t *testing.T) {
	ctx, s, c := internalEnv(t)
	d := s.d
	q, l := decimal.FromInt(1), decimal.FromInt(90)
	p, _, err := s.PlaceOrder(ctx, "alice", entity.OrderCreate{OrderType: entity.LimitBuy, AssetID: "XYZ", Quantity: &q, LimitPrice: &l,
		TimeInForce: entity.GTD, ExpiresAt: entity.TimePtr(c.Now().Add(time.Hour))}, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	found := p.Order // as the sweep reads it
	if _, _, err := s.AmendOrder(ctx, "alice", found.OrderID, entity.OrderUpdate{ExpiresAt: entity.TimePtr(c.Now().Add(3 * time.Hour))}, nil); err != nil {
		t.Fatal(err)
	}
	c.Advance(2 * time.Hour)
	if _, err := s.end(ctx, nil, found, entity.ActorEngine, "expired", entity.StatusExpired); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("expiry of the amended order: %v", err)
	}
	if o, err := d.Orders.Get(ctx, "alice", found.OrderID); err != nil || o.Status != entity.StatusQueued {
		t.Fatalf("order %v %v", o.Status, err)
	}
	c.Advance(2 * time.Hour)
	if n, err := s.ExpireDue(ctx, c.Now(), 1); err != nil || n != 1 {
		t.Fatalf("due at the amended expiry: %d %v", n, err)
	}
}
