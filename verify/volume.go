package verify

import (
	"context"
	"fmt"
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
// fills of every user's ledger:
//
//   - each asset's figures of each minute from the checkpoint's Since on
//     (its rolled minute bucket when the checkpoint covers the minute, the
//     sum of its shards otherwise) are the quantity, the notional
//     (entity.FillGross of each fill's quantity and price) and the number
//     of the completed BUY and SELL movements of that asset executed in
//     that minute;
//   - each rolled hour and day bucket is the sum of the rolled minute
//     buckets it spans, and the platform's (dao.PlatformAsset) buckets are
//     the sums of every asset's.
type volumeChecker struct {
	fills map[fillKey]dao.Volume
	out   []Violation
}

func (v *volumeChecker) addMoves(moves []*entity.AssetTransaction) {
	for _, m := range moves {
		if m.Status != entity.TxCompleted || m.TransactionType != entity.AssetBuy && m.TransactionType != entity.AssetSell {
			continue
		}
		if v.fills == nil {
			v.fills = map[fillKey]dao.Volume{}
		}
		k := fillKey{asset: m.AssetID, minute: dao.Minute.Truncate(m.Timestamp.Time).Unix()}
		gross := entity.FillGross(m.Quantity, m.Price, m.TransactionType == entity.AssetBuy)
		v.fills[k] = v.fills[k].Add(dao.Volume{Quantity: m.Quantity, Notional: gross, Trades: 1})
	}
}

func (v *volumeChecker) report(asset string, i dao.Interval, start time.Time, format string, args ...any) {
	v.out = append(v.out, Violation{Subject: fmt.Sprintf("volume %s %s %s", asset, i, start.UTC().Format(time.RFC3339)),
		Problem: fmt.Sprintf(format, args...)})
}

// check compares the stored figures with the fills; it returns the number
// of stored buckets it read.
func (v *volumeChecker) check(ctx context.Context, d *dao.DAOs) (int, error) {
	cp, found, err := d.Volume.Checkpoint(ctx)
	if err != nil || !found {
		return 0, err // a store that never counted volume has none to check
	}
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
	// The unrolled minutes' shards, up to the last fill's minute.
	last := cp.Through
	for k := range v.fills {
		if t := time.Unix(k.minute, 0).UTC(); t.After(last) {
			last = t
		}
	}
	open := map[fillKey]dao.Volume{}
	for m := cp.Through.Add(time.Minute); !m.After(last); m = m.Add(time.Minute) {
		byAsset, err := d.Volume.Shards(ctx, m)
		if err != nil {
			return 0, err
		}
		for a, vol := range byAsset {
			open[fillKey{asset: a, minute: m.Unix()}] = vol
		}
	}
	read := 0
	platform := map[dao.Interval]map[int64]dao.Volume{dao.Minute: {}, dao.Hour: {}, dao.Day: {}}
	for _, id := range append(ids, dao.PlatformAsset) {
		minutes, err := d.Volume.StoredMinutes(ctx, id)
		if err != nil {
			return read, err
		}
		read += len(minutes)
		if id == dao.PlatformAsset {
			v.compare(id, dao.Minute, minutes, platform[dao.Minute], "the sum of every asset's")
		} else {
			want := map[int64]dao.Volume{}
			for k, f := range v.fills {
				if k.asset == id && !time.Unix(k.minute, 0).Before(cp.Since) && !time.Unix(k.minute, 0).After(cp.Through) {
					want[k.minute] = f
				}
			}
			v.compare(id, dao.Minute, minutes, want, "the ledger's fills")
			for m, vol := range minutes {
				platform[dao.Minute][m] = platform[dao.Minute][m].Add(vol)
			}
			// Minutes not rolled yet: the shards.
			for k, f := range v.fills {
				if k.asset == id && time.Unix(k.minute, 0).After(cp.Through) && !time.Unix(k.minute, 0).Before(cp.Since) {
					if got := open[k]; !got.Equal(f) {
						v.report(id, dao.Minute, time.Unix(k.minute, 0), "shards hold %s, the ledger's fills %s", got, f)
					}
				}
			}
			for k, got := range open {
				if _, ok := v.fills[k]; k.asset == id && !ok {
					v.report(id, dao.Minute, time.Unix(k.minute, 0), "shards hold %s, the ledger has no fill", got)
				}
			}
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
	return read, nil
}

// compare reports every bucket where got and want differ (a missing bucket
// counts as zero).
func (v *volumeChecker) compare(asset string, i dao.Interval, got, want map[int64]dao.Volume, what string) {
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
			v.report(asset, i, time.Unix(k, 0), "holds %s, %s %s", g, what, w)
		}
	}
}
