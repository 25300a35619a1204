package dao

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/page"
	"github.com/orderprocessor/orderprocessor/store"
)

// Exchange rates: the rate of each currency other than USD is an item of
// the inventory table with its history in the same partition, as an
// asset's price and its points:
//
//	PK FX#<currency>   SK RATE                                  the current rate
//	PK FX#<currency>   SK HIST#<at, TimeLayout>#<seq, 10 digits> one point per stored rate
//
// The current item has rate (the USD value of one unit of the currency:
// the pair <currency>-USD), at (when the rate was observed or set),
// version and source ("seed", "admin:<name>", "feed:<holder>"). A point
// repeats rate, at and source; seq is the version that stored it. A rate
// and its point are written in one transaction, so the history is exactly
// the sequence of stored rates. Points carry expires_at, FXHistoryTTL after
// them (time to live, both engines). USD has no item: its rate is 1.
const (
	pkFX   = "FX#"
	skRate = "RATE"
	skHist = "HIST#"
)

// FXHistoryTTL is how long a rate's history point is kept.
const FXHistoryTTL = 90 * 24 * time.Hour

// FXRate is the stored rate of one currency.
type FXRate struct {
	Currency entity.Currency
	// Rate is the USD value of one unit of Currency (the pair Currency-USD).
	Rate    decimal.Decimal
	At      time.Time // when the rate was observed or set (UTC, microseconds)
	Version int64
	Source  string
}

// FXPoint is one point of a rate's history.
type FXPoint struct {
	Rate   decimal.Decimal
	At     time.Time
	Seq    int64
	Source string
}

// FXDAO stores the exchange rates and their history.
type FXDAO struct{ base }

func (t Tables) fxKey(c entity.Currency) store.Key {
	return store.Key{Table: t.Inventory, PK: pkFX + string(c), SK: skRate}
}

func (t Tables) fxPointKey(c entity.Currency, at time.Time, seq int64) store.Key {
	return store.Key{Table: t.Inventory, PK: pkFX + string(c),
		SK: fmt.Sprintf("%s%s#%010d", skHist, at.UTC().Format(TimeLayout), seq)}
}

// Key returns the store key of currency c's rate (for batch reads).
func (d *FXDAO) Key(c entity.Currency) store.Key { return d.t.fxKey(c) }

// Decode decodes a rate item read with Key.
func (d *FXDAO) Decode(it store.Item) (*FXRate, error) {
	r := reader{it: it}
	fx := &FXRate{Currency: entity.Currency(strings.TrimPrefix(it.Str(store.AttrPK), pkFX)), Rate: r.dec("rate"),
		At: r.time("at"), Version: it.Int("version"), Source: it.Str("source")}
	if r.err != nil {
		return nil, fmt.Errorf("fx rate: %w", r.err)
	}
	return fx, nil
}

// Get returns currency c's stored rate; a not_found error when none is stored.
func (d *FXDAO) Get(ctx context.Context, c entity.Currency) (*FXRate, error) {
	it, err := d.s.Get(ctx, d.t.fxKey(c))
	if err != nil {
		return nil, notFound(fmt.Errorf("fx rate %s: %w", c, err), "no rate stored for %s", c)
	}
	return d.Decode(it)
}

// All returns the stored rates of the currencies other than USD, in
// entity.Currencies order (a currency without a stored rate is left out),
// in one batch read.
func (d *FXDAO) All(ctx context.Context) ([]*FXRate, error) {
	var keys []store.Key
	for _, c := range entity.Currencies() {
		if c != entity.USD {
			keys = append(keys, d.t.fxKey(c))
		}
	}
	items, err := d.s.BatchGet(ctx, keys)
	if err != nil {
		return nil, fmt.Errorf("fx rates: %w", err)
	}
	var out []*FXRate
	for _, it := range items {
		if it == nil {
			continue
		}
		r, err := d.Decode(it)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func (d *FXDAO) writes(c entity.Currency, rate decimal.Decimal, at time.Time, source string, read int64) []store.Write {
	at = at.UTC().Truncate(time.Microsecond)
	it := store.Item{"rate": num(rate), "at": tsv(at), "version": store.Int(read + 1), "source": store.S(source)}
	cur := store.Put{Key: d.t.fxKey(c), Item: it, Cond: store.ItemNotExists()}
	if read > 0 {
		cur.Cond = store.VersionIs(read)
	}
	point := putNew(d.t.fxPointKey(c, at, read+1), store.Item{"rate": num(rate), "at": tsv(at), "source": store.S(source),
		store.DefaultTTLAttribute: store.Int(at.Add(FXHistoryTTL).Unix())})
	return []store.Write{{Put: &cur}, point}
}

// Set stores rate as currency c's rate observed at `at` by source, with
// its history point, in one transaction conditional on the version read
// (retried when a concurrent set wins). A rate equal to the stored one
// with an `at` not after it changes nothing. It returns the stored rate.
func (d *FXDAO) Set(ctx context.Context, c entity.Currency, rate decimal.Decimal, at time.Time, source string) (*FXRate, error) {
	if c == entity.USD || !c.Valid() {
		return nil, fmt.Errorf("fx rate of %q: not a currency with a rate", c)
	}
	if !rate.IsPositive() {
		return nil, fmt.Errorf("fx rate of %s: %s is not positive", c, rate)
	}
	at = at.UTC().Truncate(time.Microsecond)
	for attempt := 0; ; attempt++ {
		cur, err := d.Get(ctx, c)
		var read int64
		switch {
		case err == nil:
			read = cur.Version
			if cur.Rate.Equal(rate) && !at.After(cur.At) {
				return cur, nil
			}
		case !apperr.Is(err, apperr.NotFound):
			return nil, err
		}
		err = d.s.Transact(ctx, d.writes(c, rate, at, source, read))
		if err == nil {
			return &FXRate{Currency: c, Rate: rate, At: at, Version: read + 1, Source: source}, nil
		}
		if !errors.Is(err, store.ErrConditionFailed) && !errors.Is(err, store.ErrTxConflict) || attempt >= 20 {
			return nil, fmt.Errorf("set fx rate %s: %w", c, err)
		}
	}
}

// Seed stores each rate of rates (USD value of one unit, by currency code;
// USD and unknown codes are skipped) whose currency has no stored rate,
// at `at` with source "seed"; a stored rate is kept. It returns how many it
// stored.
func (d *FXDAO) Seed(ctx context.Context, rates map[string]decimal.Decimal, at time.Time) (int, error) {
	n := 0
	for _, c := range entity.Currencies() {
		rate, ok := rates[string(c)]
		if c == entity.USD || !ok {
			continue
		}
		err := d.s.Transact(ctx, d.writes(c, rate, at, "seed", 0))
		switch {
		case err == nil:
			n++
		case errors.Is(err, store.ErrConditionFailed) || errors.Is(err, store.ErrTxConflict):
			// stored already (or being seeded by another process)
		default:
			return n, fmt.Errorf("seed fx rate %s: %w", c, err)
		}
	}
	return n, nil
}

// MaxFXHistoryPage is the most points one History call returns.
const MaxFXHistoryPage = 1000

// RateAt returns the rate currency c had at t: the newest point of its
// history at or before t; found is false when the history holds none (the
// points are kept FXHistoryTTL).
func (d *FXDAO) RateAt(ctx context.Context, c entity.Currency, t time.Time) (rate decimal.Decimal, found bool, err error) {
	rate, found, err = d.pointAt(ctx, pkFX+string(c), skHist, "rate", t)
	if err != nil {
		return decimal.Zero, false, fmt.Errorf("fx rate of %s at %s: %w", c, t.Format(time.RFC3339), err)
	}
	return rate, found, nil
}

// History returns currency c's points with from <= at <= to, newest first,
// at most limit (1..MaxFXHistoryPage; clamped), and the cursor of the next
// (older) page, "" when none follows. A cursor is signed and names its
// currency: another currency's, or one not made here, is
// page.ErrInvalidCursor.
func (d *FXDAO) History(ctx context.Context, c entity.Currency, from, to time.Time, limit int, cursor string) ([]FXPoint, string, error) {
	limit = min(max(limit, 1), MaxFXHistoryPage)
	if to.Before(from) {
		return nil, "", nil
	}
	hi := skHist + to.UTC().Format(TimeLayout) + "#~"
	after := ""
	if cursor != "" {
		payload, err := d.cursors.Decode(cursor)
		if err != nil {
			return nil, "", err
		}
		sk, ok := strings.CutPrefix(string(payload), "FX"+string(c)+"\x00")
		if !ok || !strings.HasPrefix(sk, skHist) {
			return nil, "", page.ErrInvalidCursor
		}
		after, hi = sk, min(hi, sk)
	}
	q := store.Query{Table: d.t.Inventory, PK: pkFX + string(c), Desc: true, Limit: min(limit+2, store.MaxQueryLimit),
		SK: store.SortCond{Op: store.SortBetween, Value: skHist + from.UTC().Truncate(time.Microsecond).Format(TimeLayout), Value2: hi}}
	// Two items more than asked: the cursor's own point (the range is
	// inclusive), and one that tells whether more follow.
	items, err := d.queryAll(ctx, q, limit+2)
	if err != nil {
		return nil, "", fmt.Errorf("fx history of %s: %w", c, err)
	}
	if len(items) > 0 && items[0].Str(store.AttrSK) == after {
		items = items[1:]
	}
	next := ""
	if len(items) > limit {
		items = items[:limit]
		next = d.cursors.Encode([]byte("FX" + string(c) + "\x00" + items[limit-1].Str(store.AttrSK)))
	}
	points := make([]FXPoint, 0, len(items))
	for _, it := range items {
		r := reader{it: it}
		p := FXPoint{Rate: r.dec("rate"), At: r.time("at"), Source: it.Str("source")}
		if r.err != nil {
			return nil, "", fmt.Errorf("fx history of %s: %w", c, r.err)
		}
		sk := it.Str(store.AttrSK)
		seq, err := strconv.ParseInt(sk[strings.LastIndexByte(sk, '#')+1:], 10, 64)
		if err != nil {
			return nil, "", fmt.Errorf("fx history of %s: sort key %q: %w", c, sk, err)
		}
		p.Seq = seq
		points = append(points, p)
	}
	return points, next, nil
}
