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

// An expiry sweep that found an order due, and loses the race to an
// amendment that extends its expiry, does not expire it: it re-reads the
// order and finds it not due.
func TestExpiryLosesToAnExtendingAmendment(t *testing.T) {
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
	amt := decimal.FromInt(1000)
	if _, _, err := s.Deposit(ctx, "alice", entity.DepositRequest{Amount: &amt}, nil); err != nil {
		t.Fatal(err)
	}
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
	if _, err := s.end(ctx, found, entity.ActorEngine, "expired", entity.StatusExpired); !apperr.Is(err, apperr.Conflict) {
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
