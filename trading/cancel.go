package trading

import (
	"context"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/entity"
)

// CancelOrder cancels an open order of its owner. Terminal orders answer a
// conflict ("order ... is already completed"). Market orders complete at once,
// so until resting orders exist every cancel is a conflict.
func (s *Service) CancelOrder(ctx context.Context, o *entity.Order) (*entity.Order, error) {
	if o.Status.IsTerminal() {
		return nil, apperr.New(apperr.Conflict, "order %s is already %s", o.OrderID, o.Status)
	}
	if err := s.d.Orders.UpdateStatus(ctx, o, entity.StatusCancelled, entity.ActorUser, "cancelled by user", s.now()); err != nil {
		return nil, err
	}
	return o, nil
}
