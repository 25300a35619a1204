package trading

import (
	"context"
	"fmt"

	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/store"
)

// BatchOrder is one order of PlaceBatch: the request and its hash, as for
// PlaceOrder.
type BatchOrder struct {
	Req     entity.OrderCreate
	ReqHash string
}

// BatchResult is the outcome of one order of PlaceBatch: Placed, or Err
// when the order was refused.
type BatchResult struct {
	Placed *Placed
	Err    error
}

// PlaceBatch places orders for username one after another, each as
// PlaceOrder does and in its own transaction: an order that is refused does
// not undo the others, and each order sees the effect of those before it.
// The orders are durable together: their transactions are committed under
// store.DeferSync and the store is synced once at the end, so the batch
// waits for one log sync instead of one per order. Their events are
// published after that sync.
//
// The error is the sync's (results are nil then): the placed orders may or
// may not be durable, and a client retrying the batch with the same
// client_order_id values places each order once.
func (s *Service) PlaceBatch(ctx context.Context, username string, orders []BatchOrder) ([]BatchResult, error) {
	deferred := store.DeferSync(ctx)
	out := make([]BatchResult, len(orders))
	for i, o := range orders {
		out[i].Placed, _, out[i].Err = s.placeOrder(deferred, username, o.Req, o.ReqHash, nil)
	}
	// Synced even when the client is gone: its placed orders are visible
	// already, and nothing else may sync them soon on a quiet store.
	if err := s.d.Sync(context.WithoutCancel(ctx)); err != nil {
		return nil, fmt.Errorf("place batch: %w", err)
	}
	for _, r := range out {
		if r.Err == nil {
			s.notifyOrder(r.Placed.Order)
		}
	}
	return out, nil
}
