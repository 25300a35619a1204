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
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/page"
	"github.com/orderprocessor/orderprocessor/store"
)

func assetIDs(as []*entity.Asset) string {
	var ids []string
	for _, a := range as {
		ids = append(ids, a.AssetID)
	}
	return strings.Join(ids, ",")
}

func getAsset(t *testing.T, d *dao.DAOs, id string) *entity.Asset {
	t.Helper()
	a, err := d.Assets.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("Get asset %s: %v", id, err)
	}
	return a
}

func TestAssetCreateGetUpdate(t *testing.T) {
	d := newDAOs(t)
	ctx := context.Background()
	a := newAsset("BTC", "65000.12345678", 1)
	a.Description, a.Symbol, a.MarketCap = "Bitcoin", "btc", decp("1300000000000.5")
	a.Version = 7 // Create starts at 1 whatever the caller says
	if err := d.Assets.Create(ctx, a); err != nil {
		t.Fatal(err)
	}
	if a.Version != 1 {
		t.Fatalf("version %d", a.Version)
	}
	if got := getAsset(t, d, "BTC"); !reflect.DeepEqual(got, a) {
		t.Fatalf("Get = %+v\nwant %+v", got, a)
	}
	if err := d.Assets.Create(ctx, newAsset("BTC", "1", 2)); err != dao.ErrAssetExists {
		t.Fatalf("duplicate Create: %v", err)
	}
	// Without LastUpdated the first price point is at CreatedAt.
	e := newAsset("ETH", "3000", 2)
	e.LastUpdated, e.CreatedAt = entity.Time{}, entity.At(t0.Add(-time.Hour))
	if err := d.Assets.Create(ctx, e); err != nil {
		t.Fatal(err)
	}
	if got, _ := history(t, d, "ETH", t0.Add(-2*time.Hour), t0, 10); got != "1@11:00:00.000000=3000" {
		t.Fatalf("ETH history %s", got)
	}
	_, err := d.Assets.Get(ctx, "NOPE")
	wantKind(t, "Get(NOPE)", err, apperr.NotFound)
	if msg := apperr.MessageOf(err); msg != "asset NOPE not found" {
		t.Fatalf("message %q", msg)
	}

	// Key and Decode.
	it, err := dao.StoreOf(d).Get(ctx, d.Assets.Key("BTC"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := d.Assets.Decode(it); err != nil || !reflect.DeepEqual(got, a) {
		t.Fatalf("Decode = %+v, %v", got, err)
	}

	// Update: optimistic, no price point.
	t1 := t0.Add(time.Minute)
	a1, a2 := getAsset(t, d, "BTC"), getAsset(t, d, "BTC")
	a1.Name = "Bitcoin!"
	if err := d.Assets.Update(ctx, a1, t1); err != nil {
		t.Fatal(err)
	}
	if a1.Version != 2 || !a1.UpdatedAt.Equal(t1) || !reflect.DeepEqual(getAsset(t, d, "BTC"), a1) {
		t.Fatalf("after Update %+v", a1)
	}
	a2.Name = "stale"
	err = d.Assets.Update(ctx, a2, t1)
	wantKind(t, "stale Update", err, apperr.Conflict)
	if msg := apperr.MessageOf(err); msg != "asset BTC changed concurrently; retry" || a2.Version != 1 {
		t.Fatalf("stale Update: %q v%d", msg, a2.Version)
	}
	wantCanceled(t, "Update", d.Assets.Update(canceled(), a1, t1), "update asset BTC: ")
	if a1.Version != 2 {
		t.Fatalf("version after canceled Update %d", a1.Version)
	}
	wantCanceled(t, "Create", d.Assets.Create(canceled(), newAsset("SOL", "1", 3)), "create asset SOL: ")
	if _, err := d.Assets.Get(canceled(), "BTC"); !errors.Is(err, context.Canceled) || apperr.Is(err, apperr.NotFound) {
		t.Fatalf("Get canceled: %v", err)
	}
}

func TestAssetModify(t *testing.T) {
	d := newDAOs(t)
	ctx := context.Background()
	if err := d.Assets.Create(ctx, newAsset("BTC", "100", 1)); err != nil {
		t.Fatal(err)
	}
	t1, t2 := t0.Add(time.Minute), t0.Add(2*time.Minute)

	// A concurrent change between Modify's read and write: Modify reads
	// again and applies fn to the new state.
	calls := 0
	a, err := d.Assets.Modify(ctx, "BTC", t2, func(a *entity.Asset) error {
		calls++
		if calls == 1 {
			if _, err := d.Assets.SetActive(ctx, "BTC", false, t1); err != nil {
				return err
			}
		}
		a.PriceUSD = dec("110")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 2 || a.Version != 3 || a.IsActive || !a.PriceUSD.Equal(dec("110")) || !a.UpdatedAt.Equal(t2) {
		t.Fatalf("after Modify (calls %d): %+v", calls, a)
	}
	if !reflect.DeepEqual(getAsset(t, d, "BTC"), a) {
		t.Fatalf("stored differs from returned")
	}
	// The price change of the retried write is recorded once, at its version.
	if got, _ := history(t, d, "BTC", t0, t2, 10); got != "1@12:00:00.000000=100 3@12:02:00.000000=110" {
		t.Fatalf("history %s", got)
	}

	// fn's error comes back unchanged and nothing is written.
	stop := errors.New("stop")
	if _, err := d.Assets.Modify(ctx, "BTC", t2, func(*entity.Asset) error { return stop }); err != stop {
		t.Fatalf("Modify with failing fn: %v", err)
	}
	_, err = d.Assets.Modify(ctx, "NOPE", t2, func(*entity.Asset) error { t.Fatal("fn called"); return nil })
	wantKind(t, "Modify(NOPE)", err, apperr.NotFound)
	_, err = d.Assets.Modify(canceled(), "BTC", t2, func(*entity.Asset) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Modify canceled: %v", err)
	}

	// SetActive and SetPrice.
	a, err = d.Assets.SetActive(ctx, "BTC", true, t2)
	if err != nil || !a.IsActive || a.Version != 4 {
		t.Fatalf("SetActive = %+v, %v", a, err)
	}
	t3 := t0.Add(3 * time.Minute)
	a, err = d.Assets.SetPrice(ctx, "BTC", dec("99.99999999"), t3)
	if err != nil || !a.PriceUSD.Equal(dec("99.99999999")) || !a.LastUpdated.Equal(t3) || a.Version != 5 {
		t.Fatalf("SetPrice = %+v, %v", a, err)
	}
	if got := getAsset(t, d, "BTC"); !reflect.DeepEqual(got, a) {
		t.Fatalf("stored %+v", got)
	}
	if got, _ := history(t, d, "BTC", t0, t3, 10); got != "1@12:00:00.000000=100 3@12:02:00.000000=110 5@12:03:00.000000=99.99999999" {
		t.Fatalf("history %s", got)
	}
	if _, err := d.Assets.SetPrice(ctx, "NOPE", dec("1"), t3); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("SetPrice(NOPE): %v", err)
	}
}

func TestAssetList(t *testing.T) {
	d := newDAOs(t)
	ctx := context.Background()
	mk := func(id string, rank *int, category string, active bool) *entity.Asset {
		a := newAsset(id, "1", 0)
		a.MarketCapRank, a.Category, a.IsActive = rank, category, active
		return a
	}
	r := func(n int) *int { return &n }
	assets := []*entity.Asset{
		mk("AAA", r(3), "defi", true),
		mk("BBB", r(1), "layer1", true),
		mk("ZZZ", nil, "layer1", false),
		mk("CCC", nil, "defi", true),
		mk("DDD", r(2), "", false),
		mk("EEE", r(10), "layer1", true),
		mk("FFF", r(-5), "defi", true), // not a rank: last
		mk("GGG", r(9999999999), "defi", false),
		mk("HHH", r(9999999998), "layer1", true),
	}
	for _, a := range assets {
		if err := d.Assets.Create(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		f    dao.AssetFilter
		want string
	}{
		{dao.AssetFilter{Limit: 100}, "BBB,DDD,AAA,EEE,HHH,CCC,FFF,GGG,ZZZ"},
		{dao.AssetFilter{Limit: 2}, "BBB,DDD,AAA,EEE,HHH,CCC,FFF,GGG,ZZZ"},
		{dao.AssetFilter{Limit: 0}, "BBB,DDD,AAA,EEE,HHH,CCC,FFF,GGG,ZZZ"},
		{dao.AssetFilter{Limit: 2000}, "BBB,DDD,AAA,EEE,HHH,CCC,FFF,GGG,ZZZ"},
		{dao.AssetFilter{ActiveOnly: true, Limit: 3}, "BBB,AAA,EEE,HHH,CCC,FFF"},
		{dao.AssetFilter{Category: "defi", Limit: 2}, "AAA,CCC,FFF,GGG"},
		{dao.AssetFilter{Category: "layer1", ActiveOnly: true, Limit: 1}, "BBB,EEE,HHH"},
		{dao.AssetFilter{Category: "none", Limit: 5}, ""},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%+v", tc.f), func(t *testing.T) {
			f := tc.f
			var got []*entity.Asset
			for pages := 0; ; pages++ {
				if pages > 20 {
					t.Fatal("paging does not end")
				}
				as, next, err := d.Assets.List(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				if n := max(f.Limit, 1); len(as) > n || (next != "" && len(as) != n) {
					t.Fatalf("page of %d, limit %d, next %q", len(as), f.Limit, next)
				}
				got = append(got, as...)
				if f.Cursor = next; next == "" {
					break
				}
			}
			if s := assetIDs(got); s != tc.want {
				t.Fatalf("got  %s\nwant %s", s, tc.want)
			}
		})
	}
	as, _, err := d.Assets.List(ctx, dao.AssetFilter{Limit: 1})
	if err != nil || len(as) != 1 || !reflect.DeepEqual(as[0], assets[1]) {
		t.Fatalf("first item %+v, %v", as, err)
	}
	_, next, _ := d.Assets.List(ctx, dao.AssetFilter{Limit: 1})
	if _, _, err := d.Assets.List(ctx, dao.AssetFilter{Category: "defi", Limit: 1, Cursor: next}); !errors.Is(err, page.ErrInvalidCursor) {
		t.Fatalf("cursor of another query: %v", err)
	}
	all, err := d.Assets.All(ctx)
	if err != nil || assetIDs(all) != "BBB,DDD,AAA,EEE,HHH,CCC,FFF,GGG,ZZZ" || !reflect.DeepEqual(all[0], assets[1]) {
		t.Fatalf("All = %s, %v", assetIDs(all), err)
	}
	// A rank change moves the asset; the category index follows a
	// category change.
	if _, err := d.Assets.Modify(ctx, "ZZZ", t0, func(a *entity.Asset) error {
		a.MarketCapRank, a.Category = r(0), "defi"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if all, _ := d.Assets.All(ctx); assetIDs(all) != "ZZZ,BBB,DDD,AAA,EEE,HHH,CCC,FFF,GGG" {
		t.Fatalf("after rank change: %s", assetIDs(all))
	}
	for cat, want := range map[string]string{"defi": "ZZZ,AAA,CCC,FFF,GGG", "layer1": "BBB,EEE,HHH"} {
		if as, _, err := d.Assets.List(ctx, dao.AssetFilter{Category: cat, Limit: 100}); err != nil || assetIDs(as) != want {
			t.Fatalf("category %s: %s, %v", cat, assetIDs(as), err)
		}
	}

	_, _, err = d.Assets.List(canceled(), dao.AssetFilter{Limit: 1})
	wantCanceled(t, "List", err, "list assets: ")
	_, err = d.Assets.All(canceled())
	wantCanceled(t, "All", err, "list assets: ")
}

func TestAssetDecodeQuote(t *testing.T) {
	d := newDAOs(t)
	ctx := context.Background()
	a := newAsset("BTC", "65000.12345678", 1)
	a.IsActive = false
	if err := d.Assets.Create(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Assets.SetActive(ctx, "BTC", true, t0); err != nil {
		t.Fatal(err)
	}
	items, err := dao.StoreOf(d).BatchGet(ctx, []store.Key{d.Assets.Key("BTC")})
	if err != nil {
		t.Fatal(err)
	}
	q, err := d.Assets.DecodeQuote(items[0])
	if want := (dao.Quote{AssetID: "BTC", PriceUSD: dec("65000.12345678"), IsActive: true}); err != nil || !reflect.DeepEqual(q, want) {
		t.Fatalf("DecodeQuote = %+v, %v; want %+v", q, err, want)
	}
	bad := store.Item{store.AttrPK: store.S("ASSET#BAD"), store.AttrSK: store.S("ASSET"), "price_usd": store.S("1")}
	if _, err := d.Assets.DecodeQuote(bad); err == nil || !strings.Contains(err.Error(), "attribute price_usd of ASSET#BAD/ASSET") {
		t.Fatalf("DecodeQuote of a non-number price: %v", err)
	}
}

// TestAssetCatalogueBound: Create refuses an asset beyond the catalogue's
// bound (lowered to 3 here; MaxCatalogue in service), so that All and a
// user's holdings stay bounded reads.
func TestAssetCatalogueBound(t *testing.T) {
	dao.SetCatalogueLimit(t.Cleanup, 3)
	d := newDAOs(t)
	ctx := context.Background()
	for i, id := range []string{"AAA", "BBB", "CCC"} {
		if err := d.Assets.Create(ctx, newAsset(id, "1", i+1)); err != nil {
			t.Fatal(err)
		}
	}
	err := d.Assets.Create(ctx, newAsset("DDD", "1", 4))
	if !errors.Is(err, dao.ErrCatalogueFull) || apperr.KindOf(err) != apperr.Conflict {
		t.Fatalf("Create beyond the bound: %v", err)
	}
	if _, err := d.Assets.Get(ctx, "DDD"); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("the refused asset was written: %v", err)
	}
	if all, err := d.Assets.All(ctx); err != nil || assetIDs(all) != "AAA,BBB,CCC" {
		t.Fatalf("All = %s, %v", assetIDs(all), err)
	}
	if dao.MaxHoldings != dao.MaxCatalogue || dao.MaxCatalogue != 10_000 {
		t.Fatalf("bounds %d %d", dao.MaxHoldings, dao.MaxCatalogue)
	}
	if err := d.Assets.Create(canceled(), newAsset("EEE", "1", 5)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Create canceled: %v", err)
	}
}
