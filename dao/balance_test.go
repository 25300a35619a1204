package dao_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/page"
	"github.com/orderprocessor/orderprocessor/store"
)

// balanceState renders a stored balance as
// "current/held/available deposits/withdrawals v<version>", the available
// part being the stored attribute.
func balanceState(t *testing.T, d *dao.DAOs, user string, c entity.Currency) string {
	t.Helper()
	bs, err := d.Balances.ListStored(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		if b.Currency == c {
			if !b.StoredAvailable.Equal(b.Available()) {
				t.Fatalf("stored available %s != current %s - held %s", b.StoredAvailable, b.CurrentBalance, b.HeldBalance)
			}
			return fmt.Sprintf("%s/%s/%s %s/%s v%d", b.CurrentBalance, b.HeldBalance, b.StoredAvailable,
				b.TotalDeposits, b.TotalWithdrawals, b.Version)
		}
	}
	return "none"
}

func TestBalanceCreateGetList(t *testing.T) {
	d := newDAOs(t)
	ctx := context.Background()
	if err := d.Balances.Create(ctx, "alice", entity.USD, t0); err != nil {
		t.Fatal(err)
	}
	err := d.Balances.Create(ctx, "alice", entity.USD, t0.Add(time.Hour))
	wantKind(t, "second Create", err, apperr.Conflict)
	if msg := apperr.MessageOf(err); msg != "balance USD already exists" {
		t.Fatalf("message %q", msg)
	}
	if err := dao.StoreOf(d).Transact(ctx, []store.Write{d.Balances.CreateWrite("alice", entity.EUR, t0.Add(time.Second))}); err != nil {
		t.Fatal(err)
	}
	// Other items of the partition are not balances.
	if err := dao.StoreOf(d).Transact(ctx, []store.Write{
		d.Holdings.BuyWrite("alice", "BTC", dec("1"), dec("1"), dec("0"), t0),
		d.Balances.TransactionWrite(&entity.BalanceTransaction{TransactionID: "01", Username: "alice",
			TransactionType: entity.TxDeposit, Amount: dec("1"), Currency: entity.USD, Status: entity.TxCompleted, CreatedAt: entity.At(t0)}),
	}); err != nil {
		t.Fatal(err)
	}

	want := &entity.Balance{Username: "alice", Currency: entity.USD, CreatedAt: entity.At(t0), UpdatedAt: entity.At(t0), Version: 1}
	got, err := d.Balances.Get(ctx, "alice", entity.USD)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Get = %+v, %v\nwant %+v", got, err, want)
	}
	_, err = d.Balances.Get(ctx, "alice", entity.GBP)
	wantKind(t, "Get GBP", err, apperr.NotFound)
	if msg := apperr.MessageOf(err); msg != "no GBP balance" {
		t.Fatalf("message %q", msg)
	}

	list, err := d.Balances.List(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	var cur []string
	for _, b := range list {
		cur = append(cur, fmt.Sprintf("%s@%s", b.Currency, b.CreatedAt))
	}
	if s := strings.Join(cur, " "); s != "EUR@2026-11-25T12:00:01.000000Z USD@2026-11-25T12:00:00.000000Z" {
		t.Fatalf("List = %s", s)
	}
	if list, err := d.Balances.List(ctx, "nobody"); err != nil || len(list) != 0 {
		t.Fatalf("List(nobody) = %v, %v", list, err)
	}
	stored, err := d.Balances.ListStored(ctx, "alice")
	if err != nil || len(stored) != 2 || !reflect.DeepEqual(stored[1].Balance, want) || !stored[1].StoredAvailable.IsZero() {
		t.Fatalf("ListStored = %+v, %v", stored, err)
	}

	wantCanceled(t, "Create", d.Balances.Create(canceled(), "bobby1", entity.USD, t0), "create balance: ")
	_, err = d.Balances.Get(canceled(), "alice", entity.USD)
	if !errors.Is(err, context.Canceled) || apperr.Is(err, apperr.NotFound) {
		t.Fatalf("Get canceled: %v", err)
	}
	_, err = d.Balances.List(canceled(), "alice")
	wantCanceled(t, "List", err, "list balances: ")
	_, err = d.Balances.ListStored(canceled(), "alice")
	wantCanceled(t, "ListStored", err, "list balances: ")
}

func TestBalanceChangeWrite(t *testing.T) {
	d := newDAOs(t)
	ctx := context.Background()
	if err := d.Balances.Create(ctx, "alice", entity.USD, t0); err != nil {
		t.Fatal(err)
	}
	z := decimal.Zero
	steps := []struct {
		name               string
		cur, held, dep, wd string
		ok                 bool
		want               string // state afterwards
	}{
		{"deposit", "100", "0", "100", "0", true, "100/0/100 100/0 v2"},
		{"hold", "0", "30", "0", "0", true, "100/30/70 100/0 v3"},
		{"debit beyond available", "-70.01", "0", "0", "0", false, "100/30/70 100/0 v3"},
		{"hold beyond available", "0", "70.01", "0", "0", false, "100/30/70 100/0 v3"},
		{"debit all available", "-70", "0", "0", "0", true, "30/30/0 100/0 v4"},
		{"release beyond held", "0", "-30.01", "0", "0", false, "30/30/0 100/0 v4"},
		{"release part", "0", "-10", "0", "0", true, "30/20/10 100/0 v5"},
		// Paying 25 from a 20 hold needs 5 of available: both guards.
		{"pay from hold and available", "-25", "-20", "0", "0", true, "5/0/5 100/0 v6"},
		{"held guard fails, available enough", "-1", "-0.5", "0", "0", false, "5/0/5 100/0 v6"},
		{"withdraw", "-5", "0", "0", "5", true, "0/0/0 100/5 v7"},
		{"credit", "0.01", "0", "0.01", "0", true, "0.01/0/0.01 100.01/5 v8"},
		{"debit from zero", "-0.02", "0", "0", "0.02", false, "0.01/0/0.01 100.01/5 v8"},
	}
	for i, s := range steps {
		c := dao.Change{Username: "alice", Currency: entity.USD, Current: dec(s.cur), Held: dec(s.held),
			Deposits: dec(s.dep), Withdrawals: dec(s.wd)}
		// The change runs with a ledger entry, which is written only if it is.
		id := fmt.Sprintf("%02d", i)
		tx := &entity.BalanceTransaction{TransactionID: id, Username: "alice", TransactionType: entity.TxSystemAdjustment,
			Amount: dec(s.cur), Currency: entity.USD, Status: entity.TxCompleted, CreatedAt: entity.At(t0)}
		err := d.Balances.Transact(ctx, []store.Write{d.Balances.TransactionWrite(tx), d.Balances.ChangeWrite(c, t0.Add(time.Minute))})
		if s.ok != (err == nil) {
			t.Fatalf("%s: err %v, want ok=%v", s.name, err, s.ok)
		}
		if !s.ok {
			var tc *store.TxCanceledError
			if !errors.As(err, &tc) || tc.FailedIndex() != 1 || !errors.Is(err, store.ErrConditionFailed) {
				t.Fatalf("%s: err %v, want the balance write's condition to fail", s.name, err)
			}
			_, err := d.Balances.GetTransaction(ctx, "alice", id)
			wantKind(t, s.name+": ledger entry of a failed change", err, apperr.NotFound)
		}
		if got := balanceState(t, d, "alice", entity.USD); got != s.want {
			t.Fatalf("%s: state %s, want %s", s.name, got, s.want)
		}
	}
	b, err := d.Balances.Get(ctx, "alice", entity.USD)
	if err != nil || !b.CreatedAt.Equal(t0) || !b.UpdatedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("timestamps %+v, %v", b, err)
	}

	// A credit creates a missing balance, with zero totals it did not touch.
	credit := dao.Change{Username: "alice", Currency: entity.EUR, Current: dec("12.5"), Held: z, Deposits: z, Withdrawals: z}
	if err := dao.StoreOf(d).Transact(ctx, []store.Write{d.Balances.ChangeWrite(credit, t0)}); err != nil {
		t.Fatal(err)
	}
	want := &entity.Balance{Username: "alice", Currency: entity.EUR, CurrentBalance: dec("12.5"),
		CreatedAt: entity.At(t0), UpdatedAt: entity.At(t0), Version: 1}
	if got, err := d.Balances.Get(ctx, "alice", entity.EUR); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("created by credit: %+v, %v\nwant %+v", got, err, want)
	}
	if got := balanceState(t, d, "alice", entity.EUR); got != "12.5/0/12.5 0/0 v1" {
		t.Fatalf("EUR %s", got)
	}
	// A debit, a hold or a release of a missing balance fails and creates nothing.
	for _, c := range []dao.Change{
		{Username: "alice", Currency: entity.GBP, Current: dec("-1")},
		{Username: "alice", Currency: entity.GBP, Held: dec("1")},
		{Username: "alice", Currency: entity.GBP, Held: dec("-1")},
	} {
		err := dao.StoreOf(d).Transact(ctx, []store.Write{d.Balances.ChangeWrite(c, t0)})
		if !errors.Is(err, store.ErrConditionFailed) {
			t.Fatalf("%+v on a missing balance: %v", c, err)
		}
	}
	_, err = d.Balances.Get(ctx, "alice", entity.GBP)
	wantKind(t, "GBP", err, apperr.NotFound)
}

func TestDailyLimitWrite(t *testing.T) {
	d := newDAOs(t)
	ctx := context.Background()
	limit := dec("100")
	total := func(kind, day string) string {
		it, err := dao.StoreOf(d).Get(ctx, store.Key{Table: d.Tables.Users, PK: "USER#alice", SK: "DAILY#" + kind + "#USD#" + day})
		if errors.Is(err, store.ErrNotFound) {
			return "none"
		}
		if err != nil {
			t.Fatal(err)
		}
		n, err := decimal.Parse(it["total"].NumText()) // engines may keep trailing zeros
		if err != nil {
			t.Fatal(err)
		}
		// Kept two days after the day ends.
		end, err := time.Parse(time.DateOnly, day)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := it.Int(store.DefaultTTLAttribute), end.AddDate(0, 0, 3).Unix(); got != want {
			t.Fatalf("%s %s expires at %d, want %d", kind, day, got, want)
		}
		return n.String()
	}
	steps := []struct {
		kind, day, amount string
		ok                bool
		want              string
	}{
		{"deposit", "2026-11-25", "60", true, "60"},
		{"deposit", "2026-11-25", "39.99", true, "99.99"},  // below the limit
		{"deposit", "2026-11-25", "0.01", true, "100"},     // at the limit
		{"deposit", "2026-11-25", "0.01", false, "100"},    // above
		{"withdraw", "2026-11-25", "100", true, "100"},     // another kind counts apart
		{"deposit", "2026-11-26", "100", true, "100"},      // a new day starts at zero
		{"deposit", "2026-11-27", "100.01", false, "none"}, // one amount above the limit, new day
		{"deposit", "2026-11-27", "20", true, "20"},
		{"deposit", "2026-11-27", "80.01", false, "20"},
	}
	for _, s := range steps {
		day, err := time.Parse(time.DateOnly, s.day)
		if err != nil {
			t.Fatal(err)
		}
		w := d.Balances.DailyLimitWrite("alice", s.kind, day.Add(23*time.Hour), dec(s.amount), limit)
		err = dao.StoreOf(d).Transact(ctx, []store.Write{w})
		if s.ok != (err == nil) {
			t.Fatalf("%s %s %s: %v, want ok=%v", s.kind, s.day, s.amount, err, s.ok)
		}
		if !s.ok && !errors.Is(err, store.ErrConditionFailed) {
			t.Fatalf("%s %s %s: %v, want a condition failure", s.kind, s.day, s.amount, err)
		}
		if got := total(s.kind, s.day); got != s.want {
			t.Fatalf("%s %s %s: total %s, want %s", s.kind, s.day, s.amount, got, s.want)
		}
	}
}

func newTx(id, typ, amount, cur string, at time.Time) *entity.BalanceTransaction {
	return &entity.BalanceTransaction{TransactionID: id, Username: "alice", TransactionType: entity.TransactionType(typ),
		Amount: dec(amount), Currency: entity.Currency(cur), Status: entity.TxCompleted, CreatedAt: entity.At(at)}
}

func TestBalanceTransactions(t *testing.T) {
	d := newDAOs(t)
	ctx := context.Background()
	full := newTx("01A", "order_hold", "10.5", "USD", t0)
	full.Status, full.Description, full.ReferenceID = entity.TxPending, "hold for order", "ORDER-1"
	if err := d.Balances.CreateTransaction(ctx, full); err != nil {
		t.Fatal(err)
	}
	if got, err := d.Balances.GetTransaction(ctx, "alice", "01A"); err != nil || !reflect.DeepEqual(got, full) {
		t.Fatalf("GetTransaction = %+v, %v\nwant %+v", got, err, full)
	}
	// Ledger ids are generated for the entry, so the write is a fresh put
	// (the engine need not look the key up).
	if w := d.Balances.TransactionWrite(full); w.Put == nil || !w.Put.Fresh || w.Put.Cond.Op != store.CondNotExists {
		t.Fatalf("TransactionWrite = %+v, want a fresh put that must not exist", w)
	}
	_, err := d.Balances.GetTransaction(ctx, "alice", "nope")
	wantKind(t, "GetTransaction(nope)", err, apperr.NotFound)
	_, err = d.Balances.GetTransaction(ctx, "bobby1", "01A") // the key holds the owner
	wantKind(t, "GetTransaction(bob)", err, apperr.NotFound)

	// Status moves only from the expected status.
	if err := d.Balances.UpdateTransactionStatus(ctx, "alice", "01A", entity.TxPending, entity.TxCompleted); err != nil {
		t.Fatal(err)
	}
	err = d.Balances.UpdateTransactionStatus(ctx, "alice", "01A", entity.TxPending, entity.TxCancelled)
	wantKind(t, "second status move", err, apperr.Conflict)
	if msg := apperr.MessageOf(err); msg != "transaction 01A is not pending" {
		t.Fatalf("message %q", msg)
	}
	if got, _ := d.Balances.GetTransaction(ctx, "alice", "01A"); got.Status != entity.TxCompleted {
		t.Fatalf("status %s", got.Status)
	}
	// In a transaction, with another write.
	w := d.Balances.TransactionStatusWrite("alice", "01A", entity.TxCompleted, entity.TxFailed)
	if err := dao.StoreOf(d).Transact(ctx, []store.Write{w}); err != nil {
		t.Fatal(err)
	}
	if got, _ := d.Balances.GetTransaction(ctx, "alice", "01A"); got.Status != entity.TxFailed {
		t.Fatalf("status %s", got.Status)
	}
	err = dao.StoreOf(d).Transact(ctx, []store.Write{d.Balances.TransactionStatusWrite("alice", "missing", entity.TxPending, entity.TxCompleted)})
	if !errors.Is(err, store.ErrConditionFailed) {
		t.Fatalf("status write of a missing entry: %v", err)
	}

	wantCanceled(t, "CreateTransaction", d.Balances.CreateTransaction(canceled(), newTx("X", "deposit", "1", "USD", t0)), "create transaction: ")
	wantCanceled(t, "UpdateTransactionStatus",
		d.Balances.UpdateTransactionStatus(canceled(), "alice", "01A", entity.TxFailed, entity.TxCompleted), "update transaction status: ")
	_, err = d.Balances.GetTransaction(canceled(), "alice", "01A")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("GetTransaction canceled: %v", err)
	}
}

func TestListTransactions(t *testing.T) {
	d := newDAOs(t)
	ctx := context.Background()
	// 30 entries, ids in time order: types cycle deposit, withdraw,
	// order_hold; currencies cycle USD, EUR.
	types := []string{"deposit", "withdraw", "order_hold"}
	curs := []string{"USD", "EUR"}
	var writes []store.Write
	var all []*entity.BalanceTransaction
	for i := range 30 {
		tx := newTx(fmt.Sprintf("01J%03d", i), types[i%3], fmt.Sprint(i+1), curs[i%2], t0.Add(time.Duration(i)*time.Second))
		all = append(all, tx)
		writes = append(writes, d.Balances.TransactionWrite(tx))
	}
	// Items of the partition that are not ledger entries, on both sides.
	writes = append(writes, d.Balances.CreateWrite("alice", entity.USD, t0),
		d.Idem.Write(d.Tables.IdemKey("alice", "", "k"), dao.IdemRecord{Status: 200}, t0))
	// Another user's entries.
	other := newTx("01J999", "deposit", "1", "USD", t0)
	other.Username = "bobby1"
	writes = append(writes, d.Balances.TransactionWrite(other))
	if err := dao.StoreOf(d).Transact(ctx, writes); err != nil {
		t.Fatal(err)
	}
	ids := func(txs []*entity.BalanceTransaction) []string {
		var out []string
		for _, tx := range txs {
			out = append(out, tx.TransactionID)
		}
		return out
	}
	// want returns the ids of all that match, newest first.
	want := func(typ, cur string) []string {
		var out []string
		for i := len(all) - 1; i >= 0; i-- {
			if (typ == "" || string(all[i].TransactionType) == typ) && (cur == "" || string(all[i].Currency) == cur) {
				out = append(out, all[i].TransactionID)
			}
		}
		return out
	}
	tests := []struct {
		typ, cur string
		limit    int
	}{
		{"", "", 7}, {"", "", 30}, {"", "", 100}, {"", "", 1},
		{"deposit", "", 4}, {"", "EUR", 4}, {"withdraw", "USD", 2}, {"order_hold", "EUR", 100},
		{"order_refund", "", 5}, {"", "GBP", 5},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/%s/%d", tc.typ, tc.cur, tc.limit), func(t *testing.T) {
			f := dao.TxFilter{Type: entity.TransactionType(tc.typ), Currency: entity.Currency(tc.cur), Limit: tc.limit}
			var got []string
			for pages := 0; ; pages++ {
				if pages > 40 {
					t.Fatal("paging does not end")
				}
				txs, next, err := d.Balances.ListTransactions(ctx, "alice", f)
				if err != nil {
					t.Fatal(err)
				}
				if len(txs) > tc.limit || (next != "" && len(txs) != tc.limit) {
					t.Fatalf("page of %d (limit %d, next %q)", len(txs), tc.limit, next)
				}
				got = append(got, ids(txs)...)
				if next == "" {
					break
				}
				f.Cursor = next
			}
			if w := want(tc.typ, tc.cur); strings.Join(got, ",") != strings.Join(w, ",") {
				t.Fatalf("pages %v\nwant  %v", got, w)
			}
			n, err := d.Balances.CountTransactions(ctx, "alice", dao.TxFilter{Type: f.Type, Currency: f.Currency, Limit: 1, Cursor: "ignored"}, 1000)
			if err != nil || n != len(want(tc.typ, tc.cur)) {
				t.Fatalf("CountTransactions = %d, %v; want %d", n, err, len(want(tc.typ, tc.cur)))
			}
		})
	}
	// The first page, exactly.
	txs, next, err := d.Balances.ListTransactions(ctx, "alice", dao.TxFilter{Limit: 2})
	if err != nil || next == "" || len(txs) != 2 || !reflect.DeepEqual(txs[0], all[29]) || !reflect.DeepEqual(txs[1], all[28]) {
		t.Fatalf("first page %+v %q %v", txs, next, err)
	}
	// Limit 0 means 1.
	if txs, _, err := d.Balances.ListTransactions(ctx, "alice", dao.TxFilter{}); err != nil || len(txs) != 1 || txs[0].TransactionID != "01J029" {
		t.Fatalf("limit 0: %v, %v", ids(txs), err)
	}
	// More than a store page: the DAO pages the store itself.
	if txs, next, err := d.Balances.ListTransactions(ctx, "alice", dao.TxFilter{Limit: store.MaxQueryLimit + 500}); err != nil || len(txs) != 30 || next != "" {
		t.Fatalf("limit %d: %d items, %q, %v", store.MaxQueryLimit+500, len(txs), next, err)
	}
	// A cursor of another query is rejected.
	_, _, err = d.Balances.ListTransactions(ctx, "bobby1", dao.TxFilter{Limit: 2, Cursor: next})
	if !errors.Is(err, page.ErrInvalidCursor) {
		t.Fatalf("foreign cursor: %v", err)
	}
	_, _, err = d.Balances.ListTransactions(ctx, "alice", dao.TxFilter{Limit: 2, Cursor: "garbage"})
	if !errors.Is(err, page.ErrInvalidCursor) {
		t.Fatalf("garbage cursor: %v", err)
	}

	// AllTransactions: oldest first, everything.
	got, err := d.Balances.AllTransactions(ctx, "alice")
	if err != nil || !reflect.DeepEqual(got, all) {
		t.Fatalf("AllTransactions: %v, %v", ids(got), err)
	}
	if got, err := d.Balances.AllTransactions(ctx, "nobody"); err != nil || len(got) != 0 {
		t.Fatalf("AllTransactions(nobody): %v, %v", got, err)
	}

	_, _, err = d.Balances.ListTransactions(canceled(), "alice", dao.TxFilter{Limit: 2})
	wantCanceled(t, "ListTransactions", err, "list transactions: ")
	_, err = d.Balances.CountTransactions(canceled(), "alice", dao.TxFilter{}, 10)
	wantCanceled(t, "CountTransactions", err, "count transactions: ")
	_, err = d.Balances.AllTransactions(canceled(), "alice")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("AllTransactions canceled: %v", err)
	}
}
