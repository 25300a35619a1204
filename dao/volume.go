package dao

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/store"
)

// VolumeDAO keeps the trading volume per asset in time buckets (docs/data-model.md):
//
//   - every fill ADDs its quantity, notional and one trade to a volume
//     shard item of its minute, in the fill's own transaction: one item per
//     fill, one of VolumeShards per minute (chosen by the user), so no
//     item is written by every order;
//   - a rollup (Roll, run by one process at a time under a lease) sums each
//     closed minute's shards into the minute, hour and day buckets of each
//     asset and of the platform (PlatformAsset), exactly once per minute
//     and asset, and records the last minute it rolled (the checkpoint);
//   - a query (Buckets) reads the buckets of the range and adds the shards
//     of the minutes not rolled yet, so it is exact at any moment and costs
//     O(buckets).
type VolumeDAO struct {
	base
	minute atomic.Pointer[minuteKeys] // the shard keys of the current minute
}

// VolumeShards is the number of shard items a minute's fills spread over.
const VolumeShards = 64

// PlatformAsset is the pseudo asset id of the platform's totals (every
// asset together) in the rolled buckets.
const PlatformAsset = "*"

// Interval is the width of a volume bucket.
type Interval string

// The bucket widths.
const (
	Minute Interval = "1m"
	Hour   Interval = "1h"
	Day    Interval = "1d"
)

// Duration returns the width of i.
func (i Interval) Duration() time.Duration {
	switch i {
	case Minute:
		return time.Minute
	case Hour:
		return time.Hour
	}
	return 24 * time.Hour
}

// Truncate returns the start of the bucket of i that holds t (UTC).
func (i Interval) Truncate(t time.Time) time.Time {
	t = t.UTC()
	if i == Day {
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	}
	return t.Truncate(i.Duration())
}

// label returns the sort-key suffix of the bucket of i starting at t.
func (i Interval) label(t time.Time) string {
	switch i {
	case Minute:
		return t.UTC().Format(minuteLayout)
	case Hour:
		return t.UTC().Format("2006-01-02T15")
	}
	return t.UTC().Format("2006-01-02")
}

const (
	minuteLayout = "2006-01-02T15:04"
	pkVolShard   = "VOLS#" // VOLS#<minute>#<shard> / <asset_id>
	pkVolume     = "VOL#"  // VOL#<asset_id> / <interval>#<bucket>
	pkVolRoll    = "VOLROLL"
	attrQuantity = "quantity"
	attrNotional = "notional"
	attrTrades   = "trades"
	attrThrough  = "through" // the last minute rolled into an hour or day bucket, or the checkpoint
	attrSince    = "since"   // the checkpoint's first minute with volume records
	// volumeShardTTL is how long a shard item is kept after its minute:
	// the rolled buckets hold its figures by then.
	volumeShardTTL = 48 * time.Hour
)

// minuteKeys are the shard partition keys of one minute, built once per
// minute and shared by its fills.
type minuteKeys struct {
	unix    int64 // the minute's start, Unix seconds
	pks     [VolumeShards]string
	expires store.Value
}

var oneTrade = store.Int(1)

func (d *VolumeDAO) keysOf(at time.Time) *minuteKeys {
	m := at.Unix() - at.Unix()%60
	if k := d.minute.Load(); k != nil && k.unix == m {
		return k
	}
	start := time.Unix(m, 0).UTC()
	k := &minuteKeys{unix: m, expires: store.Int(start.Add(volumeShardTTL).Unix())}
	for s := range k.pks {
		k.pks[s] = shardPK(start, s)
	}
	d.minute.Store(k)
	return k
}

func shardPK(minute time.Time, shard int) string {
	return pkVolShard + minute.UTC().Format(minuteLayout) + "#" + strconv.Itoa(shard/10) + strconv.Itoa(shard%10)
}

// shardOf spreads the fills of one minute over the shards by their user:
// a user's fills are one after another anyway (they write the user's
// balance), so they never wait for each other on the shard, and two users
// share a shard with a chance of 1 in VolumeShards.
func shardOf(username string) int {
	h := uint32(2166136261) // FNV-1a
	for i := 0; i < len(username); i++ {
		h ^= uint32(username[i])
		h *= 16777619
	}
	return int(h % VolumeShards)
}

// Count is what one transaction adds to its minute's volume shard: a fill
// (Fill, with its quantity and notional, the value traded before fees),
// the placement of an order (Placed, its type, and Status, its status once
// placed), and whether it is the user's first placement of the UTC day
// (Active: the same transaction creates the user's ActiveWrite marker).
type Count struct {
	Fill     bool
	Quantity decimal.Decimal
	Notional decimal.Decimal
	Placed   entity.OrderType
	Status   entity.OrderStatus
	Active   bool
}

// Count attributes: placements by type ("pt_<type>") and by status once
// placed ("ps_<status>"), and users active (a first placement of the day).
const (
	prefixPlacedType   = "pt_"
	prefixPlacedStatus = "ps_"
	attrActive         = "active"
)

// typeAttrs and statusAttrs are the count attributes of the known types
// and statuses, built once.
var (
	typeAttrs   = map[entity.OrderType]string{}
	statusAttrs = map[entity.OrderStatus]string{}
)

func init() {
	for _, t := range entity.OrderTypes() {
		typeAttrs[t] = prefixPlacedType + string(t)
	}
	for _, st := range entity.OrderStatuses() {
		statusAttrs[st] = prefixPlacedStatus + string(st)
	}
}

func typeAttr(t entity.OrderType) string {
	if a, ok := typeAttrs[t]; ok {
		return a
	}
	return prefixPlacedType + string(t)
}

func statusAttr(st entity.OrderStatus) string {
	if a, ok := statusAttrs[st]; ok {
		return a
	}
	return prefixPlacedStatus + string(st)
}

// CountWrite returns the write that adds c, of username's transaction at at
// on assetID, to its minute's volume shard: part of that transaction.
func (d *VolumeDAO) CountWrite(assetID, username string, at time.Time, c Count) store.Write {
	k := d.keysOf(at)
	acts := make([]store.Action, 0, 7)
	if c.Fill {
		acts = append(acts, store.Add(attrQuantity, num(c.Quantity)), store.Add(attrNotional, num(c.Notional)),
			store.Add(attrTrades, oneTrade))
	}
	if c.Placed != "" {
		acts = append(acts, store.Add(typeAttr(c.Placed), oneTrade), store.Add(statusAttr(c.Status), oneTrade))
	}
	if c.Active {
		acts = append(acts, store.Add(attrActive, oneTrade))
	}
	acts = append(acts, store.SetIfAbsent(store.DefaultTTLAttribute, k.expires))
	return store.Write{Update: &store.Update{Key: store.Key{Table: d.t.Inventory, PK: k.pks[shardOf(username)], SK: assetID},
		Actions: acts}}
}

// ActiveWrite returns the write that marks username active on the UTC day
// of at: a put that fails when the marker exists, so that a user counts
// once a day (Count.Active). It expires two days after the day.
func (d *VolumeDAO) ActiveWrite(username string, at time.Time) store.Write {
	day := Day.Truncate(at)
	return putNew(store.Key{Table: d.t.Users, PK: userPK(username), SK: skActive + Day.label(day)},
		store.Item{store.DefaultTTLAttribute: store.Int(day.Add(72 * time.Hour).Unix())})
}

const skActive = "ACTIVE#"

// Volume is what a bucket holds: the fills' quantity, notional and number
// (Trades), and the counts of placements by type and status and of active
// users (Counts, by attribute: "pt_<type>", "ps_<status>", "active"; nil
// when all are zero).
type Volume struct {
	Quantity decimal.Decimal
	Notional decimal.Decimal
	Trades   int64
	Counts   map[string]int64
}

// Add returns v plus o.
func (v Volume) Add(o Volume) Volume {
	out := Volume{Quantity: v.Quantity.Add(o.Quantity), Notional: v.Notional.Add(o.Notional), Trades: v.Trades + o.Trades}
	if len(v.Counts)+len(o.Counts) > 0 {
		out.Counts = make(map[string]int64, len(v.Counts)+len(o.Counts))
		for k, n := range v.Counts {
			out.Counts[k] += n
		}
		for k, n := range o.Counts {
			out.Counts[k] += n
		}
	}
	return out
}

// Equal reports whether v and o hold the same figures.
func (v Volume) Equal(o Volume) bool {
	if !v.Quantity.Equal(o.Quantity) || !v.Notional.Equal(o.Notional) || v.Trades != o.Trades {
		return false
	}
	for k, n := range v.Counts {
		if o.Counts[k] != n {
			return false
		}
	}
	for k, n := range o.Counts {
		if v.Counts[k] != n {
			return false
		}
	}
	return true
}

// PlacedByType returns the placements by order type.
func (v Volume) PlacedByType() map[string]int64 { return v.counts(prefixPlacedType) }

// PlacedByStatus returns the placements by the order's status once placed.
func (v Volume) PlacedByStatus() map[string]int64 { return v.counts(prefixPlacedStatus) }

// Active returns the number of users active (a first placement of the day).
func (v Volume) Active() int64 { return v.Counts[attrActive] }

func (v Volume) counts(prefix string) map[string]int64 {
	out := map[string]int64{}
	for k, n := range v.Counts {
		if strings.HasPrefix(k, prefix) && n != 0 {
			out[strings.TrimPrefix(k, prefix)] = n
		}
	}
	return out
}

// String returns the figures as text.
func (v Volume) String() string {
	s := fmt.Sprintf("quantity %s, notional %s, trades %d", v.Quantity, v.Notional, v.Trades)
	keys := make([]string, 0, len(v.Counts))
	for k, n := range v.Counts {
		if n != 0 {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		s += fmt.Sprintf(", %s %d", k, v.Counts[k])
	}
	return s
}

func decodeVolume(it store.Item) (Volume, error) {
	r := reader{it: it}
	v := Volume{Quantity: r.dec(attrQuantity), Notional: r.dec(attrNotional), Trades: r.int(attrTrades)}
	for k := range it {
		if k == attrActive || strings.HasPrefix(k, prefixPlacedType) || strings.HasPrefix(k, prefixPlacedStatus) {
			if v.Counts == nil {
				v.Counts = map[string]int64{}
			}
			v.Counts[k] = it.Int(k)
		}
	}
	return v, r.err
}

func volumeActs(v Volume) []store.Action {
	acts := []store.Action{store.Add(attrQuantity, num(v.Quantity)), store.Add(attrNotional, num(v.Notional)),
		store.Add(attrTrades, store.Int(v.Trades))}
	for _, k := range slices.Sorted(maps.Keys(v.Counts)) {
		acts = append(acts, store.Add(k, store.Int(v.Counts[k])))
	}
	return acts
}

// Checkpoint is the rollup's progress: Since is the first minute whose fills
// the store counts (the minute the first process that records volume
// started), Through the last minute rolled into the buckets (Since - 1
// minute before the first rollup).
type Checkpoint struct {
	Since   time.Time
	Through time.Time
}

func (d *VolumeDAO) checkpointKey() store.Key {
	return store.Key{Table: d.t.Inventory, PK: pkVolRoll, SK: pkVolRoll}
}

// Checkpoint returns the rollup's checkpoint; found is false before Start.
func (d *VolumeDAO) Checkpoint(ctx context.Context) (cp Checkpoint, found bool, err error) {
	it, err := d.s.Get(ctx, d.checkpointKey())
	if errors.Is(err, store.ErrNotFound) {
		return Checkpoint{}, false, nil
	}
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("read volume checkpoint: %w", err)
	}
	since, err1 := time.Parse(minuteLayout, it.Str(attrSince))
	through, err2 := time.Parse(minuteLayout, it.Str(attrThrough))
	if err := errors.Join(err1, err2); err != nil {
		return Checkpoint{}, false, fmt.Errorf("decode volume checkpoint: %w", err)
	}
	return Checkpoint{Since: since, Through: through}, true, nil
}

// Start records, when the store has no checkpoint yet, that the store
// counts the fills from the minute of now on, and returns the checkpoint.
func (d *VolumeDAO) Start(ctx context.Context, now time.Time) (Checkpoint, error) {
	since := Minute.Truncate(now)
	err := d.s.Put(ctx, store.Put{Key: d.checkpointKey(), Cond: store.ItemNotExists(), Item: store.Item{
		attrSince: store.S(Minute.label(since)), attrThrough: store.S(Minute.label(since.Add(-time.Minute)))}})
	if err != nil && !errors.Is(err, store.ErrConditionFailed) {
		return Checkpoint{}, fmt.Errorf("start volume checkpoint: %w", err)
	}
	cp, _, err := d.Checkpoint(ctx)
	return cp, err
}

// Shards returns the figures of every asset traded in minute m, read from
// its shards (for minutes not rolled yet, and the rollup itself).
func (d *VolumeDAO) Shards(ctx context.Context, m time.Time) (map[string]Volume, error) {
	out := map[string]Volume{}
	for s := 0; s < VolumeShards; s++ {
		items, err := d.queryAll(ctx, store.Query{Table: d.t.Inventory, PK: shardPK(m, s)}, 1<<30)
		if err != nil {
			return nil, fmt.Errorf("read volume shard %s: %w", shardPK(m, s), err)
		}
		for _, it := range items {
			v, err := decodeVolume(it)
			if err != nil {
				return nil, err
			}
			a := it.Str(store.AttrSK)
			out[a] = out[a].Add(v)
		}
	}
	return out, nil
}

// shardsOf returns assetID's figures of minute m from its shards.
func (d *VolumeDAO) shardsOf(ctx context.Context, assetID string, minutes []time.Time) (map[int64]Volume, error) {
	out := map[int64]Volume{}
	if assetID == PlatformAsset {
		for _, m := range minutes {
			all, err := d.Shards(ctx, m)
			if err != nil {
				return nil, err
			}
			for _, v := range all {
				out[m.Unix()] = out[m.Unix()].Add(v)
			}
		}
		return out, nil
	}
	keys := make([]store.Key, 0, store.MaxBatchGet)
	at := make([]int64, 0, store.MaxBatchGet)
	flush := func() error {
		items, err := d.s.BatchGet(ctx, keys)
		if err != nil {
			return fmt.Errorf("read volume shards: %w", err)
		}
		for i, it := range items {
			if it == nil {
				continue
			}
			v, err := decodeVolume(it)
			if err != nil {
				return err
			}
			out[at[i]] = out[at[i]].Add(v)
		}
		keys, at = keys[:0], at[:0]
		return nil
	}
	for _, m := range minutes {
		for s := 0; s < VolumeShards; s++ {
			keys = append(keys, store.Key{Table: d.t.Inventory, PK: shardPK(m, s), SK: assetID})
			at = append(at, m.Unix())
			if len(keys) == store.MaxBatchGet {
				if err := flush(); err != nil {
					return nil, err
				}
			}
		}
	}
	if len(keys) > 0 {
		if err := flush(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (d *VolumeDAO) bucketKey(assetID string, i Interval, start time.Time) store.Key {
	return store.Key{Table: d.t.Inventory, PK: pkVolume + assetID, SK: string(i) + "#" + i.label(start)}
}

// ErrVolumeRolled is returned by RollAsset when the minute was rolled for
// the asset already.
var ErrVolumeRolled = errors.New("minute already rolled for the asset")

// RollAsset adds v, assetID's figures of minute m, to its minute, hour and
// day buckets, in one transaction that creates the minute bucket: it
// happens once per minute and asset (ErrVolumeRolled the second time).
func (d *VolumeDAO) RollAsset(ctx context.Context, assetID string, m time.Time, v Volume) error {
	through := store.S(Minute.label(m))
	minute := store.Item{attrQuantity: num(v.Quantity), attrNotional: num(v.Notional), attrTrades: store.Int(v.Trades)}
	for k, n := range v.Counts {
		minute[k] = store.Int(n)
	}
	var tx Tx
	tx.Add(RoleNone, putNew(d.bucketKey(assetID, Minute, m), minute))
	for _, i := range []Interval{Hour, Day} {
		acts := append(volumeActs(v), store.Set(attrThrough, through))
		tx.Add(RoleNone, store.Write{Update: &store.Update{Key: d.bucketKey(assetID, i, i.Truncate(m)), Actions: acts}})
	}
	err := d.s.Transact(ctx, tx.Writes())
	if errors.Is(err, store.ErrConditionFailed) {
		return ErrVolumeRolled
	}
	if err != nil {
		return fmt.Errorf("roll volume of %s at %s: %w", assetID, Minute.label(m), err)
	}
	return nil
}

// Advance moves the checkpoint to minute m, which every asset's figures
// have been rolled for (the minute after the checkpoint).
func (d *VolumeDAO) Advance(ctx context.Context, m time.Time) error {
	_, err := d.s.Update(ctx, store.Update{Key: d.checkpointKey(),
		Actions: []store.Action{store.Set(attrThrough, store.S(Minute.label(m)))},
		Cond:    store.Eq(attrThrough, store.S(Minute.label(m.Add(-time.Minute))))})
	if err != nil && !errors.Is(err, store.ErrConditionFailed) {
		return fmt.Errorf("advance volume checkpoint to %s: %w", Minute.label(m), err)
	}
	return nil
}

// Bucket is one bucket of a volume query.
type Bucket struct {
	Start time.Time
	Volume
}

// MaxBuckets bounds the buckets of one query.
const MaxBuckets = 1500

// Buckets returns assetID's (or PlatformAsset's) buckets of width i whose
// start is in [Truncate(from), to], every one (zero when nothing traded),
// oldest first. Each is the rolled bucket plus the shards of its minutes
// not rolled into it yet (up to now), so the figures are exact whatever the
// rollup's progress.
func (d *VolumeDAO) Buckets(ctx context.Context, assetID string, i Interval, from, to, now time.Time) ([]Bucket, error) {
	first, last := i.Truncate(from), i.Truncate(to)
	if last.Before(first) {
		return []Bucket{}, nil
	}
	// The checkpoint first: every minute it covers is in the buckets read after it.
	cp, found, err := d.Checkpoint(ctx)
	if err != nil {
		return nil, err
	}
	covered := time.Time{} // minutes up to this one are in the buckets
	if found {
		covered = cp.Through
	}
	items, err := d.queryAll(ctx, store.Query{Table: d.t.Inventory, PK: pkVolume + assetID,
		SK: store.SortCond{Op: store.SortBetween, Value: d.bucketKey(assetID, i, first).SK, Value2: d.bucketKey(assetID, i, last).SK}},
		MaxBuckets+1)
	if err != nil {
		return nil, fmt.Errorf("read volume buckets: %w", err)
	}
	type rolled struct {
		v       Volume
		through time.Time
	}
	stored := map[int64]rolled{}
	for _, it := range items {
		v, err := decodeVolume(it)
		if err != nil {
			return nil, err
		}
		label := strings.TrimPrefix(it.Str(store.AttrSK), string(i)+"#")
		start, err := parseLabel(i, label)
		if err != nil {
			return nil, fmt.Errorf("volume bucket %s: %w", it.Str(store.AttrSK), err)
		}
		through := start // a minute bucket covers its minute
		if i != Minute {
			if through, err = time.Parse(minuteLayout, it.Str(attrThrough)); err != nil {
				return nil, fmt.Errorf("volume bucket %s: %w", it.Str(store.AttrSK), err)
			}
		}
		stored[start.Unix()] = rolled{v: v, through: through}
	}
	var out []Bucket
	var open []time.Time // minutes whose shards are read
	nowMinute := Minute.Truncate(now)
	for b := first; !b.After(last); b = next(i, b) {
		if len(out) == MaxBuckets {
			return nil, fmt.Errorf("volume query of more than %d buckets", MaxBuckets)
		}
		r, ok := stored[b.Unix()]
		out = append(out, Bucket{Start: b, Volume: r.v})
		c := covered
		if ok && r.through.After(c) {
			c = r.through
		}
		from := b
		if !c.Before(from) {
			from = c.Add(time.Minute)
		}
		if found && from.Before(cp.Since) {
			from = cp.Since
		}
		for m := from; m.Before(next(i, b)) && !m.After(nowMinute); m = m.Add(time.Minute) {
			open = append(open, m)
		}
	}
	if len(open) == 0 {
		return zeroed(out), nil
	}
	shards, err := d.shardsOf(ctx, assetID, open)
	if err != nil {
		return nil, err
	}
	for k := range out {
		end := next(i, out[k].Start)
		for _, m := range open {
			if !m.Before(out[k].Start) && m.Before(end) {
				out[k].Volume = out[k].Volume.Add(shards[m.Unix()])
			}
		}
	}
	return zeroed(out), nil
}

// zeroed gives every empty bucket exact zeros.
func zeroed(bs []Bucket) []Bucket {
	for k := range bs {
		if bs[k].Trades == 0 {
			bs[k].Quantity, bs[k].Notional = decimal.Zero, decimal.Zero
		}
	}
	return bs
}

func next(i Interval, t time.Time) time.Time {
	if i == Day {
		return t.AddDate(0, 0, 1)
	}
	return t.Add(i.Duration())
}

func parseLabel(i Interval, label string) (time.Time, error) {
	switch i {
	case Minute:
		return time.Parse(minuteLayout, label)
	case Hour:
		return time.Parse("2006-01-02T15", label)
	}
	return time.Parse("2006-01-02", label)
}

// StoredMinutes returns every minute bucket of assetID (or PlatformAsset)
// that the rollup wrote, by minute (verify).
func (d *VolumeDAO) StoredMinutes(ctx context.Context, assetID string) (map[int64]Volume, error) {
	return d.stored(ctx, assetID, Minute)
}

// StoredBuckets returns every bucket of width i of assetID that the rollup
// wrote, by start, with the last minute rolled into each (verify).
func (d *VolumeDAO) StoredBuckets(ctx context.Context, assetID string, i Interval) (map[int64]Volume, map[int64]time.Time, error) {
	items, err := d.queryAll(ctx, store.Query{Table: d.t.Inventory, PK: pkVolume + assetID,
		SK: store.SortCond{Op: store.SortBeginsWith, Value: string(i) + "#"}}, 1<<30)
	if err != nil {
		return nil, nil, fmt.Errorf("read volume buckets of %s: %w", assetID, err)
	}
	vs, throughs := map[int64]Volume{}, map[int64]time.Time{}
	for _, it := range items {
		v, err := decodeVolume(it)
		if err != nil {
			return nil, nil, err
		}
		start, err := parseLabel(i, strings.TrimPrefix(it.Str(store.AttrSK), string(i)+"#"))
		if err != nil {
			return nil, nil, fmt.Errorf("volume bucket %s: %w", it.Str(store.AttrSK), err)
		}
		vs[start.Unix()] = v
		if i != Minute {
			t, err := time.Parse(minuteLayout, it.Str(attrThrough))
			if err != nil {
				return nil, nil, fmt.Errorf("volume bucket %s: %w", it.Str(store.AttrSK), err)
			}
			throughs[start.Unix()] = t
		}
	}
	return vs, throughs, nil
}

func (d *VolumeDAO) stored(ctx context.Context, assetID string, i Interval) (map[int64]Volume, error) {
	vs, _, err := d.StoredBuckets(ctx, assetID, i)
	return vs, err
}
