package order

import (
	"net/http"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/auth"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/httpapi"
	"github.com/orderprocessor/orderprocessor/services/handlerkit"
	"github.com/orderprocessor/orderprocessor/trading"
)

// MaxBatch is the most orders one batch request may carry.
const MaxBatch = 100

// BatchRequest places several orders of the caller, in order.
type BatchRequest struct {
	Orders []entity.OrderCreate `json:"orders"`
}

// BatchResult is the outcome of one order of a batch: Status is the HTTP
// status the order would have had on its own; Data (success) or Error is set.
type BatchResult struct {
	Status int                   `json:"status"`
	Data   *entity.OrderResponse `json:"data,omitempty"`
	Error  *httpapi.ErrorBody    `json:"error,omitempty"`
}

// BatchResponse lists one result per order, in request order.
type BatchResponse struct {
	Data      []BatchResult `json:"data"`
	Succeeded int           `json:"succeeded"`
	Failed    int           `json:"failed"`
}

// batchIn is the input of POST /api/v1/orders/batch.
type batchIn struct {
	Body BatchRequest
}

func (s *Service) registerBatch(api *httpapi.API) {
	httpapi.Handle(api, httpapi.Op{Method: "POST", Path: "/api/v1/orders/batch", OperationID: "createOrderBatch",
		Summary: "Place up to 100 orders, each with its own result", Tags: []string{"orders"}, Auth: httpapi.AuthUser,
		Description: "Orders are applied one after another, each in its own transaction: an order that fails does not undo the others. " +
			"The batch is answered once all its orders are durable (one log sync for the whole batch). " +
			"Use client_order_id on each order to make a retried batch safe."},
		handlerkit.WithCaller(s.batch))
}

func (s *Service) batch(r *http.Request, p auth.Principal, in *batchIn) (BatchResponse, error) {
	req := &in.Body
	if len(req.Orders) == 0 || len(req.Orders) > MaxBatch {
		return BatchResponse{}, apperr.Field("orders", "must hold 1 to 100 orders", "value_error")
	}
	orders := make([]trading.BatchOrder, len(req.Orders))
	now := s.trade.Now()
	for i, oc := range req.Orders {
		// Validated (so normalised) and hashed as by the single-order route:
		// an order's client_order_id answers it by either route. An invalid
		// order gets its error from PlaceBatch.
		if oc.Validate(now) == nil {
			orders[i].ReqHash = clientOrderHash(&oc)
		}
		orders[i].Req = oc
	}
	results, err := s.trade.PlaceBatch(r.Context(), p.Username, orders)
	if err != nil {
		return BatchResponse{}, err
	}
	out := BatchResponse{Data: make([]BatchResult, 0, len(results))}
	for i, res := range results {
		typ := string(req.Orders[i].OrderType)
		if !req.Orders[i].OrderType.Valid() {
			typ = "unknown"
		}
		if res.Err != nil {
			s.count(typ, string(apperr.KindOf(res.Err)))
			out.Failed++
			// As the order alone would be answered; an internal error is logged.
			status, body := httpapi.ErrorAnswer(r, res.Err)
			out.Data = append(out.Data, BatchResult{Status: status, Error: body})
			continue
		}
		s.count(typ, "placed")
		resp := res.Placed.Order.Response()
		out.Succeeded++
		out.Data = append(out.Data, BatchResult{Status: http.StatusCreated, Data: &resp})
	}
	return out, nil
}
