package trading

import (
	"context"
	"fmt"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/dao"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/store"
)

// The rule of inactive assets: no order of an inactive asset rests or
// executes. Placement refuses an inactive asset (readPlacement); deactivating
// an asset cancels its resting orders (CancelAssetOrders, called by the
// inventory service after it stored the deactivation); the trigger engine
// reads the asset before each page of executions and, finding it inactive,
// cancels its resting orders instead of executing them; its periodic sweep
// cancels the resting orders of every inactive asset. An order whose
// placement read the asset as active and committed after the deactivation's
// pass over the index is therefore cancelled by the next price event of the
// asset or the next sweep (Engine interval), whichever comes first.

// InactiveReason is the reason recorded on an order cancelled because its
// asset is not active.
func InactiveReason(assetID string) string { return "asset " + assetID + " is not active" }

// CancelAssetOrders cancels every resting order of assetID, releasing its
// hold (and its OCO partner's), each in its own transaction, with
// InactiveReason. It reads the trigger index a bounded page at a time and
// runs at most triggerWorkers cancellations at once. An order that another
// actor ended first is skipped. It returns how many orders it cancelled.
func (s *Service) CancelAssetOrders(ctx context.Context, assetID string) (int, error) {
	return s.cancelAssetOrders(ctx, assetID, entity.ActorSystem)
}

// cancelAssetOrders is CancelAssetOrders on behalf of actor.
func (s *Service) cancelAssetOrders(ctx context.Context, assetID string, actor entity.Actor) (int, error) {
	reason := InactiveReason(assetID)
	total := 0
	for _, dir := range []string{dirLE, dirGE} {
		cursor := ""
		for {
			orders, next, err := s.d.Orders.OpenIn(ctx, dao.IndexOpenOrders, triggerPK(assetID, dir), store.SortCond{}, triggerPage, cursor)
			if err != nil {
				return total, err
			}
			n, err := s.cancelAll(ctx, orders, actor, reason)
			total += n
			if err != nil {
				return total, err
			}
			if next == "" {
				break
			}
			cursor = next
		}
	}
	return total, nil
}

// cancelAll cancels orders on behalf of actor with reason, at most
// triggerWorkers at once.
func (s *Service) cancelAll(ctx context.Context, orders []*entity.Order, actor entity.Actor, reason string) (int, error) {
	return fanOut(len(orders), func(i int) (int, error) {
		o := orders[i]
		_, err := s.end(ctx, nil, o, actor, reason, entity.StatusCancelled)
		switch {
		case err == nil:
			return 1, nil
		case apperr.Is(err, apperr.Conflict):
			// Executed, cancelled or expired by another actor first,
			// or cancelled with its OCO partner.
			return 0, nil
		default:
			return 0, fmt.Errorf("cancel order %s of inactive asset %s: %w", o.OrderID, o.AssetID, err)
		}
	})
}

// tradable reports whether assetID is active. When it is not (or does not
// exist), it cancels the asset's resting orders first: the engine never
// executes an order of an inactive asset.
func (s *Service) tradable(ctx context.Context, assetID string) (bool, error) {
	q, found, err := s.d.Assets.GetQuote(ctx, assetID)
	if err != nil {
		return false, fmt.Errorf("read asset %s: %w", assetID, err)
	}
	if found && q.IsActive {
		return true, nil
	}
	_, err = s.cancelAssetOrders(ctx, assetID, entity.ActorEngine)
	return false, err
}

// CancelInactive cancels the resting orders of every inactive asset (the
// engine's periodic sweep). It returns how many orders it cancelled.
func (s *Service) CancelInactive(ctx context.Context) (int, error) {
	return s.cancelInactive(ctx, nil)
}

// cancelInactive is CancelInactive for the assets owns accepts (nil: all).
func (s *Service) cancelInactive(ctx context.Context, owns func(assetID string) bool) (int, error) {
	assets, err := s.d.Assets.All(ctx)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, a := range assets {
		if a.IsActive || (owns != nil && !owns(a.AssetID)) {
			continue
		}
		n, err := s.cancelAssetOrders(ctx, a.AssetID, entity.ActorEngine)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}
