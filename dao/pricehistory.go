package dao

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/store"
)

// Price history: every stored price of an asset is a point in the asset's
// own partition of the inventory table,
//
//	PK ASSET#<asset_id>   SK PRICE#<at, TimeLayout>#<seq, 10 digits>
//
// with attributes price_usd (number) and at (TimeLayout text). seq is the
// asset's version after the change that stored the price, so points of one
// microsecond stay distinct and in order. A point has no index attributes:
// it is in no GSI (the catalogue indexes stay assets only). Points are
// written in the same transaction as the asset item (AssetDAO.Create, and
// AssetDAO.Modify when the price changes), so the history is exactly the
// sequence of stored prices. Each point carries expires_at (Unix seconds,
// PriceHistoryTTL after it was recorded): DynamoDB's time to live deletes old
// points, and so does the embedded engine's (store/embedded DeleteExpired).
const skPrice = "PRICE#"

// PriceHistoryTTL is how long DynamoDB keeps a price point.
const PriceHistoryTTL = 90 * 24 * time.Hour

// PricePoint is one recorded price of an asset.
type PricePoint struct {
	At    time.Time // UTC, microseconds
	Price decimal.Decimal
	Seq   int64 // the asset version that stored it
	// Writer names the process that wrote it, when it was written under
	// WithPriceWriter (the price feed of a replica: its lease holder name).
	Writer string
}

// attrWriter is a price point's writer.
const attrWriter = "writer"

type priceWriterKey struct{}

// WithPriceWriter returns a copy of ctx under which the price points that
// AssetDAO.Modify and SetPrice record carry writer as their Writer, so that
// the history tells which process wrote each price.
func WithPriceWriter(ctx context.Context, writer string) context.Context {
	return context.WithValue(ctx, priceWriterKey{}, writer)
}

// PriceWriter is the writer WithPriceWriter put in ctx ("" when none).
func PriceWriter(ctx context.Context) string { return priceWriter(ctx) }

// priceWriter is the writer WithPriceWriter put in ctx ("" when none).
func priceWriter(ctx context.Context) string {
	w, _ := ctx.Value(priceWriterKey{}).(string)
	return w
}

// MaxHistoryPage is the most points one PriceHistory call returns.
const MaxHistoryPage = 100_000

func pricePointSK(at time.Time, seq int64) string {
	return fmt.Sprintf("%s%s#%010d", skPrice, at.UTC().Format(TimeLayout), seq)
}

func (t Tables) pricePointKey(assetID string, at time.Time, seq int64) store.Key {
	return store.Key{Table: t.Inventory, PK: pkAsset + assetID, SK: pricePointSK(at, seq)}
}

// PricePointWrite returns the write that records price as asset id's price
// at `at` (truncated to the microsecond), seq being the asset's version that
// stores it. It fails (condition) if that point exists.
func (d *AssetDAO) PricePointWrite(id string, price decimal.Decimal, at time.Time, seq int64) store.Write {
	at = at.UTC().Truncate(time.Microsecond)
	return putNew(d.t.pricePointKey(id, at, seq), store.Item{"price_usd": num(price), "at": tsv(at),
		store.DefaultTTLAttribute: store.Int(at.Add(PriceHistoryTTL).Unix())})
}

// PriceHistory returns asset id's price points with from <= at <= to, oldest
// first. When more than limit points (1..MaxHistoryPage; clamped) are in the
// range it returns the most recent limit of them and truncated is true. An
// unknown asset has no points (no error): check the asset separately.
func (d *AssetDAO) PriceHistory(ctx context.Context, id string, from, to time.Time, limit int) (points []PricePoint, truncated bool, err error) {
	limit = min(max(limit, 1), MaxHistoryPage)
	if to.Before(from) {
		return nil, false, nil
	}
	q := store.Query{
		Table: d.t.Inventory, PK: pkAsset + id, Desc: true, Limit: min(limit+1, store.MaxQueryLimit),
		SK: store.SortCond{Op: store.SortBetween,
			Value:  skPrice + from.UTC().Truncate(time.Microsecond).Format(TimeLayout),
			Value2: skPrice + to.UTC().Format(TimeLayout) + "#~"},
	}
	// One item more than asked tells whether the range holds more.
	items, err := d.queryAll(ctx, q, limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("price history of %s: %w", id, err)
	}
	if len(items) > limit {
		items, truncated = items[:limit], true
	}
	points = make([]PricePoint, 0, len(items))
	for _, it := range items {
		r := reader{it: it}
		p := PricePoint{Price: r.dec("price_usd"), At: r.time("at"), Writer: it.Str(attrWriter)}
		if r.err != nil {
			return nil, false, fmt.Errorf("price history of %s: %w", id, r.err)
		}
		sk := it.Str(store.AttrSK)
		seq, err := strconv.ParseInt(sk[strings.LastIndexByte(sk, '#')+1:], 10, 64)
		if err != nil {
			return nil, false, fmt.Errorf("price history of %s: sort key %q: %w", id, sk, err)
		}
		p.Seq = seq
		points = append(points, p)
	}
	slices.Reverse(points)
	return points, truncated, nil
}
