package trading

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/decimal"
	"github.com/orderprocessor/orderprocessor/entity"
)

// RollGrace is how long after a minute ends the rollup waits before it
// rolls the minute's volume shards into the buckets: a fill is counted in
// the minute of its execution time, taken just before its transaction
// commits.
const RollGrace = time.Minute

// maxRollMinutes bounds the minutes one RollVolume call rolls.
const maxRollMinutes = 60

// RollVolume rolls the closed minutes after the volume checkpoint (up to
// now - RollGrace - 1 minute, at most an hour of them) into the minute, hour
// and day buckets of each asset and of the platform, and advances the
// checkpoint after each minute (dao.VolumeDAO). It returns the minutes
// rolled. One process runs it at a time (a lease); a second one would only
// find each asset's minute rolled already.
func (s *Service) RollVolume(ctx context.Context, now time.Time) (int, error) {
	cp, err := s.d.Volume.Start(ctx, now)
	if err != nil {
		return 0, err
	}
	last := dao.Minute.Truncate(now.Add(-RollGrace)).Add(-time.Minute)
	n := 0
	for m := cp.Through.Add(time.Minute); !m.After(last) && n < maxRollMinutes; m = m.Add(time.Minute) {
		if err := s.rollMinute(ctx, m); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func (s *Service) rollMinute(ctx context.Context, m time.Time) error {
	byAsset, err := s.d.Volume.Shards(ctx, m)
	if err != nil {
		return err
	}
	ids := make([]string, 0, len(byAsset))
	var total dao.Volume
	for id, v := range byAsset {
		ids = append(ids, id)
		total = total.Add(v)
	}
	slices.Sort(ids)
	if len(ids) > 0 {
		ids = append(ids, dao.PlatformAsset)
		byAsset[dao.PlatformAsset] = total
	}
	for _, id := range ids {
		if err := s.d.Volume.RollAsset(ctx, id, m, byAsset[id]); err != nil && !errors.Is(err, dao.ErrVolumeRolled) {
			return err
		}
	}
	if err := s.d.Volume.Advance(ctx, m); err != nil {
		return fmt.Errorf("roll volume: %w", err)
	}
	return nil
}

// Volume returns the buckets of width i of assetID (dao.PlatformAsset:
// every asset) that start in [i.Truncate(from), to], exact at the moment
// of the read.
func (s *Service) Volume(ctx context.Context, assetID string, i dao.Interval, from, to time.Time) ([]dao.Bucket, error) {
	return s.d.Volume.Buckets(ctx, assetID, i, from, to, s.now())
}

// RefreshVolume24h sets each asset's total_volume_24h to the notional (USD,
// before fees) of its fills in the 24-hour window at now
// (entity.Window24h: the current UTC hour and the 23 before it), where it
// differs from the stored one; it returns the assets changed. The
// analytics job runs it after each rollup.
func (s *Service) RefreshVolume24h(ctx context.Context, now time.Time) (int, error) {
	assets, err := s.d.Assets.All(ctx)
	if err != nil {
		return 0, fmt.Errorf("refresh 24h volume: %w", err)
	}
	n := 0
	for _, a := range assets {
		v, err := s.Volume24h(ctx, a.AssetID, now)
		if err != nil {
			return n, err
		}
		if a.TotalVolume24h != nil && a.TotalVolume24h.Equal(v) {
			continue
		}
		_, err = s.d.Assets.Modify(ctx, a.AssetID, now, func(a *entity.Asset) error {
			if a.TotalVolume24h != nil && a.TotalVolume24h.Equal(v) {
				return errUnchanged // set meanwhile: no write
			}
			a.TotalVolume24h = &v
			return nil
		})
		if errors.Is(err, errUnchanged) {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("refresh 24h volume of %s: %w", a.AssetID, err)
		}
		n++
	}
	return n, nil
}

// errUnchanged ends a modification that would change nothing.
var errUnchanged = errors.New("unchanged")

// Volume24h returns the notional of assetID's fills in the 24-hour window
// at now (entity.Window24h).
func (s *Service) Volume24h(ctx context.Context, assetID string, now time.Time) (decimal.Decimal, error) {
	bs, err := s.d.Volume.Buckets(ctx, assetID, dao.Hour, entity.Window24h(now), now, now)
	if err != nil {
		return decimal.Zero, err
	}
	total := decimal.Zero
	for _, b := range bs {
		total = total.Add(b.Notional)
	}
	return total, nil
}

// activeDays remembers, per user, the UTC day (Unix seconds of its start)
// of the user's last placement this process counted or found counted as
// active: a placement of a user not remembered for its day carries the
// user's active marker (dao.VolumeDAO.ActiveWrite), which counts the user
// once a day whatever the processes; the memory only spares the marker's
// write on the following placements.
type activeDays struct{ m sync.Map }

func (s *Service) isActive(username string, now time.Time) bool {
	v, ok := s.active.m.Load(username)
	return ok && v.(int64) == dao.Day.Truncate(now).Unix()
}

func (s *Service) markActive(username string, now time.Time) {
	s.active.m.Store(username, dao.Day.Truncate(now).Unix())
}

// ForgetActive empties the memory of active users, as a new process
// starts: the markers in the store still count each user once a day.
func (s *Service) ForgetActive() { s.active.m.Clear() }
