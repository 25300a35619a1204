package verify

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/entity"
)

// fillKey is an asset's minute.
type fillKey struct {
	asset  string
	minute int64 // Unix seconds of the minute's start
}

// volumeChecker checks the volume buckets (dao.VolumeDAO) against the
// fills and orders of every user:
//
//   - each asset's figures of each minute from the checkpoint's Since on
//     (its rolled minute bucket when the checkpoint covers the minute, the
//     sum of its shards otherwise, for the minutes with fills or orders)
//     are the quantity, the notional (entity.FillNotional of each fill)
//     and the number
//     of the completed BUY and SELL movements of that asset executed in
//     that minute, and the number of its orders placed in that minute by
//     type and by status once placed (the first of queued, completed or
//     cancelled in the order's history);
//   - the active users of each day (summed over the day's minutes and
//     assets) are the users who placed an order that day;
//   - each rolled hour and day bucket is the sum of the rolled minute
//     buckets it spans, and the platform's (dao.PlatformAsset) buckets are
//     the sums of every asset's.
type volumeChecker struct {
	fills  map[fillKey]dao.Volume
	active map[int64]map[string]bool // users with a placement, by day
	since  time.Time
	found  bool
	out    []Violation
}

// start reads the checkpoint: only what happened from its Since on counts.
func (v *volumeChecker) start(ctx context.Context, d *dao.DAOs) error {
	cp, found, err := d.Volume.Checkpoint(ctx)
	v.since, v.found = cp.Since, found
	return err
}

func (v *volumeChecker) add(k fillKey, vol dao.Volume) {
	if v.fills == nil {
		v.fills = map[fillKey]dao.Volume{}
	}
	v.fills[k] = v.fills[k].Add(vol)
}

func (v *volumeChecker) addMoves(moves []*entity.AssetTransaction) {
	for _, m := range moves {
		if m.Status != entity.TxCompleted || m.TransactionType != entity.AssetBuy && m.TransactionType != entity.AssetSell ||
			m.Timestamp.Before(v.since) {
			continue
		}
		k := fillKey{asset: m.AssetID, minute: dao.Minute.Truncate(m.Timestamp.Time).Unix()}
		v.add(k, dao.Volume{Quantity: m.Quantity, Notional: entity.FillNotional(m), Trades: 1})
	}
}

func (v *volumeChecker) addOrders(user string, orders []*entity.Order) {
	for _, o := range orders {
		if o.CreatedAt.Before(v.since) {
			continue
		}
		placed := placedStatus(o)
		k := fillKey{asset: o.AssetID, minute: dao.Minute.Truncate(o.CreatedAt.Time).Unix()}
		v.add(k, dao.Volume{Counts: map[string]int64{"pt_" + string(o.OrderType): 1, "ps_" + string(placed): 1}})
		day := dao.Day.Truncate(o.CreatedAt.Time).Unix()
		if v.active == nil {
			v.active = map[int64]map[string]bool{}
		}
		if v.active[day] == nil {
			v.active[day] = map[string]bool{}
		}
		v.active[day][user] = true
	}
}

// withoutActive returns vol without its active count, which add to storedActive by day.
func withoutActive(vol dao.Volume, minute int64, storedActive map[int64]int64) dao.Volume {
	n := vol.Active()
	if n == 0 {
		return vol
	}
	storedActive[dao.Day.Truncate(time.Unix(minute, 0)).Unix()] += n
	out := vol
	out.Counts = map[string]int64{}
	for k, c := range vol.Counts {
		if k != "active" {
			out.Counts[k] = c
		}
	}
	return out
}

func (v *volumeChecker) report(asset string, i dao.Interval, start time.Time, format string, args ...any) {
	v.out = append(v.out, Violation{Subject: fmt.Sprintf("volume %s %s %s", asset, i, start.UTC().Format(time.RFC3339)),
		Problem: fmt.Sprintf(format, args...)})
}

// check compares the stored figures with the fills; it returns the number
// of stored buckets it read. On a running store the rollup may roll a
// minute while check reads (its bucket then counts on neither side): check
// starts again, up to twice, when the checkpoint moved meanwhile.
func (v *volumeChecker) check(ctx context.Context, d *dao.DAOs) (int, error) {
	for attempt := 1; ; attempt++ {
		kept := len(v.out)
		cp, found, err := d.Volume.Checkpoint(ctx)
		if err != nil || !found || !v.found {
			return 0, err // a store that never counted volume has none to check
		}
		n, err := v.checkAt(ctx, d, cp)
		if err != nil {
			return n, err
		}
		after, _, err := d.Volume.Checkpoint(ctx)
		if err != nil || after.Through.Equal(cp.Through) || attempt == 3 {
			return n, err
		}
		v.out = v.out[:kept]
	}
}

// checkAt is check with the rollup at checkpoint cp.
func (v *volumeChecker) checkAt(ctx context.Context, d *dao.DAOs, cp dao.Checkpoint) (int, error) {
	assets, err := d.Assets.All(ctx)
	if err != nil {
		return 0, fmt.Errorf("read the catalogue: %w", err)
	}
	ids := []string{}
	for _, a := range assets {
		ids = append(ids, a.AssetID)
	}
	for k := range v.fills {
		if !slices.Contains(ids, k.asset) {
			ids = append(ids, k.asset)
		}
	}
	slices.Sort(ids)
	// The shards of the minutes not rolled yet in which the ledger or the
	// orders count something (a minute of shards alone goes unread: the
	// rollup keeps the unrolled minutes few, and reading every one of a
	// long-stopped rollup would cost VolumeShards queries a minute).
	minutesOpen := map[int64]bool{}
	for k := range v.fills {
		if time.Unix(k.minute, 0).After(cp.Through) {
			minutesOpen[k.minute] = true
		}
	}
	open := map[fillKey]dao.Volume{}
	for _, mu := range slices.Sorted(maps.Keys(minutesOpen)) {
		m := time.Unix(mu, 0).UTC()
		byAsset, err := d.Volume.Shards(ctx, m)
		if err != nil {
			return 0, err
		}
		for a, vol := range byAsset {
			open[fillKey{asset: a, minute: m.Unix()}] = vol
		}
	}
	read := 0
	storedActive := map[int64]int64{}
	platform := map[int64]dao.Volume{}
	for _, id := range append(ids, dao.PlatformAsset) {
		minutes, err := d.Volume.StoredMinutes(ctx, id)
		if err != nil {
			return read, err
		}
		read += len(minutes)
		if id == dao.PlatformAsset {
			v.compare(id, dao.Minute, minutes, platform, "the sum of every asset's")
		} else {
			got, want := map[int64]dao.Volume{}, map[int64]dao.Volume{}
			for m, vol := range minutes {
				platform[m] = platform[m].Add(vol)
				got[m] = withoutActive(vol, m, storedActive)
			}
			for k, f := range v.fills {
				if k.asset == id && !time.Unix(k.minute, 0).After(cp.Through) {
					want[k.minute] = f
				}
			}
			v.compare(id, dao.Minute, got, want, "the ledger's fills and the orders")
			// Minutes not rolled yet: the shards.
			got, want = map[int64]dao.Volume{}, map[int64]dao.Volume{}
			for k, vol := range open {
				if k.asset == id {
					got[k.minute] = withoutActive(vol, k.minute, storedActive)
				}
			}
			for k, f := range v.fills {
				if k.asset == id && time.Unix(k.minute, 0).After(cp.Through) {
					want[k.minute] = f
				}
			}
			v.compareWith(id, dao.Minute, got, want, "shards hold", "the ledger's fills and the orders")
		}
		for _, i := range []dao.Interval{dao.Hour, dao.Day} {
			stored, _, err := d.Volume.StoredBuckets(ctx, id, i)
			if err != nil {
				return read, err
			}
			read += len(stored)
			want := map[int64]dao.Volume{}
			for m, vol := range minutes {
				b := i.Truncate(time.Unix(m, 0)).Unix()
				want[b] = want[b].Add(vol)
			}
			v.compare(id, i, stored, want, "the sum of its minute buckets")
		}
	}
	days := slices.Sorted(maps.Keys(v.active))
	for day := range storedActive {
		if _, ok := v.active[day]; !ok {
			days = append(days, day)
		}
	}
	for _, day := range days {
		if got, want := storedActive[day], int64(len(v.active[day])); got != want {
			v.report(dao.PlatformAsset, dao.Day, time.Unix(day, 0), "counts %d active users, %d users placed orders", got, want)
		}
	}
	return read, nil
}

// compare reports every bucket where got and want differ (a missing bucket
// counts as zero).
func (v *volumeChecker) compare(asset string, i dao.Interval, got, want map[int64]dao.Volume, what string) {
	v.compareWith(asset, i, got, want, "holds", what)
}

func (v *volumeChecker) compareWith(asset string, i dao.Interval, got, want map[int64]dao.Volume, holds, what string) {
	keys := make([]int64, 0, len(got)+len(want))
	for k := range got {
		keys = append(keys, k)
	}
	for k := range want {
		if _, ok := got[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		g, w := got[k], want[k]
		if !g.Equal(w) {
			v.report(asset, i, time.Unix(k, 0), "%s %s, %s %s", holds, g, what, w)
		}
	}
}
