package dao_test

import (
	"context"
	"reflect"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/store"
)

func TestTablesWithPrefixAndSchemas(t *testing.T) {
	tb := dao.DefaultTables.WithPrefix("prod-")
	if want := (dao.Tables{Users: "prod-users", Orders: "prod-orders", Inventory: "prod-inventory"}); tb != want {
		t.Fatalf("WithPrefix = %+v, want %+v", tb, want)
	}
	if got := dao.DefaultTables.WithPrefix(""); got != dao.DefaultTables {
		t.Fatalf("WithPrefix(\"\") = %+v", got)
	}
	want := []store.TableSchema{
		{Name: "prod-users"},
		{Name: "prod-orders", Indexes: []store.IndexSchema{
			{Name: "open_by_trigger", PK: "trig_pk", SK: "trig_sk"},
			{Name: "trail_by_hwm", PK: "hwm_pk", SK: "hwm_sk"},
			{Name: "open_by_expiry", PK: "exp_pk", SK: "exp_sk"},
		}},
		{Name: "prod-inventory", Indexes: []store.IndexSchema{
			{Name: "assets_by_rank", PK: "rank_pk", SK: "rank_sk"},
			{Name: "assets_by_category", PK: "cat_pk", SK: "cat_sk"},
		}},
	}
	if got := tb.Schemas(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Schemas = %+v\nwant %+v", got, want)
	}
	if dao.IndexOpenOrders != "open_by_trigger" || dao.IndexTrailing != "trail_by_hwm" || dao.IndexExpiry != "open_by_expiry" ||
		dao.IndexAssetsByRank != "assets_by_rank" || dao.IndexAssetsByCategory != "assets_by_category" {
		t.Fatal("index names changed: they are part of deployed table definitions")
	}
}

func TestIdemKey(t *testing.T) {
	tb := dao.DefaultTables.WithPrefix("x-")
	tests := []struct {
		user, scope, key string
		want             store.Key
	}{
		{"alice", "POST /orders", "k1", store.Key{Table: "x-users", PK: "USER#alice", SK: "IDEM#k1"}},
		{"alice", "other scope", "k1", store.Key{Table: "x-users", PK: "USER#alice", SK: "IDEM#k1"}}, // scope only for anonymous
		{"", "POST /auth/register", "k1", store.Key{Table: "x-users", PK: "ANON#POST /auth/register", SK: "IDEM#k1"}},
		{"", "POST /auth/login", "k1", store.Key{Table: "x-users", PK: "ANON#POST /auth/login", SK: "IDEM#k1"}},
	}
	for _, tc := range tests {
		if got := tb.IdemKey(tc.user, tc.scope, tc.key); got != tc.want {
			t.Errorf("IdemKey(%q, %q, %q) = %v, want %v", tc.user, tc.scope, tc.key, got, tc.want)
		}
	}
}

func TestSortablePrice(t *testing.T) {
	tests := []struct{ in, want string }{
		{"0", "0000000000000000.00000000"},
		{"0.00000001", "0000000000000000.00000001"},
		{"0.1", "0000000000000000.10000000"},
		{"1", "0000000000000001.00000000"},
		{"9.99999999", "0000000000000009.99999999"},
		{"10", "0000000000000010.00000000"},
		{"99.5", "0000000000000099.50000000"},
		{"100", "0000000000000100.00000000"},
		{"123456.789", "0000000000123456.78900000"},
		{"1000000", "0000000001000000.00000000"},
		{"9999999999999999.99999999", "9999999999999999.99999999"},
	}
	for _, tc := range tests {
		if got := dao.SortablePrice(dec(tc.in)); got != tc.want {
			t.Errorf("SortablePrice(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
	// Property: text order equals numeric order, over a shuffled table of
	// prices around every power of ten and at 8-place granularity.
	var prices []decimal.Decimal
	for _, s := range []string{"0", "0.00000001", "0.00000002", "0.0000001", "0.5", "0.99999999", "1", "1.00000001",
		"2", "9", "10", "11", "99.99999999", "100", "101", "999", "1000", "12345.6789", "65000", "65000.00000001",
		"100000", "999999.99999999", "1000000", "5000000000000000", "9999999999999999.99999999"} {
		prices = append(prices, dec(s))
	}
	texts := make([]string, len(prices))
	for i, p := range prices {
		texts[i] = dao.SortablePrice(p)
	}
	byText := slices.Clone(texts)
	sort.Strings(byText)
	// prices is in ascending numeric order, so the texts must already be sorted.
	if !slices.Equal(byText, texts) {
		t.Fatalf("text order differs from numeric order:\n%v\n%v", texts, byText)
	}
	for i := 1; i < len(prices); i++ {
		if prices[i-1].Cmp(prices[i]) >= 0 || texts[i-1] >= texts[i] {
			t.Fatalf("%s/%s: %s >= %s", prices[i-1], prices[i], texts[i-1], texts[i])
		}
	}
}

func TestUsernameOf(t *testing.T) {
	tests := []struct {
		pk, want string
	}{
		{"USER#alice", "alice"},
		{"USER#bob_2", "bob_2"},
		{"USER#", ""},
	}
	for _, tc := range tests {
		if got := dao.UsernameOf(store.Item{store.AttrPK: store.S(tc.pk)}); got != tc.want {
			t.Errorf("UsernameOf(%q) = %q, want %q", tc.pk, got, tc.want)
		}
	}
}

// TestDataModelKeys writes one item of each kind through the DAOs and reads
// the stored keys back, raw, as docs/data-model.md specifies them.
func TestDataModelKeys(t *testing.T) {
	d := newDAOs(t)
	ctx := context.Background()
	now := t0
	u := &entity.User{Username: "alice", Email: "alice@example.com", Role: entity.RoleCustomer, Version: 1}
	if err := d.Users.Create(ctx, u, d.Balances.CreateWrite("alice", entity.USD, now)); err != nil {
		t.Fatal(err)
	}
	tx := &entity.BalanceTransaction{TransactionID: "01TX", Username: "alice", TransactionType: entity.TxDeposit,
		Amount: dec("5"), Currency: entity.USD, Status: entity.TxCompleted, CreatedAt: entity.At(now)}
	fill := &entity.BalanceTransaction{TransactionID: "01FILL", Username: "alice", TransactionType: entity.TxOrderPayment,
		Amount: dec("-2"), Currency: entity.USD, Status: entity.TxCompleted, ReferenceID: "01ORD", CreatedAt: entity.At(now),
		Asset: &entity.AssetLeg{AssetID: "BTC", Quantity: dec("1"), Price: dec("2")}}
	o := &entity.Order{OrderID: "01ORD", Username: "alice", OrderType: entity.MarketBuy, AssetID: "BTC",
		Status: entity.StatusPending, ClientOrderID: "c-1", Version: 1}
	ows, err := d.Orders.CreateWrites(o, "h")
	if err != nil {
		t.Fatal(err)
	}
	writes := append([]store.Write{
		d.Balances.TransactionWrite(tx), d.Balances.TransactionWrite(fill),
		d.Holdings.BuyWrite("alice", "BTC", dec("1"), dec("2"), dec("0"), now),
		d.Idem.Write(d.Tables.IdemKey("alice", "", "idem-1"), dao.IdemRecord{ReqHash: "h", Status: 201}, now),
		d.Balances.DailyLimitWrite("alice", "deposit", time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), dec("5"), dec("100")),
	}, ows...)
	if err := dao.StoreOf(d).Transact(ctx, writes); err != nil {
		t.Fatal(err)
	}
	if err := d.Assets.Create(ctx, newAsset("BTC", "2", 1)); err != nil {
		t.Fatal(err)
	}
	tb := d.Tables
	for _, k := range []store.Key{
		{Table: tb.Users, PK: "USER#alice", SK: "PROFILE"},
		{Table: tb.Users, PK: "EMAIL#alice@example.com", SK: "EMAIL"},
		{Table: tb.Users, PK: "USER#alice", SK: "BALANCE#USD"},
		{Table: tb.Users, PK: "USER#alice", SK: "TX#01TX"},
		{Table: tb.Users, PK: "USER#alice", SK: "ASSET#BTC"},
		{Table: tb.Users, PK: "USER#alice", SK: "TX#01FILL"},
		{Table: tb.Users, PK: "USER#alice", SK: "IDEM#idem-1"},
		{Table: tb.Users, PK: "USER#alice", SK: "DAILY#deposit#USD#2026-11-25"},
		{Table: tb.Orders, PK: "USER#alice", SK: "ORDER#01ORD"},
		{Table: tb.Orders, PK: "USER#alice", SK: "COID#c-1"},
		{Table: tb.Inventory, PK: "ASSET#BTC", SK: "ASSET"},
		{Table: tb.Inventory, PK: "ASSET#BTC", SK: "PRICE#2026-11-25T12:00:00.000000Z#0000000001"},
	} {
		it, err := dao.StoreOf(d).Get(ctx, k)
		if err != nil {
			t.Errorf("%v: %v", k, err)
			continue
		}
		if it.Str(store.AttrPK) != k.PK || it.Str(store.AttrSK) != k.SK {
			t.Errorf("%v: stored keys %q/%q", k, it.Str(store.AttrPK), it.Str(store.AttrSK))
		}
	}
	if got, want := d.Orders.Key("alice", "01ORD"), (store.Key{Table: tb.Orders, PK: "USER#alice", SK: "ORDER#01ORD"}); got != want {
		t.Errorf("Orders.Key = %v, want %v", got, want)
	}
	if got, want := d.Holdings.Key("alice", "BTC"), (store.Key{Table: tb.Users, PK: "USER#alice", SK: "ASSET#BTC"}); got != want {
		t.Errorf("Holdings.Key = %v, want %v", got, want)
	}
	if got, want := d.Assets.Key("BTC"), (store.Key{Table: tb.Inventory, PK: "ASSET#BTC", SK: "ASSET"}); got != want {
		t.Errorf("Assets.Key = %v, want %v", got, want)
	}
	// A fill's ledger entry carries its asset leg.
	it, err := dao.StoreOf(d).Get(ctx, store.Key{Table: tb.Users, PK: "USER#alice", SK: "TX#01FILL"})
	if err != nil {
		t.Fatal(err)
	}
	if it.Str("asset_id") != "BTC" || it["quantity"].NumText() != "1" || it["price"].NumText() != "2" || it["amount"].NumText() != "-2" {
		t.Errorf("fill entry = %v", it)
	}
	if it, err := dao.StoreOf(d).Get(ctx, store.Key{Table: tb.Users, PK: "USER#alice", SK: "TX#01TX"}); err != nil || len(it) != 9 {
		t.Errorf("deposit entry = %v, %v: want its 7 attributes and the keys", it, err)
	}
	// Stored timestamps are UTC with exactly six fraction digits.
	it, err = dao.StoreOf(d).Get(ctx, store.Key{Table: tb.Users, PK: "USER#alice", SK: "BALANCE#USD"})
	if err != nil {
		t.Fatal(err)
	}
	if got := it.Str("created_at"); got != "2026-11-25T12:00:00.000000Z" {
		t.Errorf("created_at = %q", got)
	}
}
