package verify_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/orderprocessor/orderprocessor/entity"
)

// reverseBob reverses bob's market buy (0.005 BTC for 250.00) through the
// trading layer: his cash is 300.00 again and his holding empty.
func reverseBob(t *testing.T, f *fixture) *entity.BalanceTransaction {
	t.Helper()
	r, _, err := f.svc.ReverseOrder(f.ctx, "admin", f.bobBuy.OrderID, entity.ReversalRequest{Username: "bob", Reason: "test"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r.Entry
}

func problems(t *testing.T, f *fixture, user string) []string {
	t.Helper()
	var out []string
	for _, v := range run(t, f).Violations {
		if v.Username != user {
			t.Errorf("unexpected violation %s", v)
		}
		out = append(out, v.Subject+": "+v.Problem)
	}
	return out
}

func TestReversals(t *testing.T) {
	t.Run("clean", func(t *testing.T) {
		f := newFixture(t)
		reverseBob(t, f)
		if _, _, err := f.svc.Adjust(f.ctx, "admin", "alice", entity.AdjustmentRequest{Amount: ptr(dec("-0.50")), Reason: "fee"}, nil); err != nil {
			t.Fatal(err)
		}
		if rep := run(t, f); !rep.OK() {
			t.Fatalf("violations after a reversal and an adjustment: %v", rep.Violations)
		}
	})
	t.Run("refund duplicated", func(t *testing.T) {
		f := newFixture(t)
		e := reverseBob(t, f)
		dup := *e
		dup.TransactionID = f.svc.NewID()
		f.putTx(t, &dup)
		got := problems(t, f, "bob")
		for _, want := range []string{
			"balance USD: current_balance 300.00 != 550.00, the sum of its completed ledger entries",
			"holding BTC: quantity 0 != -0.005, bought minus sold in its completed movements",
			"order " + f.bobBuy.OrderID + ": order is reversed 2 times (" + e.TransactionID + ", " + dup.TransactionID + "), at most once",
		} {
			if !slices.Contains(got, want) {
				t.Errorf("missing %q in %q", want, got)
			}
		}
	})
	t.Run("refund of another amount", func(t *testing.T) {
		f := newFixture(t)
		e := reverseBob(t, f)
		f.del(t, txKey("bob", e.TransactionID))
		bad := *e
		bad.Amount = dec("249.99")
		f.putTx(t, &bad)
		got := problems(t, f, "bob")
		want := "transaction " + e.TransactionID + ": reversal of order " + f.bobBuy.OrderID + " is 249.99 USD, want 250.00 USD"
		if !slices.Contains(got, want) {
			t.Errorf("missing %q in %q", want, got)
		}
	})
	t.Run("history without its reversal", func(t *testing.T) {
		f := newFixture(t)
		e := reverseBob(t, f)
		f.rewrite(t, f.bobBuy, func(o *entity.Order) { o.StatusHistory = o.StatusHistory[:len(o.StatusHistory)-1] })
		want := []string{"transaction " + e.TransactionID + ": reversal of order " + f.bobBuy.OrderID + ", whose status history records no reversal"}
		if got := problems(t, f, "bob"); !slices.Equal(got, want) {
			t.Errorf("problems %q, want %q", got, want)
		}
	})
	t.Run("reversal recorded without its refund", func(t *testing.T) {
		f := newFixture(t)
		f.rewrite(t, f.aliceBuy, func(o *entity.Order) { o.Note(o.UpdatedAt, "reversed by admin: x") })
		want := []string{"order " + f.aliceBuy.OrderID + ": status history records a reversal, but no order_refund entry reverses it"}
		if got := problems(t, f, "alice"); !slices.Equal(got, want) {
			t.Errorf("problems %q, want %q", got, want)
		}
	})
}

func TestAmendmentNotes(t *testing.T) {
	f := newFixture(t)
	q := dec("0.003")
	if _, _, err := f.svc.AmendOrder(f.ctx, "alice", f.restingSell.OrderID, entity.OrderUpdate{Quantity: &q}, nil); err != nil {
		t.Fatal(err)
	}
	if rep := run(t, f); !rep.OK() {
		t.Fatalf("violations after an amendment: %v", rep.Violations)
	}
	// An amendment note after the order ended is not a note: a transition
	// the machine forbids.
	f.rewrite(t, f.aliceBuy, func(o *entity.Order) {
		o.StatusHistory = append(o.StatusHistory, entity.StatusChange{Status: entity.StatusCompleted, Reason: "amended: x"})
	})
	got := problems(t, f, "alice")
	if len(got) != 1 || !strings.HasSuffix(got[0], "status history moves from completed to completed, which the status machine forbids") {
		t.Fatalf("problems %q", got)
	}
}

func ptr[T any](v T) *T { return &v }

func TestAdjustmentsRecordTheirAdmin(t *testing.T) {
	f := newFixture(t)
	tx, _, err := f.svc.Adjust(f.ctx, "admin", "carol", entity.AdjustmentRequest{Amount: ptr(dec("12.34")), Reason: "goodwill"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep := run(t, f); !rep.OK() {
		t.Fatalf("violations after an adjustment: %v", rep.Violations)
	}
	f.del(t, txKey("carol", tx.TransactionID))
	anon := *tx
	anon.CreatedBy = ""
	f.putTx(t, &anon)
	want := []string{"transaction " + tx.TransactionID + `: system_adjustment records no admin ("") or no reason ("goodwill")`}
	if got := problems(t, f, "carol"); !slices.Equal(got, want) {
		t.Fatalf("problems %q, want %q", got, want)
	}
}
