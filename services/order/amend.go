package order

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/orderprocessor/orderprocessor/apperr"
	"github.com/orderprocessor/orderprocessor/auth"
	"github.com/orderprocessor/orderprocessor/entity"
	"github.com/orderprocessor/orderprocessor/httpapi"
	"github.com/orderprocessor/orderprocessor/services/handlerkit"
	"github.com/orderprocessor/orderprocessor/trading"
)

// Headers of an order's version.
const (
	// ETagHeader carries an order's version ("3") on GET and PATCH.
	ETagHeader = "ETag"
	// IfMatchHeader makes an amendment conditional on the order's version.
	IfMatchHeader = "If-Match"
)

var ifMatchDoc = httpapi.Header{Name: IfMatchHeader,
	Description: `The order's version as its ETag gave it ("3"): the amendment is refused (409) if the order has changed since. ` +
		"`*` or no header: no condition (expected_version in the body does the same as this header)."}

// etag returns the ETag of an order at version v.
func etag(v int64) string { return `"` + strconv.FormatInt(v, 10) + `"` }

// versionedOrder is an order's answer with its version as ETag.
type versionedOrder struct {
	env     OrderEnvelope
	version int64
}

// WriteResponse writes the envelope with the ETag (httpapi.Responder).
func (v *versionedOrder) WriteResponse(w http.ResponseWriter, _ *http.Request, status int) {
	w.Header().Set(ETagHeader, etag(v.version))
	httpapi.WriteJSON(w, status, v.env)
}

// amendedOrder is the answer of an amendment: the order with its ETag, or
// the stored replay of an earlier request with the same Idempotency-Key
// (without one).
type amendedOrder struct {
	handlerkit.Result[OrderEnvelope]
	version int64
}

// WriteResponse answers the replay, or the order with its ETag.
func (a *amendedOrder) WriteResponse(w http.ResponseWriter, r *http.Request, status int) {
	if a.Replay == nil {
		w.Header().Set(ETagHeader, etag(a.version))
	}
	a.Result.WriteResponse(w, r, status)
}

// amendIn is the input of PATCH /api/v1/orders/{order_id}.
type amendIn struct {
	OrderPath
	Body entity.OrderUpdate
}

// reverseIn is the input of POST /api/v1/admin/orders/{order_id}/reverse.
type reverseIn struct {
	OrderPath
	Body entity.ReversalRequest
}

// RefundResponse is the order_refund entry of a reversal.
type RefundResponse struct {
	TransactionID   string                   `json:"transaction_id"`
	TransactionType entity.TransactionType   `json:"transaction_type"`
	Amount          string                   `json:"amount" doc:"signed: positive for a buy's reversal, negative for a sale's"`
	Currency        entity.Currency          `json:"currency"`
	AssetID         string                   `json:"asset_id"`
	Quantity        string                   `json:"quantity"`
	Price           string                   `json:"price"`
	ReferenceID     string                   `json:"reference_id"`
	Reason          string                   `json:"reason"`
	CreatedBy       string                   `json:"created_by"`
	Status          entity.TransactionStatus `json:"status"`
	CreatedAt       entity.Time              `json:"created_at"`
}

// ReversalResponse is the body of a reversal: the order, with the reversal
// in its status history, and the refund entry.
type ReversalResponse struct {
	Order  entity.OrderResponse `json:"order"`
	Refund RefundResponse       `json:"refund"`
}

func (s *Service) registerAmend(api *httpapi.API) {
	httpapi.Handle(api, httpapi.Op{Method: "PATCH", Path: "/api/v1/orders/{order_id}", OperationID: "amendOrder",
		Summary: "Amend a resting order", Tags: []string{"orders"}, Auth: httpapi.AuthUser,
		Description: "Changes the quantity, limit, stop or trail, time in force or expiry of a `queued` order in one " +
			"transaction conditional on its version; its hold moves by the difference (more held needs available funds: " +
			"422 `insufficient_funds`). The status history records the amendment. An executed, cancelled or expired order, " +
			"or a version other than `If-Match` or `expected_version` names, is 409; a change that does not apply to the " +
			"order's type, or that makes it marketable at the current price, is 422 with the field. A change of quantity of " +
			"one leg of an OCO pair applies to both. The answer's ETag is the new version.",
		Headers:  []httpapi.Header{ifMatchDoc, handlerkit.IdempotencyDoc},
		Response: OrderEnvelope{}, Errors: []int{404, 409}}, handlerkit.WithCaller(s.amend))
	httpapi.Handle(api, httpapi.Op{Method: "POST", Path: "/api/v1/admin/orders/{order_id}/reverse", OperationID: "reverseOrder",
		Summary: "Reverse an executed order (admin)", Tags: []string{"admin"}, Auth: httpapi.AuthAdmin,
		Description: "In one transaction: a buy's payment comes back and its quantity leaves the holding; a sale's proceeds " +
			"leave the cash balance and its quantity comes back; one `order_refund` entry carries the asset leg and the admin. " +
			"The order stays `completed`, with the reversal in its status history. A second reversal, or an order that is not " +
			"completed, is 409; a reversal that would take more than the available holding or cash is 422 `insufficient_funds`.",
		Headers:  []httpapi.Header{handlerkit.IdempotencyDoc},
		Response: ReversalResponse{}, Status: http.StatusCreated, Errors: []int{404, 409}}, handlerkit.WithCaller(s.reverse))
}

// amend amends an order of the caller. If-Match, when given, is the
// expected version (expected_version in the body, when also given, must
// name the same).
func (s *Service) amend(r *http.Request, p auth.Principal, in *amendIn) (*amendedOrder, error) {
	u := in.Body
	if m := strings.TrimSpace(r.Header.Get(IfMatchHeader)); m != "" && m != "*" {
		v, err := strconv.ParseInt(strings.Trim(strings.TrimPrefix(m, "W/"), `"`), 10, 64)
		if err != nil || v < 1 {
			return nil, &apperr.Error{Kind: apperr.Invalid, Message: "If-Match: not an order version",
				Fields: []apperr.FieldError{{Loc: []string{"header", IfMatchHeader}, Msg: `must be an order's ETag ("3")`, Type: entity.TypeValue}}}
		}
		if u.ExpectedVersion != nil && *u.ExpectedVersion != v {
			return nil, apperr.Field("expected_version", "differs from If-Match", entity.TypeValue)
		}
		u.ExpectedVersion = &v
	}
	idem, err := handlerkit.Idempotency(r, u, http.StatusOK,
		func(v any) any { return OrderEnvelope{Data: v.(*entity.Order).Response()} })
	if err != nil {
		return nil, err
	}
	o, rep, err := s.trade.AmendOrder(r.Context(), p.Username, string(in.OrderID), u, s.trade.Idem(p.Username, "amend", idem))
	switch {
	case err != nil:
		return nil, err
	case rep != nil:
		return &amendedOrder{Result: handlerkit.Result[OrderEnvelope]{Replay: rep}}, nil
	}
	return &amendedOrder{Result: handlerkit.Result[OrderEnvelope]{Body: OrderEnvelope{Data: o.Response()}}, version: o.Version}, nil
}

// reverse reverses an executed order on behalf of the admin caller.
func (s *Service) reverse(r *http.Request, p auth.Principal, in *reverseIn) (*handlerkit.Result[ReversalResponse], error) {
	req := in.Body
	if err := req.Validate(); err != nil {
		return nil, err
	}
	idem, err := handlerkit.Idempotency(r, req, http.StatusCreated,
		func(v any) any { return reversalResponse(v.(*trading.Reversal), req.Reason) })
	if err != nil {
		return nil, err
	}
	rev, rep, err := s.trade.ReverseOrder(r.Context(), p.Username, string(in.OrderID), req, s.trade.Idem(p.Username, "reverse", idem))
	switch {
	case err != nil:
		return nil, err
	case rep != nil:
		return handlerkit.Replayed[ReversalResponse](rep), nil
	}
	return &handlerkit.Result[ReversalResponse]{Body: reversalResponse(rev, req.Reason)}, nil
}

func reversalResponse(rev *trading.Reversal, reason string) ReversalResponse {
	t := rev.Entry
	return ReversalResponse{Order: rev.Order.Response(), Refund: RefundResponse{
		TransactionID: t.TransactionID, TransactionType: t.TransactionType, Amount: t.Currency.Format(t.Amount),
		Currency: t.Currency, AssetID: t.Asset.AssetID, Quantity: t.Asset.Quantity.String(),
		Price: entity.FormatPrice(t.Asset.Price), ReferenceID: t.ReferenceID, Reason: reason, CreatedBy: t.CreatedBy,
		Status: t.Status, CreatedAt: t.CreatedAt,
	}}
}
