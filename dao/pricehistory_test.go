package dao_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/store"
	"github.com/orderprocessor/orderprocessor/store/embedded"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func openDAOs(t *testing.T) *dao.DAOs {
	t.Helper()
	db, err := embedded.Open(t.TempDir(), dao.DefaultTables.Schemas(), embedded.Options{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), CacheSize: 1 << 20, MemTableSize: 4 << 20,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return dao.New(db, dao.DefaultTables)
}

func newAsset(id, price string, rank int) *entity.Asset {
	now := entity.At(t0)
	return &entity.Asset{AssetID: id, Name: id, Category: "test", PriceUSD: decimal.MustParse(price), IsActive: true,
		MarketData: entity.MarketData{MarketCapRank: &rank}, LastUpdated: now, CreatedAt: now, UpdatedAt: now}
}

// history renders an asset's points as "seq@time=price".
func history(t *testing.T, d *dao.DAOs, id string, from, to time.Time, limit int) (string, bool) {
	t.Helper()
	pts, truncated, err := d.Assets.PriceHistory(context.Background(), id, from, to, limit)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range pts {
		out = append(out, fmt.Sprintf("%d@%s=%s", p.Seq, p.At.Format("15:04:05.000000"), p.Price))
	}
	return strings.Join(out, " "), truncated
}

func TestPriceHistoryWrites(t *testing.T) {
	d := openDAOs(t)
	ctx := context.Background()
	for i, id := range []string{"AAA", "BBB"} {
		if err := d.Assets.Create(ctx, newAsset(id, "10.5", i+1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Assets.Create(ctx, newAsset("AAA", "99", 3)); !errors.Is(err, dao.ErrAssetExists) {
		t.Fatalf("duplicate create: %v", err)
	}
	steps := []struct {
		at time.Duration
		fn func(*entity.Asset) error
	}{
		{time.Second, func(a *entity.Asset) error { a.PriceUSD = decimal.MustParse("11"); return nil }},
		{2 * time.Second, func(a *entity.Asset) error { a.Name = "renamed"; return nil }},                      // no point
		{3 * time.Second, func(a *entity.Asset) error { a.PriceUSD = decimal.MustParse("11.00"); return nil }}, // same price: no point
		{4 * time.Second, func(a *entity.Asset) error { return errors.New("abort") }},                          // nothing written
		{5*time.Second + 1500*time.Nanosecond, func(a *entity.Asset) error { a.PriceUSD = decimal.MustParse("0.00000001"); return nil }},
	}
	for _, s := range steps {
		_, _ = d.Assets.Modify(ctx, "AAA", t0.Add(s.at), s.fn)
	}
	if _, err := d.Assets.SetPrice(ctx, "AAA", decimal.MustParse("12"), t0.Add(6*time.Second)); err != nil {
		t.Fatal(err)
	}
	a, err := d.Assets.Get(ctx, "AAA")
	if err != nil {
		t.Fatal(err)
	}
	// Update (no Modify) records no point.
	a.PriceUSD = decimal.MustParse("13")
	if err := d.Assets.Update(ctx, a, t0.Add(7*time.Second)); err != nil {
		t.Fatal(err)
	}
	got, truncated := history(t, d, "AAA", t0, t0.Add(time.Hour), 100)
	want := "1@12:00:00.000000=10.5 2@12:00:01.000000=11 5@12:00:05.000001=0.00000001 6@12:00:06.000000=12"
	if got != want || truncated {
		t.Fatalf("history %s (%v)\nwant    %s", got, truncated, want)
	}
	tests := []struct {
		from, to time.Duration
		limit    int
		want     string
		trunc    bool
	}{
		{time.Second, 5 * time.Second, 100, "2@12:00:01.000000=11", false},
		{time.Second, 5*time.Second + time.Microsecond, 100, "2@12:00:01.000000=11 5@12:00:05.000001=0.00000001", false},
		{time.Second + time.Microsecond, 6 * time.Second, 100, "5@12:00:05.000001=0.00000001 6@12:00:06.000000=12", false},
		{0, time.Hour, 2, "5@12:00:05.000001=0.00000001 6@12:00:06.000000=12", true},
		{0, time.Hour, 4, want, false},
		{0, time.Hour, 0, "6@12:00:06.000000=12", true}, // limit clamped to 1
		{time.Hour, 0, 100, "", false},                  // to before from
	}
	for _, tc := range tests {
		got, trunc := history(t, d, "AAA", t0.Add(tc.from), t0.Add(tc.to), tc.limit)
		if got != tc.want || trunc != tc.trunc {
			t.Errorf("[%s, %s] limit %d: %s (%v), want %s (%v)", tc.from, tc.to, tc.limit, got, trunc, tc.want, tc.trunc)
		}
	}
	if got, _ := history(t, d, "BBB", t0, t0, 10); got != "1@12:00:00.000000=10.5" {
		t.Fatalf("BBB: %s", got)
	}
	if got, _ := history(t, d, "NOPE", t0, t0.Add(time.Hour), 10); got != "" {
		t.Fatalf("unknown asset: %s", got)
	}

	// Price points are in no catalogue index: the indexes hold exactly the
	// two asset items.
	for _, q := range []store.Query{
		{Table: d.Tables.Inventory, Index: dao.IndexAssetsByRank, PK: "ALL"},
		{Table: d.Tables.Inventory, Index: dao.IndexAssetsByCategory, PK: "CAT#test"},
	} {
		p, err := dao.StoreOf(d).Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, it := range p.Items {
			keys = append(keys, it.Str(store.AttrPK)+"/"+it.Str(store.AttrSK))
		}
		if strings.Join(keys, " ") != "ASSET#AAA/ASSET ASSET#BBB/ASSET" || p.Cursor != "" {
			t.Fatalf("index %s holds %v", q.Index, keys)
		}
	}
	all, err := d.Assets.All(ctx)
	if err != nil || len(all) != 2 {
		t.Fatalf("All: %d, %v", len(all), err)
	}
}

// TestPriceChangeIsAtomic blocks the point a price change would write: the
// change then fails as a whole and the asset is unchanged.
func TestPriceChangeIsAtomic(t *testing.T) {
	d := openDAOs(t)
	ctx := context.Background()
	if err := d.Assets.Create(ctx, newAsset("AAA", "10", 1)); err != nil {
		t.Fatal(err)
	}
	at := t0.Add(time.Minute)
	if err := dao.StoreOf(d).Transact(ctx, []store.Write{d.Assets.PricePointWrite("AAA", decimal.FromInt(1), at, 2)}); err != nil {
		t.Fatal(err)
	}
	_, err := d.Assets.SetPrice(ctx, "AAA", decimal.FromInt(20), at)
	if !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("SetPrice: %v", err)
	}
	a, err := d.Assets.Get(ctx, "AAA")
	if err != nil || a.Version != 1 || a.PriceUSD.String() != "10" {
		t.Fatalf("asset %+v, %v", a, err)
	}
	// A change that does not touch the price needs no point and succeeds.
	if _, err := d.Assets.SetActive(ctx, "AAA", false, at); err != nil {
		t.Fatal(err)
	}
	if got, _ := history(t, d, "AAA", t0, at, 10); got != "1@12:00:00.000000=10 2@12:01:00.000000=1" {
		t.Fatalf("history %s", got)
	}
}

// A price point expires (DynamoDB TTL) PriceHistoryTTL after it was recorded.
func TestPricePointExpiry(t *testing.T) {
	d := newDAOs(t)
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	w := d.Assets.PricePointWrite("XYZ", decimal.MustParse("1.5"), at, 7)
	if err := dao.StoreOf(d).Transact(context.Background(), []store.Write{w}); err != nil {
		t.Fatal(err)
	}
	it, err := dao.StoreOf(d).Get(context.Background(), w.Key())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := it.Int("expires_at"), at.Add(dao.PriceHistoryTTL).Unix(); got != want || want != 1803384000 {
		t.Fatalf("expires_at = %d, want %d", got, want)
	}
}

// TestPricePointWriter: a price change made under WithPriceWriter records
// its writer on the point; one made without it records none.
func TestPricePointWriter(t *testing.T) {
	d := openDAOs(t)
	ctx := context.Background()
	if err := d.Assets.Create(ctx, newAsset("AAA", "10", 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Assets.SetPrice(dao.WithPriceWriter(ctx, "replica-1"), "AAA", decimal.MustParse("11"), t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Assets.SetPrice(ctx, "AAA", decimal.MustParse("12"), t0.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	pts, _, err := d.Assets.PriceHistory(ctx, "AAA", t0, t0.Add(time.Hour), 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range pts {
		got = append(got, fmt.Sprintf("%s=%q", p.Price, p.Writer))
	}
	if want := `10="" 11="replica-1" 12=""`; strings.Join(got, " ") != want {
		t.Fatalf("points %s, want %s", strings.Join(got, " "), want)
	}
}
