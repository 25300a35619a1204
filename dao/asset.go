package dao

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/store"
)

// AssetDAO stores the catalogue. An asset is a JSON document plus the
// attributes that conditions and indexes need (price_usd, is_active, rank and
// category keys).
type AssetDAO struct{ base }

// noRank sorts assets without a market-cap rank last.
const noRank = 9999999999

// ErrAssetExists is returned when creating an asset id that exists.
var ErrAssetExists = apperr.New(apperr.Conflict, "asset already exists")

// MaxCatalogue bounds the catalogue: Create refuses an asset beyond it, so
// that the reads of the whole catalogue (All) and of a user's holdings (at
// most one per asset: HoldingDAO.List) stay bounded.
const MaxCatalogue = 10_000

// catalogueLimit is MaxCatalogue; tests lower it.
var catalogueLimit = MaxCatalogue

// ErrCatalogueFull is returned when creating an asset in a catalogue of
// MaxCatalogue assets.
var ErrCatalogueFull = apperr.New(apperr.Conflict, "the catalogue holds its maximum of 10000 assets")

func rankKey(a *entity.Asset) string {
	r := noRank
	if a.MarketCapRank != nil && *a.MarketCapRank >= 0 && *a.MarketCapRank < noRank {
		r = *a.MarketCapRank
	}
	return fmt.Sprintf("%010d#%s", r, a.AssetID)
}

func (d *AssetDAO) item(a *entity.Asset) (store.Item, error) {
	doc, err := docValue(a)
	if err != nil {
		return nil, err
	}
	it := store.Item{
		"doc": doc, "price_usd": num(a.PriceUSD), "is_active": store.Bool(a.IsActive),
		"version": store.Int(a.Version), attrRankPK: store.S("ALL"), attrRankSK: store.S(rankKey(a)),
	}
	if a.Category != "" {
		it[attrCatPK] = store.S("CAT#" + a.Category)
		it[attrCatSK] = store.S(rankKey(a))
	}
	return it, nil
}

func (d *AssetDAO) decode(it store.Item) (*entity.Asset, error) {
	var a entity.Asset
	if err := decodeDoc(it, &a); err != nil {
		return nil, err
	}
	a.Version = it.Int("version")
	return &a, nil
}

// Create stores a new asset (version 1) and its first price point (at its
// LastUpdated, else CreatedAt), in one transaction; ErrAssetExists when the
// id is taken, ErrCatalogueFull when the catalogue holds MaxCatalogue assets
// (counted before the write: concurrent creates may pass it by a few).
func (d *AssetDAO) Create(ctx context.Context, a *entity.Asset) error {
	n, err := d.count(ctx)
	if err != nil {
		return fmt.Errorf("create asset %s: %w", a.AssetID, err)
	}
	if n >= catalogueLimit {
		return ErrCatalogueFull
	}
	a.Version = 1
	at := a.LastUpdated.Time
	if at.IsZero() {
		at = a.CreatedAt.Time
	}
	a.PriceHours.NotePrice(at, a.PriceUSD)
	it, err := d.item(a)
	if err != nil {
		return err
	}
	var tx Tx
	tx.Add(RoleAsset, putNew(d.t.assetKey(a.AssetID), it))
	tx.Add(RolePricePoint, d.PricePointWrite(a.AssetID, a.PriceUSD, at, a.Version))
	writes := tx.Writes()
	err = d.s.Transact(ctx, writes)
	for attempt := 0; attempt < 5 && errors.Is(err, store.ErrTxConflict) && !errors.Is(err, store.ErrConditionFailed); attempt++ {
		err = d.s.Transact(ctx, writes) // a concurrent create of the same id: retry to learn who won
	}
	if err != nil {
		if r, _ := tx.Failed(err, RoleAsset); r == RoleAsset {
			return ErrAssetExists
		}
		return fmt.Errorf("create asset %s: %w", a.AssetID, err)
	}
	return nil
}

// Get returns the asset (id already normalised) or a not_found error.
func (d *AssetDAO) Get(ctx context.Context, id string) (*entity.Asset, error) {
	it, err := d.s.Get(ctx, d.t.assetKey(id))
	if err != nil {
		return nil, notFound(err, "asset %s not found", id)
	}
	return d.decode(it)
}

// Key returns the store key of an asset (for batch reads).
func (d *AssetDAO) Key(id string) store.Key { return d.t.assetKey(id) }

// Decode decodes an asset item read with Key.
func (d *AssetDAO) Decode(it store.Item) (*entity.Asset, error) { return d.decode(it) }

// Quote is what trading needs of an asset: read from the item's attributes
// without decoding its document (the hot path of every order).
type Quote struct {
	AssetID  string
	PriceUSD decimal.Decimal
	IsActive bool
}

// GetQuote returns the quote of the asset id; found is false when there is
// no such asset.
func (d *AssetDAO) GetQuote(ctx context.Context, id string) (q Quote, found bool, err error) {
	it, err := d.s.Get(ctx, d.Key(id))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return Quote{}, false, nil
	case err != nil:
		return Quote{}, false, err
	}
	q, err = d.DecodeQuote(it)
	return q, err == nil, err
}

// DecodeQuote returns the quote of an asset item read with Key.
func (d *AssetDAO) DecodeQuote(it store.Item) (Quote, error) {
	r := reader{it: it}
	q := Quote{AssetID: strings.TrimPrefix(r.str(store.AttrPK), pkAsset), PriceUSD: r.dec("price_usd"), IsActive: it.Bool("is_active")}
	return q, r.err
}

// Update stores a (read at a.Version) if it did not change since, and
// increments a.Version. A conflict error when it changed or is gone (assets are
// never deleted).
// It records no price point: change prices with Modify or SetPrice.
func (d *AssetDAO) Update(ctx context.Context, a *entity.Asset, now time.Time) error {
	return d.update(ctx, a, now, false)
}

// update is Update, also recording a.PriceUSD as a price point at now in
// the same transaction, and in the asset's price hours
// (entity.PriceHours.NotePrice), when point is set.
func (d *AssetDAO) update(ctx context.Context, a *entity.Asset, now time.Time, point bool) error {
	read := a.Version
	a.Version++
	a.UpdatedAt = entity.At(now)
	if point {
		a.PriceHours.NotePrice(now, a.PriceUSD)
	}
	it, err := d.item(a)
	if err != nil {
		a.Version = read
		return err
	}
	put := store.Put{Key: d.t.assetKey(a.AssetID), Item: it, Cond: store.VersionIs(read)}
	if point {
		pp := d.PricePointWrite(a.AssetID, a.PriceUSD, now, a.Version)
		if w := priceWriter(ctx); w != "" {
			pp.Put.Item[attrWriter] = store.S(w)
		}
		err = d.s.Transact(ctx, []store.Write{{Put: &put}, pp})
	} else {
		err = d.s.Put(ctx, put)
	}
	if err != nil {
		a.Version = read
		if errors.Is(err, store.ErrConditionFailed) || errors.Is(err, store.ErrTxConflict) {
			return apperr.New(apperr.Conflict, "asset %s changed concurrently; retry", a.AssetID)
		}
		return fmt.Errorf("update asset %s: %w", a.AssetID, err)
	}
	return nil
}

// Modify reads the asset, applies fn and stores it, retrying when a
// concurrent change wins. fn may be called more than once. When fn changes
// the price, the new price is recorded as a price point at now in the same
// transaction (see PriceHistory).
func (d *AssetDAO) Modify(ctx context.Context, id string, now time.Time, fn func(*entity.Asset) error) (*entity.Asset, error) {
	for attempt := 0; ; attempt++ {
		a, err := d.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		old := a.PriceUSD
		if err := fn(a); err != nil {
			return nil, err
		}
		err = d.update(ctx, a, now, !a.PriceUSD.Equal(old))
		if err == nil {
			return a, nil
		}
		if !apperr.Is(err, apperr.Conflict) || attempt >= 20 {
			return nil, err
		}
	}
}

// SetActive activates or deactivates an asset.
func (d *AssetDAO) SetActive(ctx context.Context, id string, active bool, now time.Time) (*entity.Asset, error) {
	return d.Modify(ctx, id, now, func(a *entity.Asset) error { a.IsActive = active; return nil })
}

// SetPrice sets an asset's price (and last_updated), recording a price point
// when it changes.
func (d *AssetDAO) SetPrice(ctx context.Context, id string, price decimal.Decimal, now time.Time) (*entity.Asset, error) {
	return d.Modify(ctx, id, now, func(a *entity.Asset) error {
		a.PriceUSD = price
		a.LastUpdated = entity.At(now)
		return nil
	})
}

// AssetFilter selects catalogue entries.
type AssetFilter struct {
	ActiveOnly bool
	Category   string
	Limit      int
	Cursor     string
}

// List returns assets ordered by market-cap rank (unranked last, then by id)
// and the next page's cursor.
func (d *AssetDAO) List(ctx context.Context, f AssetFilter) ([]*entity.Asset, string, error) {
	q := store.Query{Table: d.t.Inventory, Index: IndexAssetsByRank, PK: "ALL", Cursor: f.Cursor}
	if f.Category != "" {
		q = store.Query{Table: d.t.Inventory, Index: IndexAssetsByCategory, PK: "CAT#" + f.Category, Cursor: f.Cursor}
	}
	var keep func(store.Item) bool
	if f.ActiveOnly {
		keep = func(it store.Item) bool { return it.Bool("is_active") }
	}
	items, next, err := d.filterPage(ctx, q, max(f.Limit, 1), 10000, keep)
	if err != nil {
		return nil, "", fmt.Errorf("list assets: %w", err)
	}
	out, err := decodeAll(items, d.decode)
	if err != nil {
		return nil, "", err
	}
	return out, next, nil
}

// count returns the number of assets in the catalogue (at most
// MaxCatalogue: it reads no further), a page at a time.
func (d *AssetDAO) count(ctx context.Context) (int, error) {
	q := store.Query{Table: d.t.Inventory, Index: IndexAssetsByRank, PK: "ALL"}
	n := 0
	for {
		p, err := d.s.Query(ctx, q)
		if err != nil {
			return 0, err
		}
		n += len(p.Items)
		if p.Cursor == "" || n >= catalogueLimit {
			return n, nil
		}
		q.Cursor = p.Cursor
	}
}

// All returns the whole catalogue in rank order (at most MaxCatalogue assets).
func (d *AssetDAO) All(ctx context.Context) ([]*entity.Asset, error) {
	items, err := d.queryAll(ctx, store.Query{Table: d.t.Inventory, Index: IndexAssetsByRank, PK: "ALL"}, MaxCatalogue)
	if err != nil {
		return nil, fmt.Errorf("list assets: %w", err)
	}
	return decodeAll(items, d.decode)
}
